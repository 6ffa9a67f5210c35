"""Through Dagster, CALLAUDIT_DAY_SLICE_ROWS slices every day and changes no table."""

import datetime as dt

import dagster as dg

from callaudit import warehouse
from callaudit.assets.resources import AuditResource
from callaudit.pipelines.tags import PARTITION_RANGE_END_TAG, PARTITION_RANGE_START_TAG
from callaudit.raw_to_tables import DAILY_TABLES
from tests.graph import assets_def

START, END = dt.date(2022, 3, 1), dt.date(2022, 3, 3)


def _materialise(sample_archive, wh, reports) -> dg.ExecuteInProcessResult:
    resource = AuditResource(
        archive=str(sample_archive / "raw"),
        contracts=str(sample_archive / "contracts.yaml"),
        warehouse=str(wh),
        reports=str(reports),
    )
    with dg.instance_for_test() as instance:
        return dg.materialize(
            [assets_def(name) for name in ("raw_call_logs", "partner_contracts", "usage_daily")],
            resources={"audit": resource},
            instance=instance,
            selection=[table.name for table in DAILY_TABLES],
            tags={
                PARTITION_RANGE_START_TAG: START.isoformat(),
                PARTITION_RANGE_END_TAG: END.isoformat(),
            },
        )


def _sliced_days(result: dg.ExecuteInProcessResult) -> int:
    """The run's count of days computed in slices (``run_`` names: the run's totals,
    recorded on each day's materialisation)."""
    event = next(
        e
        for e in result.get_asset_materialization_events()
        if e.asset_key == dg.AssetKey("usage_daily")
    )
    return event.step_materialization_data.materialization.metadata["run_sliced_days"].value


def test_a_range_materialised_in_slices_writes_the_same_tables(
    sample_archive, tmp_path, monkeypatch
):
    whole, sliced = tmp_path / "whole", tmp_path / "sliced"
    one_pass = _materialise(sample_archive, whole, tmp_path / "r1")
    monkeypatch.setenv("CALLAUDIT_DAY_SLICE_ROWS", "300")
    in_slices = _materialise(sample_archive, sliced, tmp_path / "r2")
    assert _sliced_days(one_pass) == 0
    assert _sliced_days(in_slices) == (END - START).days + 1

    for table in DAILY_TABLES:
        expected = warehouse.read_range(str(whole), table.name, START, END)
        got = warehouse.read_range(str(sliced), table.name, START, END)
        assert expected.height > 0 or table.name == "network_daily", table.name
        assert got.rows() == expected.rows(), table.name
        assert got.schema == expected.schema, table.name
    rows_read = warehouse.read_range(str(sliced), "ingest_daily", START, END)["rows_read"]
    assert rows_read.min() > 300  # every day took two slices or more
