"""Regenerate the README's screenshots from the demo instance (run scripts/demo.sh first).

    .venv/bin/python scripts/screenshots.py [--out docs/screenshots] [--port N]

Starts `callaudit dev` on the demo's instance (./dagster_home, data/ from the defaults;
the partitions are the archive's 365 days of 2022), waits for the code location, renders
the asset graph (groups collapsed, then expanded) in headless Chromium, stops the server
by its process id, and renders the opening findings of data/reports/2022/report.html.
Tests never write these files: they keep their screenshots in their tmp folders.
Needs a checkout (it uses the tests' helpers) and Chromium.
"""

import argparse
import os
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.devtools import Page  # noqa: E402
from tests.e2e.chromium import asset_groups_url, find_chromium, run_chromium  # noqa: E402
from tests.e2e.graphql import code_location_loaded, wait_until  # noqa: E402
from tests.services import free_port, running, wait_for_http  # noqa: E402

GROUPS = ("ingest", "usage", "flags", "report")
REPORT = REPO / "data" / "reports" / "2022" / "report.html"


def _shoot(binary: str, url: str, png: Path, profile: Path, window: tuple[int, int]) -> None:
    # A cold profile may stop before the page's queries answer: the first load warms it.
    run_chromium(binary, url, profile, "--dump-dom", window=window)
    done = run_chromium(binary, url, profile, f"--screenshot={png}", window=window)
    if not png.exists() or png.stat().st_size < 20_000:
        raise SystemExit(f"screenshots: no picture of {url}: {done.stderr[-500:]}")
    print(f"{png}: {url}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "screenshots")
    parser.add_argument("--port", type=int, default=0, help="default: a free port")
    args = parser.parse_args()
    binary = find_chromium()
    if binary is None:
        print("screenshots: Chromium is not installed", file=sys.stderr)
        return 1
    if not (REPO / "data" / "warehouse").is_dir() or not REPORT.exists():
        print("screenshots: no demo instance here: run scripts/demo.sh first", file=sys.stderr)
        return 1
    args.out.mkdir(parents=True, exist_ok=True)
    port = args.port or free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        "GX_ANALYTICS_ENABLED": "false",
        "DAGSTER_DISABLE_TELEMETRY": "1",
        **{k: v for k, v in os.environ.items() if k.startswith("CALLAUDIT_")},
    }
    command = [str(REPO / ".venv" / "bin" / "callaudit"), "dev", "--port", str(port)]
    with tempfile.TemporaryDirectory(prefix="screenshots-") as scratch:
        scratch = Path(scratch)
        log = scratch / "dagster_dev.log"
        with running(command, env=env, log_path=log, cwd=REPO) as process:
            try:
                wait_for_http(f"{url}/server_info", timeout=120, process=process)
                wait_until(lambda: code_location_loaded(url), timeout=120, what="code location")
            except Exception as exc:
                tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
                raise SystemExit(
                    f"screenshots: dagster dev did not come up: {exc}\n{tail}"
                ) from None
            profile = scratch / "profile"
            _shoot(binary, asset_groups_url(url), args.out / "asset-groups-demo.png", profile,
                   (1600, 1000))  # fmt: skip
            _shoot(binary, asset_groups_url(url, GROUPS), args.out / "asset-graph.png", profile,
                   (2400, 1400))  # fmt: skip
        print(f"stopped dagster dev (pid {process.pid})")
    findings = args.out / "report-findings.png"
    with Page(width=1100) as page:
        page.open(REPORT)
        page.screenshot(findings, top=page.element_top("findings"), height=1400, width=1100)
    print(f"{findings}: {REPORT} from its findings")
    return 0


if __name__ == "__main__":
    sys.exit(main())
