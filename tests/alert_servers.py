"""A real webhook receiver (http.server) and a real SMTP server (aiosmtpd) on 127.0.0.1,
each a process the test starts and stops by PID."""

import json
import mailbox
import socket
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.services import free_port, running, wait_for_http


def wait_for_port(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


@dataclass
class WebhookServer:
    port: int
    out: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/T0KEN-secret"

    @contextmanager
    def serving(self) -> Iterator[None]:
        module = "tests.alerts.webhook_receiver"
        command = [sys.executable, "-m", module, str(self.port), str(self.out)]
        with running(command, cwd=Path(__file__).parents[1]) as process:
            wait_for_http(f"http://127.0.0.1:{self.port}/", process=process)
            yield

    def received(self) -> list[dict]:
        if not self.out.exists():
            return []
        return [json.loads(line) for line in self.out.read_text().splitlines()]


@dataclass
class SmtpServer:
    port: int
    maildir: Path

    @contextmanager
    def serving(self) -> Iterator[None]:
        command = [
            sys.executable, "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{self.port}",
            "-c", "aiosmtpd.handlers.Mailbox", str(self.maildir),
        ]  # fmt: skip
        with running(command):
            wait_for_port(self.port)
            yield

    def received(self) -> list:
        if not self.maildir.exists():
            return []
        return sorted(mailbox.Maildir(self.maildir, create=False), key=lambda m: m["Subject"])


@pytest.fixture
def webhook(tmp_path) -> WebhookServer:
    """A webhook receiver, not started: ``with webhook.serving(): ...``."""
    return WebhookServer(free_port(), tmp_path / "webhook.jsonl")


@pytest.fixture
def smtp(tmp_path) -> SmtpServer:
    """An SMTP server, not started: ``with smtp.serving(): ...``."""
    return SmtpServer(free_port(), tmp_path / "maildir")
