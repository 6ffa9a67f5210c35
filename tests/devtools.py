"""A minimal Chrome DevTools Protocol session over a local websocket (stdlib only).

Used to look at a rendered report the way a reader's browser does: which requests the
page makes (the report must make none) and screenshots of any part of a long page
(``--screenshot`` only captures the window). Only what that needs is implemented:
one page target, text frames, no compression.
"""

import base64
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

from callaudit.report.chromium import QUIET_FLAGS, find_chromium

_LISTENING = re.compile(r"DevTools listening on (ws://\S+)")


class DevToolsError(RuntimeError):
    pass


class _Socket:
    """Client side of RFC 6455 for text frames."""

    def __init__(self, url: str, timeout: float) -> None:
        match = re.match(r"ws://([^:/]+):(\d+)(/.*)", url)
        if not match:
            raise DevToolsError(f"not a ws:// url: {url}")
        host, port, path = match.group(1), int(match.group(2)), match.group(3)
        self.sock = socket.create_connection((host, port), timeout=timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(
            (
                f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                "Sec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )
        response = b""
        while b"\r\n\r\n" not in response:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise DevToolsError("websocket handshake failed")
            response += chunk
        if b" 101 " not in response.split(b"\r\n", 1)[0]:
            raise DevToolsError(f"websocket handshake refused: {response[:80]!r}")
        self.buffer = response.split(b"\r\n\r\n", 1)[1]

    def _read(self, n: int) -> bytes:
        while len(self.buffer) < n:
            chunk = self.sock.recv(max(65536, n - len(self.buffer)))
            if not chunk:
                raise DevToolsError("websocket closed")
            self.buffer += chunk
        data, self.buffer = self.buffer[:n], self.buffer[n:]
        return data

    def send(self, text: str) -> None:
        payload = text.encode()
        header = bytes([0x81])
        length = len(payload)
        if length < 126:
            header += bytes([0x80 | length])
        elif length < 1 << 16:
            header += bytes([0x80 | 126]) + struct.pack(">H", length)
        else:
            header += bytes([0x80 | 127]) + struct.pack(">Q", length)
        mask = os.urandom(4)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.sock.sendall(header + mask + masked)

    def receive(self) -> str:
        message = b""
        while True:
            first, second = self._read(2)
            length = second & 0x7F
            if length == 126:
                length = struct.unpack(">H", self._read(2))[0]
            elif length == 127:
                length = struct.unpack(">Q", self._read(8))[0]
            payload = self._read(length)
            opcode = first & 0x0F
            if opcode == 0x8:
                raise DevToolsError("websocket closed by chromium")
            if opcode in (0x1, 0x2, 0x0):
                message += payload
                if first & 0x80:
                    return message.decode()

    def close(self) -> None:
        self.sock.close()


class Page:
    """One headless Chromium with one page; use as a context manager."""

    def __init__(self, *, width: int = 1100, height: int = 1400, timeout: float = 60) -> None:
        binary = find_chromium()
        if binary is None:
            raise FileNotFoundError("chromium is not installed (apt-get install chromium)")
        self.timeout = timeout
        self.profile = tempfile.TemporaryDirectory(prefix="callaudit-devtools-")
        self.process = subprocess.Popen(
            [
                binary,
                *QUIET_FLAGS,
                f"--user-data-dir={self.profile.name}",
                "--remote-debugging-port=0",
                "--remote-debugging-address=127.0.0.1",
                f"--window-size={width},{height}",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,  # its helpers (renderer, crashpad) are stopped with it
        )
        self.events: list[dict] = []
        self._next_id = 0
        try:
            browser_url = self._wait_for_endpoint()
            port = re.match(r"ws://[^:]+:(\d+)/", browser_url).group(1)
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as r:
                targets = json.load(r)
            page = next(t for t in targets if t.get("type") == "page")
            self.ws = _Socket(page["webSocketDebuggerUrl"], timeout)
        except Exception:
            self.close()
            raise

    def _wait_for_endpoint(self) -> str:
        deadline = time.monotonic() + self.timeout
        assert self.process.stderr is not None
        while time.monotonic() < deadline:
            line = self.process.stderr.readline()
            if not line and self.process.poll() is not None:
                raise DevToolsError("chromium exited before opening the DevTools port")
            match = _LISTENING.search(line)
            if match:
                return match.group(1)
        raise DevToolsError("chromium did not open the DevTools port in time")

    def call(self, method: str, **params: object) -> dict:
        """Send a command and wait for its result; events seen meanwhile are kept."""
        self._next_id += 1
        ident = self._next_id
        self.ws.send(json.dumps({"id": ident, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.receive())
            if message.get("id") == ident:
                if "error" in message:
                    raise DevToolsError(f"{method}: {message['error']}")
                return message.get("result", {})
            if "method" in message:
                self.events.append(message)

    def wait_for(self, event: str) -> dict:
        for seen in self.events:
            if seen["method"] == event:
                return seen
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            message = json.loads(self.ws.receive())
            if "method" in message:
                self.events.append(message)
                if message["method"] == event:
                    return message
        raise DevToolsError(f"no {event} within {self.timeout}s")

    def open(self, path: Path) -> None:
        """Load a local file with network and page events recorded; wait until loaded."""
        self.call("Network.enable")
        self.call("Page.enable")
        self.call("Page.navigate", url=path.resolve().as_uri())
        self.wait_for("Page.loadEventFired")

    def requests(self) -> list[str]:
        """URLs of every request the page made, the document itself included."""
        return [
            e["params"]["request"]["url"]
            for e in self.events
            if e["method"] == "Network.requestWillBeSent"
        ]

    def page_height(self) -> int:
        metrics = self.call("Page.getLayoutMetrics")
        size = metrics.get("cssContentSize") or metrics["contentSize"]
        return int(size["height"])

    def screenshot(self, png: Path, *, top: int = 0, height: int = 3000, width: int = 1100) -> None:
        """PNG of the page from ``top`` (CSS pixels), ``height`` tall."""
        self.call(
            "Emulation.setDeviceMetricsOverride",
            width=width,
            height=1400,
            deviceScaleFactor=1,
            mobile=False,
        )
        result = self.call(
            "Page.captureScreenshot",
            format="png",
            captureBeyondViewport=True,
            clip={"x": 0, "y": top, "width": width, "height": height, "scale": 1},
        )
        png.write_bytes(base64.b64decode(result["data"]))

    def element_top(self, element_id: str) -> int:
        result = self.call(
            "Runtime.evaluate",
            expression=f"(document.getElementById({json.dumps(element_id)}) || {{}}).offsetTop",
            returnByValue=True,
        )
        value = result.get("result", {}).get("value")
        if value is None:
            raise DevToolsError(f"no element with id {element_id!r}")
        return int(value)

    def close(self) -> None:
        ws = getattr(self, "ws", None)
        if ws is not None:
            ws.close()
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        # Helpers outlive the browser process briefly and may still write to the profile.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        if self.process.stderr is not None:
            self.process.stderr.close()
        shutil.rmtree(self.profile.name, ignore_errors=True)

    def __enter__(self) -> "Page":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
