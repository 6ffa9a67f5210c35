"""What an operator sees in the running UI after a backfill launched as the UI launches
one, read through the webserver's GraphQL API (the same queries the UI pages make).

The archive holds 2022-03-01..2022-03-05 and nothing sets CALLAUDIT_FIRST_DAY or
CALLAUDIT_LAST_DAY: the partitions come from the archive. The backfill selects every
day-grain asset and the range 2022-03-02..2022-03-04.
"""

import datetime as dt

import duckdb
import pytest

from callaudit.archive_scan import scan_days
from tests.e2e.conftest import ARCHIVE_DAYS, BACKFILL_DAYS
from tests.e2e.graphql import graphql

pytestmark = pytest.mark.e2e

ASSET = """query($key: AssetKeyInput!, $partitions: [String!]) {
  assetNodeOrError(assetKey: $key) {
    ... on AssetNode {
      partitionKeys
      isObservable
      partitionStats { numMaterialized numPartitions }
      assetObservations(partitions: $partitions) {
        partition
        tags { key value }
      }
      assetMaterializations(partitions: $partitions) {
        partition
        runId
        metadataEntries {
          label
          ... on IntMetadataEntry { intRepr }
          ... on TextMetadataEntry { text }
          ... on MarkdownMetadataEntry { mdStr }
        }
      }
      assetChecksOrError {
        ... on AssetChecks {
          checks { name blocking executionForLatestMaterialization { status } }
        }
      }
    }
  }
}"""

#: The day whose partitions the per-partition tests look at: inside the range, not its end.
DAY = BACKFILL_DAYS[1]


def asset(url: str, name: str, partitions: list[str] | None = None) -> dict:
    variables = {"key": {"path": [name]}, "partitions": partitions}
    return graphql(url, ASSET, variables)["assetNodeOrError"]


def _archive_days() -> list[str]:
    first, last = ARCHIVE_DAYS
    return [(first + dt.timedelta(days=n)).isoformat() for n in range((last - first).days + 1)]


def _metadata(materialization: dict) -> dict[str, str]:
    values = {}
    for entry in materialization["metadataEntries"]:
        value = entry.get("intRepr") or entry.get("text") or entry.get("mdStr")
        values[entry["label"]] = value
    return values


def _rows_in_warehouse(warehouse, table: str, day: str) -> int:
    """Rows of a committed day, counted by DuckDB straight from its Parquet file."""
    files = f"{warehouse}/{table}/date={day}/*.parquet"
    return duckdb.sql(f"select count(*) from read_parquet('{files}')").fetchall()[0][0]


def test_the_daily_partitions_are_the_archives_days_and_the_report_has_its_year(dagster_ui):
    days = _archive_days()
    for name in ("raw_call_logs", "usage_daily", "anomaly_flags"):
        assert asset(dagster_ui.url, name)["partitionKeys"] == days, name
    assert asset(dagster_ui.url, "yearly_report")["partitionKeys"] == ["2022"]


def test_the_community_pop_up_is_off_on_a_new_instance(dagster_ui):
    # shouldShowNux is what the UI asks before it opens the pop-up; nobody dismissed it.
    assert graphql(dagster_ui.url, "{ shouldShowNux }") == {"shouldShowNux": False}


def test_a_range_chosen_in_the_ui_targets_exactly_that_range(backfill):
    statuses = backfill["partitionBackfillOrError"]["assetBackfillData"]["assetBackfillStatuses"]
    targeted = {"/".join(s["assetKey"]["path"]): s["numPartitionsTargeted"] for s in statuses}
    # No flag day after the range, no yearly report: only what was selected, 3 days each.
    assert targeted == {
        name: len(BACKFILL_DAYS)
        for name in (
            "anomaly_flags",
            "ingest_daily",
            "network_daily",
            "partner_daily",
            "quarantine",
            "usage_daily",
        )
    }
    runs = backfill["runsOrError"]["results"]
    assert len(runs) == 1 and runs[0]["status"] == "SUCCESS", runs


def test_raw_call_logs_is_observed_for_every_day_the_backfill_read(backfill, dagster_ui):
    node = asset(dagster_ui.url, "raw_call_logs", BACKFILL_DAYS)
    assert node["isObservable"]  # so the UI shows observations, not a "0% filled" bar
    observed = {
        o["partition"]: {t["key"]: t["value"] for t in o["tags"]}["dagster/data_version"]
        for o in node["assetObservations"]
    }
    scanned = scan_days(str(dagster_ui.root / "data" / "raw"))
    assert observed == {d: scanned[dt.date.fromisoformat(d)].fingerprint for d in BACKFILL_DAYS}
    # The days read count as filled (the UI's "% filled"), the other two do not.
    stats = node["partitionStats"]
    assert (stats["numMaterialized"], stats["numPartitions"]) == (len(BACKFILL_DAYS), 5)


@pytest.mark.parametrize(
    ("table", "checks"),
    [
        ("network_daily", {"network_daily_suite"}),
        ("quarantine", {"quarantine_suite", "quarantine_matches_ingest"}),
    ],
)
def test_network_daily_and_quarantine_have_blocking_checks_that_passed(
    backfill, dagster_ui, table, checks
):
    shown = asset(dagster_ui.url, table)["assetChecksOrError"]["checks"]
    assert {c["name"] for c in shown} == checks
    for check in shown:
        assert check["blocking"], check["name"]
        assert check["executionForLatestMaterialization"]["status"] == "SUCCEEDED", check


@pytest.mark.parametrize("table", ["usage_daily", "quarantine", "ingest_daily", "anomaly_flags"])
def test_a_partition_shows_its_own_row_count_and_the_run_its_totals(backfill, dagster_ui, table):
    node = asset(dagster_ui.url, table, BACKFILL_DAYS)
    latest = {}
    for materialization in node["assetMaterializations"]:  # newest first
        latest.setdefault(materialization["partition"], _metadata(materialization))
    assert sorted(latest) == BACKFILL_DAYS
    rows = {day: _rows_in_warehouse(dagster_ui.warehouse, table, day) for day in BACKFILL_DAYS}
    for day in BACKFILL_DAYS:
        assert int(latest[day]["dagster/row_count"]) == rows[day], (table, day)
        assert int(latest[day]["run_row_count"]) == sum(rows.values()), (table, day)
    assert latest[DAY]["run_days"] == f"{BACKFILL_DAYS[0]} .. {BACKFILL_DAYS[-1]}"


def test_a_days_ingest_figures_are_that_days(backfill, dagster_ui):
    node = asset(dagster_ui.url, "ingest_daily", [DAY])
    shown = _metadata(node["assetMaterializations"][0])
    row = duckdb.sql(
        "select files, rows_read, rows_valid, duplicates, quarantined from read_parquet("
        f"'{dagster_ui.warehouse}/ingest_daily/date={DAY}/*.parquet')"
    ).fetchall()[0]
    figures = ("files", "rows_read", "rows_valid", "duplicates", "quarantined")
    assert tuple(int(shown[k]) for k in figures) == row
