"""The running UI, through its GraphQL API: the graph, automation and a backfill."""

import pytest

from callaudit import warehouse
from callaudit.dates import parse_day
from tests.e2e.conftest import BACKFILL_DAYS
from tests.e2e.graphql import REPOSITORY, graphql
from tests.graph import default_definitions

pytestmark = pytest.mark.e2e

ASSET_NODES = """{
  assetNodes {
    assetKey { path }
    groupName
    description
    dependencyKeys { path }
    assetChecksOrError { ... on AssetChecks { checks { name } } }
  }
}"""


def _key(path: list[str]) -> str:
    return "/".join(path)


@pytest.fixture(scope="module")
def asset_nodes(dagster_ui) -> dict[str, dict]:
    nodes = graphql(dagster_ui.url, ASSET_NODES)["assetNodes"]
    return {_key(n["assetKey"]["path"]): n for n in nodes}


@pytest.fixture(scope="module")
def code_location():
    return default_definitions().resolve_asset_graph()


def test_the_graph_shows_every_asset_of_the_code_location(asset_nodes, code_location):
    expected = {k.to_user_string() for k in code_location.get_all_asset_keys()}
    assert set(asset_nodes) == expected
    for name in (
        "raw_call_logs",
        "partner_contracts",
        "usage_daily",
        "ingest_daily",
        "anomaly_flags",
    ):
        assert name in asset_nodes


def test_every_asset_has_a_group_and_a_description(asset_nodes):
    for name, node in asset_nodes.items():
        assert node["groupName"] in {"ingest", "usage", "flags", "report"}, name
        assert node["description"], name


def test_the_edges_follow_the_data(asset_nodes, code_location):
    for name, node in asset_nodes.items():
        parents = {_key(d["path"]) for d in node["dependencyKeys"]}
        expected = {k.to_user_string() for k in code_location.get(_asset_key(name)).parent_keys}
        assert parents == expected, name
    assert {"raw_call_logs", "partner_contracts"} <= _parents(asset_nodes, "usage_daily")
    assert "partner_daily" in _parents(asset_nodes, "anomaly_flags")


def test_the_checks_of_the_code_location_are_attached_to_their_assets(asset_nodes, code_location):
    shown = {
        (name, check["name"])
        for name, node in asset_nodes.items()
        for check in (node["assetChecksOrError"] or {}).get("checks", [])
    }
    defined = {(k.asset_key.to_user_string(), k.name) for k in code_location.asset_check_keys}
    assert shown == defined


def test_the_nightly_schedule_and_the_sensors_are_there(dagster_ui):
    data = graphql(
        dagster_ui.url,
        """query($repo: RepositorySelector!) {
          schedulesOrError(repositorySelector: $repo) {
            ... on Schedules { results { name cronSchedule executionTimezone pipelineName } } }
          sensorsOrError(repositorySelector: $repo) {
            ... on Sensors { results { name targets { pipelineName } } } } }""",
        {"repo": REPOSITORY},
    )
    schedules = {s["name"]: s for s in data["schedulesOrError"]["results"]}
    sensors = {s["name"]: s for s in data["sensorsOrError"]["results"]}
    nightly = schedules["nightly_schedule"]
    assert (nightly["cronSchedule"], nightly["executionTimezone"]) == ("0 2 * * *", "UTC")
    assert nightly["pipelineName"] == "daily_job"
    # late files and dismissed volume flags re-run days; other flag reviews the report
    targets = [t["pipelineName"] for t in sensors["late_data_sensor"]["targets"]]
    assert targets == ["daily_job", "report_job"]


def test_a_backfill_from_the_ui_succeeds(backfill, dagster_ui):
    status = backfill["partitionBackfillOrError"]
    runs = backfill["runsOrError"]["results"]
    assert status["status"] in {"COMPLETED", "COMPLETED_SUCCESS"}, (status, dagster_ui.log)
    assert runs and all(r["status"] == "SUCCESS" for r in runs), runs


def test_a_backfill_runs_ranges_of_days_not_a_run_per_day(backfill):
    runs = backfill["runsOrError"]["results"]
    for run in runs:
        tags = {t["key"]: t["value"] for t in run["tags"]}
        covered = (
            tags.get("dagster/asset_partition_range_start"),
            tags.get("dagster/asset_partition_range_end"),
        )
        assert covered == (BACKFILL_DAYS[0], BACKFILL_DAYS[-1]), tags


def test_a_backfill_writes_the_warehouse_partitions_of_its_days(backfill, dagster_ui):
    days = [parse_day(d) for d in BACKFILL_DAYS]
    for table in ("usage_daily", "partner_daily", "ingest_daily", "anomaly_flags"):
        frame = warehouse.read_range(str(dagster_ui.warehouse), table, days[0], days[-1])
        if table == "ingest_daily":
            assert sorted(frame["date"].unique().to_list()) == days
        else:
            assert set(frame["date"].unique().to_list()) <= set(days)
    usage = warehouse.read_range(str(dagster_ui.warehouse), "usage_daily", days[0], days[-1])
    assert usage.height > 0
    outside = warehouse.read_range(
        str(dagster_ui.warehouse), "ingest_daily", parse_day("2022-03-01"), parse_day("2022-03-01")
    )
    assert outside.height == 0


def _asset_key(name: str):
    import dagster as dg

    return dg.AssetKey.from_user_string(name)


def _parents(asset_nodes: dict, name: str) -> set[str]:
    return {_key(d["path"]) for d in asset_nodes[name]["dependencyKeys"]}
