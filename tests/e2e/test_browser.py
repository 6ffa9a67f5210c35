"""Headless Chromium renders the running UI: the asset catalog and the asset graph.

Skips when Chromium is not installed, unless CALLAUDIT_REQUIRE_BROWSER=1 (then fails).
The screenshot is kept in the test's tmp folder and copied to docs/screenshots/.
"""

import os
import shutil
import subprocess
import urllib.parse
from pathlib import Path

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.e2e

ASSET_NAMES = (
    "raw_call_logs",
    "partner_contracts",
    "usage_daily",
    "partner_daily",
    "ingest_daily",
    "anomaly_flags",
)
GROUPS = ("ingest", "usage", "flags", "report")
SCREENSHOT = REPO / "docs" / "screenshots" / "asset-graph.png"


def _chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    if os.environ.get("CALLAUDIT_REQUIRE_BROWSER") == "1":
        pytest.fail("Chromium is required (CALLAUDIT_REQUIRE_BROWSER=1) but not installed")
    pytest.skip("Chromium is not installed (apt-get install -y chromium)")


def _run_chromium(url: str, profile: Path, *action: str) -> subprocess.CompletedProcess:
    command = [
        _chromium(),
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
        "--window-size=2400,1400",  # wide enough for full asset nodes
        "--virtual-time-budget=15000",
        *action,
        url,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=90, check=False)


def _missing_names(dom: str) -> list[str]:
    return [name for name in ASSET_NAMES if name not in dom]


@pytest.fixture(scope="module")
def graph_page(dagster_ui, backfill, tmp_path_factory) -> tuple[str, Path]:
    """The rendered asset catalog (every asset listed) and a screenshot of the asset
    graph, after the backfill."""
    folder = tmp_path_factory.mktemp("browser")
    profile = folder / "profile"
    # The graph only renders the nodes in view, so the names are read from the catalog.
    # A cold browser profile may stop before the page's queries answer: try again warm.
    for _ in range(3):
        dom = _run_chromium(f"{dagster_ui.url}/assets", profile, "--dump-dom").stdout
        if not _missing_names(dom):
            break
    # Groups are collapsed unless listed in `expanded`, as the UI's own links do.
    expanded = ",".join(f"global@global:{group}" for group in GROUPS)
    url = f"{dagster_ui.url}/asset-groups?{urllib.parse.urlencode({'expanded': expanded})}"
    png = folder / "asset-graph.png"
    shot = _run_chromium(url, profile, f"--screenshot={png}")
    assert png.exists(), shot.stderr[-2000:]
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(png, SCREENSHOT)
    return dom, png


def test_the_ui_lists_every_asset_by_name(graph_page):
    dom, _ = graph_page
    assert _missing_names(dom) == []


def test_a_screenshot_of_the_asset_graph_is_saved(graph_page):
    _, png = graph_page
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert png.stat().st_size > 20_000  # a blank page compresses to a few kB
