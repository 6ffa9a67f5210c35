"""Headless Chromium, when installed: the PDF rendering and the report screenshots.

Chromium is optional at run time (no PDF without it); CI installs it (Debian package
``chromium``) so the rendering tests run. The flags keep it from touching the network
on its own (no component updates, sync or QUIC probes) and work as root in containers.
"""

import base64
import contextlib
import fcntl
import json
import os
import select
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO

from callaudit.report.pdf import number_structure_ids
from callaudit.settings import read_setting

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")

QUIET_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--hide-scrollbars",
    "--mute-audio",
)


def find_chromium() -> str | None:
    """Path of a Chromium binary (CALLAUDIT_CHROMIUM overrides), or None."""
    override = read_setting("chromium")
    if override:
        return override if Path(override).exists() else None
    for name in CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return None


#: Chromium processes started by this process (a real count, read by the tests that
#: check how many prints a report takes).
launched = 0


def _scratch() -> tuple[str, tempfile.TemporaryDirectory, IO[bytes]]:
    """The Chromium binary, a throw-away profile and a file for its output (a file, not
    a pipe: nobody reads it while Chromium runs, and a full pipe would stall it)."""
    binary = find_chromium()
    if binary is None:
        raise FileNotFoundError("chromium is not installed (apt-get install chromium)")
    profile = tempfile.TemporaryDirectory(prefix="callaudit-chromium-", ignore_cleanup_errors=True)
    return binary, profile, tempfile.TemporaryFile()


