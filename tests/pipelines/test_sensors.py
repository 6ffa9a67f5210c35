"""The late-data sensor on a real archive, and the years a report refresh covers."""

import datetime as dt

import dagster as dg
import pytest

from callaudit.pipelines.sensors import years_of_run
from callaudit.pipelines.tags import (
    DATA_VERSION_TAG,
    KIND_TAG,
    PARTITION_RANGE_END_TAG,
    PARTITION_RANGE_START_TAG,
)
from tests.graph import default_definitions
from tests.pipelines.conftest import OLD_DAYS, mark_processed, write_day


def tick(instance, config, cursor=None):
    defs = default_definitions()
    context = dg.build_sensor_context(
        instance=instance, cursor=cursor, resources={"audit": config}, definitions=defs
    )
    return defs.resolve_sensor_def("late_data_sensor").evaluate_tick(context)


def requested_days(data) -> list[str]:
    return [r.partition_key for r in data.run_requests]


def raw_versions(data) -> dict[str, str]:
    return {
        e.partition: e.tags[DATA_VERSION_TAG]
        for e in data.asset_events
        if e.asset_key == dg.AssetKey("raw_call_logs")
    }


def test_the_first_tick_records_the_archive_without_requesting_runs(instance, config):
    mark_processed(instance, *OLD_DAYS)
    data = tick(instance, config)
    assert data.run_requests == []
    assert data.cursor is not None
    # Days already processed get no first data version: that would mark them stale.
    assert raw_versions(data) == {}


def test_the_first_tick_gives_unprocessed_days_a_data_version(instance, config):
    mark_processed(instance, OLD_DAYS[0])
    data = tick(instance, config)
    assert sorted(raw_versions(data)) == [d.isoformat() for d in OLD_DAYS[1:]]


def test_an_unchanged_archive_requests_nothing(instance, config):
    mark_processed(instance, *OLD_DAYS)
    first = tick(instance, config)
    second = tick(instance, config, first.cursor)
    assert second.run_requests == []
    assert second.asset_events == []


def test_a_late_file_in_an_old_day_requests_exactly_that_day(instance, config, archive):
    mark_processed(instance, *OLD_DAYS)
    first = tick(instance, config)
    write_day(archive, OLD_DAYS[1], name="late-0.parquet")
    data = tick(instance, config, first.cursor)
    assert requested_days(data) == [OLD_DAYS[1].isoformat()]
    assert data.run_requests[0].tags[KIND_TAG] == "late-data"
    assert list(raw_versions(data)) == [OLD_DAYS[1].isoformat()]


def test_a_late_day_another_run_is_writing_is_left_for_a_later_tick(instance, config, archive):
    mark_processed(instance, *OLD_DAYS)
    first = tick(instance, config)
    write_day(archive, OLD_DAYS[1], name="late-0.parquet")
    backfill = dg.DagsterRun(
        job_name="daily_job",
        status=dg.DagsterRunStatus.STARTED,
        tags={PARTITION_RANGE_START_TAG: "2022-03-01", PARTITION_RANGE_END_TAG: "2022-03-31"},
    )
    instance.add_run(backfill)

    busy = tick(instance, config, first.cursor)
    instance.report_run_failed(backfill)  # the backfill ends
    later = tick(instance, config, busy.cursor)

    assert requested_days(busy) == []
    assert requested_days(later) == [OLD_DAYS[1].isoformat()]


def test_a_modified_file_requests_its_day(instance, config, archive):
    mark_processed(instance, *OLD_DAYS)
    first = tick(instance, config)
    write_day(archive, OLD_DAYS[2], calls=7)  # same name, new content
    assert requested_days(tick(instance, config, first.cursor)) == [OLD_DAYS[2].isoformat()]


def test_a_day_is_requested_again_only_when_it_changes_again(instance, config, archive):
    mark_processed(instance, *OLD_DAYS)
    cursor = tick(instance, config).cursor
    write_day(archive, OLD_DAYS[0], name="late-0.parquet")
    first_change = tick(instance, config, cursor)
    settled = tick(instance, config, first_change.cursor)
    write_day(archive, OLD_DAYS[0], name="late-1.parquet")
    second_change = tick(instance, config, settled.cursor)
    assert requested_days(settled) == []
    assert requested_days(second_change) == [OLD_DAYS[0].isoformat()]
    assert first_change.run_requests[0].run_key != second_change.run_requests[0].run_key


def test_a_new_day_never_processed_is_observed_but_left_to_the_schedule(instance, config, archive):
    mark_processed(instance, *OLD_DAYS)
    first = tick(instance, config)
    new_day = dt.date(2022, 3, 4)
    write_day(archive, new_day)
    data = tick(instance, config, first.cursor)
    assert data.run_requests == []
    assert list(raw_versions(data)) == [new_day.isoformat()]


def test_a_changed_agreements_file_gets_a_new_data_version(instance, config, tmp_path):
    mark_processed(instance, *OLD_DAYS)
    first = tick(instance, config)
    (tmp_path / "contracts.yaml").write_text("currency: EUR\npartners: []\n")
    data = tick(instance, config, first.cursor)
    keys = [e.asset_key for e in data.asset_events]
    assert keys == [dg.AssetKey("partner_contracts")]
    assert data.run_requests == []


@pytest.mark.parametrize(
    ("tags", "years"),
    [
        ({"dagster/partition": "2022-12-31"}, [2022]),
        (
            {
                "dagster/asset_partition_range_start": "2022-12-01",
                "dagster/asset_partition_range_end": "2023-01-31",
            },
            [2022, 2023],
        ),
        ({}, []),
    ],
)
def test_a_daily_run_covers_the_years_of_its_partitions(tags, years):
    assert years_of_run(tags) == years
