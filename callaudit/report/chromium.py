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


def run_chromium(args: list[str], *, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run headless Chromium with a throw-away profile; raises if it fails."""
    binary = find_chromium()
    if binary is None:
        raise FileNotFoundError("chromium is not installed (apt-get install chromium)")
    with tempfile.TemporaryDirectory(prefix="callaudit-chromium-") as profile:
        command = [binary, *QUIET_FLAGS, f"--user-data-dir={profile}", *args]
        return subprocess.run(command, capture_output=True, timeout=timeout, check=True, text=True)


def html_to_pdf(html_path: Path, pdf_path: Path) -> None:
    """Print a local HTML file to PDF (A4, page size from the report's print CSS)."""
    run_chromium(
        [
            f"--print-to-pdf={pdf_path}",
            "--no-pdf-header-footer",
            "--generate-pdf-document-outline",
            "--run-all-compositor-stages-before-draw",
            html_path.resolve().as_uri(),
        ]
    )
    if not pdf_path.exists() or pdf_path.stat().st_size == 0:
        raise RuntimeError(f"chromium wrote no PDF for {html_path}")


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
