"""Headless Chromium renders the running UI: the asset catalog and the asset graph.

Skips when Chromium is not installed, unless CALLAUDIT_REQUIRE_BROWSER=1 (then fails).
The screenshot stays in the test's tmp folder: the README's screenshots are of the demo
instance and come from scripts/screenshots.py, never from a test instance.
"""

import os
import subprocess
from pathlib import Path

import pytest

from tests.e2e.chromium import asset_groups_url, find_chromium, run_chromium

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


def _chromium() -> str:
    path = find_chromium()
    if path:
        return path
    if os.environ.get("CALLAUDIT_REQUIRE_BROWSER") == "1":
        pytest.fail("Chromium is required (CALLAUDIT_REQUIRE_BROWSER=1) but not installed")
    pytest.skip("Chromium is not installed (apt-get install -y chromium)")


def _run_chromium(url: str, profile: Path, *action: str) -> subprocess.CompletedProcess:
    return run_chromium(_chromium(), url, profile, *action)


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
    url = asset_groups_url(dagster_ui.url, GROUPS)
    png = folder / "asset-graph.png"
    shot = _run_chromium(url, profile, f"--screenshot={png}")
    assert png.exists(), shot.stderr[-2000:]
    return dom, png


def test_the_ui_lists_every_asset_by_name(graph_page):
    dom, _ = graph_page
    assert _missing_names(dom) == []


def test_a_screenshot_of_the_asset_graph_is_saved(graph_page):
    _, png = graph_page
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert png.stat().st_size > 20_000  # a blank page compresses to a few kB
