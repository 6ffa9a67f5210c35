"""Metadata helpers of the asset graph, used in real ranged Dagster runs."""

import dagster as dg
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
)

from callaudit.assets.metadata import add_partition_metadata

DAYS = dg.DailyPartitionsDefinition(start_date="2022-01-01", end_date="2022-01-11")
RANGE = {
    ASSET_PARTITION_RANGE_START_TAG: "2022-01-02",
    ASSET_PARTITION_RANGE_END_TAG: "2022-01-08",
}
TABLES = ("calls", "errors")


def _day_figures(day: str, table: str) -> dict:
    return {"dagster/row_count": int(day[-2:]) * len(table), "table_day": f"{table} {day}"}


def _tables(name: str, add_metadata) -> dg.AssetsDefinition:
    """A ranged multi-asset like daily_tables: run totals on the result, each day's own
    figures per partition, added by ``add_metadata``."""

    @dg.multi_asset(
        name=name,
        specs=[dg.AssetSpec(f"{name}_{t}", partitions_def=DAYS) for t in TABLES],
        partitions_def=DAYS,
        backfill_policy=dg.BackfillPolicy.single_run(),
    )
    def tables(context: dg.AssetExecutionContext):
        add_metadata(context)
        for table in TABLES:
            yield dg.MaterializeResult(
                asset_key=f"{name}_{table}",
                metadata={"run_days": len(context.partition_keys), "dagster/row_count": -1},
            )

    return tables


def _each_call(context: dg.AssetExecutionContext) -> None:
    for day in context.partition_keys:
        for table in TABLES:
            context.add_asset_metadata(
                _day_figures(day, table), asset_key=f"one_by_one_{table}", partition_key=day
            )


def _at_once(context: dg.AssetExecutionContext) -> None:
    add_partition_metadata(
        context,
        {
            (f"at_once_{table}", day): _day_figures(day, table)
            for day in context.partition_keys
            for table in TABLES
        },
    )


def _recorded(instance: dg.DagsterInstance, name: str) -> dict:
    found = {}
    for table in TABLES:
        records = instance.fetch_materializations(dg.AssetKey(f"{name}_{table}"), limit=100).records
        found[table] = {r.partition_key: r.asset_materialization.metadata for r in records}
    return found


def test_metadata_added_at_once_is_recorded_on_each_partition_as_call_by_call():
    """Seven days of two tables: each partition's materialization holds the run's figures
    with its own day's over them, as with one add_asset_metadata call per partition."""
    defs = [_tables("one_by_one", _each_call), _tables("at_once", _at_once)]
    with dg.instance_for_test() as instance:
        assert dg.materialize(defs, instance=instance, tags=RANGE).success
        expected = _recorded(instance, "one_by_one")
        recorded = _recorded(instance, "at_once")

    assert recorded == expected
    assert sorted(recorded["errors"]) == [f"2022-01-0{d}" for d in range(2, 9)]
    assert recorded["errors"]["2022-01-05"] == {
        "run_days": dg.IntMetadataValue(7),
        "dagster/row_count": dg.IntMetadataValue(30),
        "table_day": dg.TextMetadataValue("errors 2022-01-05"),
    }


def test_a_partition_outside_the_run_is_refused_as_dagster_refuses_it():
    """A key the run does not materialise takes Dagster's own call, and its error."""

    def outside(context: dg.AssetExecutionContext) -> None:
        add_partition_metadata(context, {("outside_calls", "2022-01-10"): {"rows": 1}})

    result = dg.materialize([_tables("outside", outside)], tags=RANGE, raise_on_error=False)
    assert not result.success
    (failure,) = [e for e in result.all_events if e.is_step_failure]
    assert "partition key '2022-01-10' that is not being targeted" in str(
        failure.step_failure_data.error
    )


def test_each_flags_partition_gets_its_own_days_flags_by_kind():
    import datetime as dt

    import polars as pl

    from callaudit.assets.flags import _day_flag_metadata

    first, second, quiet = dt.date(2022, 3, 1), dt.date(2022, 3, 2), dt.date(2022, 3, 3)
    flags = pl.DataFrame(
        {
            "date": [first, first, first, second],
            "partner_id": ["acme", "globex", "acme", "acme"],
            "flag": ["no_agreement", "no_agreement", "volume_spike", "volume_spike"],
        }
    )

    metadata = _day_flag_metadata(flags, [first, second, quiet])

    assert metadata[first]["dagster/row_count"] == 3
    assert metadata[first]["partners_flagged"] == 2
    assert metadata[first]["flags_by_kind"].md_str.splitlines()[2:] == [
        "| no_agreement | 2 | 2 |",  # most flags first
        "| volume_spike | 1 | 1 |",
    ]
    assert metadata[second]["flags_by_kind"].md_str.splitlines()[2:] == ["| volume_spike | 1 | 1 |"]
    assert (metadata[quiet]["dagster/row_count"], metadata[quiet]["partners_flagged"]) == (0, 0)
    assert metadata[quiet]["flags_by_kind"].md_str.splitlines()[2:] == []
