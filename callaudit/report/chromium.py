"""Headless Chromium, when installed: the PDF rendering and the report screenshots.

Chromium is optional at run time (no PDF without it); CI installs it (Debian package
``chromium``) so the rendering tests run. The flags keep it from touching the network
on its own (no component updates, sync or QUIC probes) and work as root in containers.
"""

import shutil
import subprocess
import tempfile
from pathlib import Path

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


class Running:
    """A Chromium started and not yet waited for, so the caller can do other work (the
    report's other files, its checks) while it prints. Its output goes to a file, not a
    pipe: nobody reads it meanwhile, and a full pipe would stall Chromium."""

    def __init__(self, args: list[str], *, timeout: float = 120) -> None:
        global launched
        binary = find_chromium()
        if binary is None:
            raise FileNotFoundError("chromium is not installed (apt-get install chromium)")
        self.timeout = timeout
        self._profile = tempfile.TemporaryDirectory(
            prefix="callaudit-chromium-", ignore_cleanup_errors=True
        )
        self._output = tempfile.TemporaryFile()  # noqa: SIM115 (closed by wait or stop)
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


def start_pdf(html_path: Path, pdf_path: Path) -> Running:
    """Start printing a local HTML file to PDF (A4, page size from the report's print
    CSS); :func:`finish_pdf` waits for it."""
    return Running(
        [
            f"--print-to-pdf={pdf_path}",
            "--no-pdf-header-footer",
            "--generate-pdf-document-outline",
            "--run-all-compositor-stages-before-draw",
            html_path.resolve().as_uri(),
        ]
    )


def finish_pdf(running: Running, pdf_path: Path) -> bytes:
    """Wait for a print started by :func:`start_pdf`; the PDF it wrote."""
    running.wait()
    if not pdf_path.exists() or pdf_path.stat().st_size == 0:
        raise RuntimeError(f"chromium wrote no PDF at {pdf_path}")
    return pdf_path.read_bytes()


def html_to_pdf(html_path: Path, pdf_path: Path) -> None:
    """Print a local HTML file to PDF (A4, page size from the report's print CSS)."""
    with start_pdf(html_path, pdf_path) as running:
        finish_pdf(running, pdf_path)


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
