"""Headless Chromium pointed at the running Dagster UI: a DOM dump or a screenshot.

Shared by the browser tests and ``scripts/screenshots.py`` (the README's pictures of the
demo instance), so both look at the UI the same way.
"""

import shutil
import subprocess
from pathlib import Path

#: Wide enough for full asset nodes of the expanded graph.
WINDOW = (2400, 1400)


def find_chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def run_chromium(
    binary: str, url: str, profile: Path, *action: str, window: tuple[int, int] = WINDOW
) -> subprocess.CompletedProcess:
    """Load ``url`` in a headless Chromium with its own ``profile`` and do ``action``
    (``--dump-dom`` or ``--screenshot=PATH``), giving the page 15 s to answer its queries."""
    command = [
        binary,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        f"--user-data-dir={profile}",
        f"--window-size={window[0]},{window[1]}",
        "--virtual-time-budget=15000",
        *action,
        url,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=90, check=False)


def asset_groups_url(base_url: str, expanded: tuple[str, ...] = ()) -> str:
    """The asset graph page; groups are collapsed unless listed, as the UI's links do."""
    import urllib.parse

    if not expanded:
        return f"{base_url}/asset-groups"
    groups = ",".join(f"global@global:{group}" for group in expanded)
    return f"{base_url}/asset-groups?{urllib.parse.urlencode({'expanded': groups})}"
