"""A real `dagster dev` (webserver + daemon) on 127.0.0.1 over a tiny generated archive.

Started once per module in its own process session and stopped by PID, whatever the
tests do. Everything it writes (instance, archive, warehouse) lives in a tmp folder.
"""

import datetime as dt
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from callaudit.pipelines.instance import INSTANCE_TEMPLATE
from callaudit.pipelines.submit import launch_backfill
from tests.conftest import REPO
from tests.e2e.graphql import code_location_loaded, graphql, wait_until
from tests.graph import default_definitions
from tests.services import free_port, running, wait_for_http

#: Days written to the archive; the backfill covers the middle three.
ARCHIVE_DAYS = (dt.date(2022, 3, 1), dt.date(2022, 3, 5))
BACKFILL_DAYS = ["2022-03-02", "2022-03-03", "2022-03-04"]


@dataclass
class DagsterUI:
    url: str
    root: Path
    warehouse: Path
    log: Path
    pid: int


@pytest.fixture(scope="package")
def dagster_ui(tmp_path_factory) -> DagsterUI:
    from callaudit.synth import generate_archive

    root = tmp_path_factory.mktemp("dagster_ui")
    generate_archive(
        str(root / "data"),
        scale=0.001,
        seed=7,
        start=ARCHIVE_DAYS[0],
        end=ARCHIVE_DAYS[1],
        progress=False,
    )
    home = root / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text(INSTANCE_TEMPLATE.read_text())
    env = {
        "DAGSTER_HOME": str(home),
        "CALLAUDIT_ARCHIVE": str(root / "data" / "raw"),
        "CALLAUDIT_CONTRACTS": str(root / "data" / "contracts.yaml"),
        "CALLAUDIT_WAREHOUSE": str(root / "data" / "warehouse"),
        "CALLAUDIT_REPORTS": str(root / "data" / "reports"),
        "CALLAUDIT_AUTOMATION": "stopped",
        "GX_ANALYTICS_ENABLED": "false",
        "DAGSTER_DISABLE_TELEMETRY": "1",
    }
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = root / "dagster_dev.log"
    command = [
        sys.executable, "-m", "dagster", "dev",
        "-w", str(REPO / "workspace.yaml"), "-h", "127.0.0.1", "-p", str(port),
    ]  # fmt: skip
    with running(command, env=env, log_path=log) as process:
        try:
            wait_for_http(f"{url}/server_info", timeout=90, process=process)
            wait_until(lambda: code_location_loaded(url), timeout=90, what="code location loaded")
        except Exception as exc:
            tail = log.read_text(errors="replace")[-3000:] if log.exists() else ""
            raise RuntimeError(f"dagster dev did not come up: {exc}\n{tail}") from exc
        # No dismissal of Dagster's community pop-up here: the instance template turns it
        # off (`nux: enabled: false`), and test_operator_view checks that it stays off.
        yield DagsterUI(url, root, root / "data" / "warehouse", log, process.pid)
    assert process.poll() is not None, "dagster dev still running after stop"


BACKFILL_STATUS = """query($id: String!) {
  partitionBackfillOrError(backfillId: $id) {
    ... on PartitionBackfill {
      id status error { message }
      assetBackfillData { assetBackfillStatuses {
        ... on AssetPartitionsStatusCounts { assetKey { path } numPartitionsTargeted }
      } }
    }
  }
  runsOrError(filter: {tags: [{key: "dagster/backfill", value: $id}]}) {
    ... on Runs { results { runId status jobName tags { key value } } }
  }
}"""

DONE = {"COMPLETED", "COMPLETED_SUCCESS", "COMPLETED_FAILED", "FAILED", "CANCELED"}


@pytest.fixture(scope="package")
def backfill(dagster_ui) -> dict:
    """Three days of every day-grain asset, launched as the UI launches a range chosen in
    its backfill dialog: the selected assets and the range's partition names."""
    daily = default_definitions().resolve_job_def("daily_job").asset_layer.executable_asset_keys
    params = {
        "assetSelection": [{"path": k.path} for k in sorted(daily)],
        "partitionNames": BACKFILL_DAYS,
        "fromFailure": False,
        "tags": [],
    }
    # The launch mutation `callaudit backfill --submit` sends, with the UI's parameters.
    backfill_id = launch_backfill(dagster_ui.url, params).backfill_id

    def finished():
        data = graphql(dagster_ui.url, BACKFILL_STATUS, {"id": backfill_id})
        status = data["partitionBackfillOrError"]["status"]
        return data if status in DONE else None

    data = wait_until(finished, timeout=150, interval=2, what=f"backfill {backfill_id}")
    return {"id": backfill_id, **data}