class Running:
    """A Chromium run with command-line switches (a screenshot), waited for with a
    timeout."""

    def __init__(self, args: list[str], *, timeout: float = 120) -> None:
        global launched
        binary, self._profile, self._output = _scratch()
        self.timeout = timeout
        self.command = [binary, *QUIET_FLAGS, f"--user-data-dir={self._profile.name}", *args]
        try:
            self._process = subprocess.Popen(
                self.command, stdin=subprocess.DEVNULL, stdout=self._output, stderr=self._output
            )
        except BaseException:
            self._close()
            raise
        launched += 1

    def wait(self) -> subprocess.CompletedProcess:
        """Wait for Chromium to exit (killed after ``timeout`` seconds from now); raises
        CalledProcessError, with its output, if it failed."""
        try:
            code = self._process.wait(timeout=self.timeout)
        except BaseException:
            self.stop()
            raise
        self._output.seek(0)
        output = self._output.read().decode("utf-8", "replace")
        self._close()
        if code:
            raise subprocess.CalledProcessError(code, self.command, output, output)
        return subprocess.CompletedProcess(self.command, code, output, output)

    def stop(self) -> None:
        """Kill Chromium if it still runs (the report was refused meanwhile) and clean up."""
        if self._process.poll() is None:
            self._process.kill()
            self._process.wait()
        self._close()

    def _close(self) -> None:
        self._output.close()
        self._profile.cleanup()

    def __enter__(self) -> "Running":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def run_chromium(args: list[str], *, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run headless Chromium with a throw-away profile; raises if it fails."""
    with Running(args, timeout=timeout) as running:
        return running.wait()


#: Prints started by this process (a real count, read by the tests that check how many
#: prints a report takes and when).
prints = 0

#: Page.printToPDF with what ``--print-to-pdf --no-pdf-header-footer
#: --generate-pdf-document-outline`` asks for (headless Chromium's command handler): the
#: PDF is the same but for the print's date (tests/report/test_pdf_passes.py).
PRINT_TO_PDF = {
    "printBackground": True,
    "preferCSSPageSize": True,
    "displayHeaderFooter": False,
    "generateDocumentOutline": True,
}

#: The same print untagged (no structure tree for screen readers): the same pages and
#: page destinations, for a print that only finds on which page each part lands and is
#: never published. A 0.01 year's report (55 pages): 0.81 s instead of 1.23-1.40 s
#: tagged, 425 KB instead of 2.5 MB (2026-11-29).
FIND_PAGES = {**PRINT_TO_PDF, "generateTaggedPDF": False}

#: Prints started untagged (FIND_PAGES) by this process, of ``prints``.
untagged_prints = 0


def _high(fd: int) -> int:
    """``fd`` moved to a number of 10 or more, so placing the pair on fds 3 and 4 cannot
    overwrite one with the other."""
    moved = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10)
    os.close(fd)
    return moved


class Printer:
    """A headless Chromium that prints one local HTML file to PDF over the DevTools
    protocol on a pipe (``--remote-debugging-pipe``: fd 3 in, fd 4 out, messages ended
    by NUL), started before there is anything to print.

    Chromium takes 0.5 s to start on a quiet machine and 1-2 s on a busy one; started
    when the report's inputs are first read, that happens while the figures are
    computed instead of after them. Every print is made in one tab, so in one renderer
    (a renderer of its own for the page-finding print cost ~1.1 CPU-s more a report,
    2026-11-29). Chromium names a tagged PDF's structure elements after its renderer's
    DOM node counter, so a page printed after another in the same renderer (or now and
    then in a fresh one) gets other names for the same elements: a tagged print's names
    are numbered (:func:`~callaudit.report.pdf.number_structure_ids`), which makes it a
    function of the page alone, the same as ``--print-to-pdf``'s numbered (a CI run once
    found a tagged print that differed from a fresh Chromium's in bytes of the same
    length, as these names do). Any number of prints of either kind, in any order: a
    report's page-finding and published prints need one Chromium. :meth:`start` prints
    in a thread, so the caller does other work meanwhile; :meth:`finish` waits for the
    PDF. A print has ``timeout`` seconds; :meth:`close` (or leaving the ``with`` block)
    stops Chromium by its process group on every path."""

    def __init__(self, *, timeout: float = 120) -> None:
        global launched
        binary, self._profile, self._output = _scratch()
        self.timeout = timeout
        to_chromium, self._commands = os.pipe()
        self._replies, from_chromium = os.pipe()
        to_chromium, from_chromium = _high(to_chromium), _high(from_chromium)
        self.command = [binary, *QUIET_FLAGS, f"--user-data-dir={self._profile.name}"]
        self.command += ["--remote-debugging-pipe", "--run-all-compositor-stages-before-draw"]
        try:
            with open(os.devnull, "rb") as devnull:
                # posix_spawn, not Popen: the pipe must be on fds 3 and 4 of the child,
                # and only spawn's file actions place it there without running Python
                # between fork and exec (unsafe in a threaded process).
                self.pid = os.posix_spawn(
                    binary,
                    self.command,
                    os.environ,
                    file_actions=[
                        (os.POSIX_SPAWN_DUP2, devnull.fileno(), 0),
                        (os.POSIX_SPAWN_DUP2, self._output.fileno(), 1),
                        (os.POSIX_SPAWN_DUP2, self._output.fileno(), 2),
                        (os.POSIX_SPAWN_DUP2, to_chromium, 3),
                        (os.POSIX_SPAWN_DUP2, from_chromium, 4),
                    ],
                    setsid=True,  # its helpers (zygote, renderer) are stopped with it
                )
        except BaseException:
            self._close_files()
            raise
        finally:
            os.close(to_chromium)
            os.close(from_chromium)
        self._running = True
        launched += 1
        self._buffer = b""
        self._next_id = 0
        self._session: str | None = None
        self._job: threading.Thread | None = None
        self._result: bytes | BaseException | None = None
        self._reaper: threading.Thread | None = None

    def start(self, html_path: Path, *, tagged: bool = True) -> None:
        """Start printing ``html_path``; :meth:`finish` returns the PDF. ``tagged=False``
        prints it without the structure tree (:data:`FIND_PAGES`): quicker, for a print
        that only finds the pages."""
        global prints, untagged_prints
        if not self._running:
            raise RuntimeError(f"this Chromium (pid {self.pid}) was stopped")
        if self._job is not None:
            raise RuntimeError("a print is under way: finish() it first")
        prints += 1
        untagged_prints += not tagged
        url = html_path.resolve().as_uri()
        params = PRINT_TO_PDF if tagged else FIND_PAGES
        self._job = threading.Thread(target=self._print, args=(url, params), daemon=True)
        self._job.start()

    def finish(self) -> bytes:
        """The PDF of the print :meth:`start` began; raises what it failed with."""
        if self._job is None:
            raise RuntimeError("no print was started")
        self._job.join()
        self._job, result, self._result = None, self._result, None
        if isinstance(result, BaseException):
            self.close()
            raise result
        return result

    def print_pdf(self, html_path: Path, *, tagged: bool = True) -> bytes:
        """Print ``html_path`` and wait for the PDF."""
        self.start(html_path, tagged=tagged)
        return self.finish()

    def close(self) -> None:
        """Stop Chromium: its whole process group is killed now; its exit is awaited
        and its profile removed in a thread (0.05-0.5 s on a busy machine, which the
        report need not wait for; :meth:`wait_closed` does)."""
        if self._running:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pid, signal.SIGKILL)
            self._running = False
            # Not a daemon: an interpreter that exits meanwhile still reaps and cleans up.
            self._reaper = threading.Thread(target=self._reap, daemon=False)
            self._reaper.start()

    def wait_closed(self) -> None:
        """Wait until the stopped Chromium has exited and its profile is removed."""
        if self._reaper is not None:
            self._reaper.join()

    def _reap(self) -> None:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(self.pid, 0)
        if self._job is not None:  # a print still under way ends on the closed pipe
            self._job.join()
        self._close_files()

    def __enter__(self) -> "Printer":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _print(self, url: str, params: dict) -> None:
        try:
            deadline = time.monotonic() + self.timeout
            if self._session is None:
                self._open_tab(deadline)
            # Events before the navigation's reply belong to the page before it.
            self._call("Page.navigate", {"url": url}, deadline)
            self._wait_for("Page.loadEventFired", deadline)
            printed = base64.b64decode(self._call("Page.printToPDF", params, deadline)["data"])
            tagged = params.get("generateTaggedPDF") is not False
            self._result = number_structure_ids(printed) if tagged else printed
        except BaseException as exc:  # handed to finish()
            self._result = exc

    def _open_tab(self, deadline: float) -> None:
        """Open the tab every print of this Chromium is made in, and attach to it."""
        target = self._call("Target.createTarget", {"url": "about:blank"}, deadline)
        attached = self._call(
            "Target.attachToTarget", {"targetId": target["targetId"], "flatten": True}, deadline
        )
        self._session = attached["sessionId"]
        self._call("Page.enable", {}, deadline)
        # The blank page is evaluated first, so its renderer is the one the pages are
        # navigated in, as with --print-to-pdf.
        self._call("Runtime.evaluate", {"expression": "document.readyState"}, deadline)

    def _call(self, method: str, params: dict, deadline: float) -> dict:
        sent = self._send(method, params)
        reply = self._receive(lambda m: m.get("id") == sent, method, deadline)
        if "error" in reply:
            raise self._failure(f"{method} failed: {reply['error']}")
        return reply.get("result", {})

    def _send(self, method: str, params: dict) -> int:
        """Send a command; returns its id (its reply is the message with that id)."""
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params}
        if self._session and not method.startswith("Target."):
            message["sessionId"] = self._session
        data = json.dumps(message).encode() + b"\0"
        try:
            while data:
                data = data[os.write(self._commands, data) :]
        except OSError as exc:
            raise self._failure(f"could not send {method} ({exc})") from None
        return self._next_id

    def _wait_for(self, event: str, deadline: float) -> dict:
        return self._receive(lambda m: m.get("method") == event, event, deadline)

    def _receive(self, wanted: Callable[[dict], bool], what: str, deadline: float) -> dict:
        while True:
            while b"\0" in self._buffer:
                raw, self._buffer = self._buffer.split(b"\0", 1)
                message = json.loads(raw)
                if wanted(message):
                    return message
            left = deadline - time.monotonic()
            ready = select.select([self._replies], [], [], max(left, 0))[0] if left > 0 else []
            if not ready:
                raise self._failure(f"no {what} within {self.timeout:.0f} s", TimeoutError)
            chunk = os.read(self._replies, 1 << 20)
            if not chunk:
                raise self._failure(f"chromium exited before {what}")
            self._buffer += chunk

    def _failure(self, message: str, kind: type[Exception] = RuntimeError) -> Exception:
        self._output.flush()
        self._output.seek(0)
        output = self._output.read().decode("utf-8", "replace").strip()
        return kind(f"{message} (pid {self.pid})" + (f": {output[-2000:]}" if output else ""))

    def _close_files(self) -> None:
        for fd in (self._commands, self._replies):
            with contextlib.suppress(OSError):
                os.close(fd)
        self._commands = self._replies = -1
        self._output.close()
        self._profile.cleanup()


def html_to_pdf(html_path: Path, pdf_path: Path) -> None:
    """Print a local HTML file to PDF (A4, page size from the report's print CSS)."""
    with Printer() as printer:
        pdf_path.write_bytes(printer.print_pdf(html_path))


def screenshot(
    html_path: Path, png_path: Path, *, width: int = 1100, height: int = 4000, anchor: str = ""
) -> None:
    """A PNG of ``height`` pixels of the page at ``width`` CSS pixels, from the top or
    from the element with id ``anchor``."""
    url = html_path.resolve().as_uri() + (f"#{anchor}" if anchor else "")
    run_chromium(
        [
            f"--screenshot={png_path}",
            f"--window-size={width},{height}",
            "--run-all-compositor-stages-before-draw",
            url,
        ]
    )
