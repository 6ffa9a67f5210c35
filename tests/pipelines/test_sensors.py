"""The late-data sensor on a real archive, and the years a report refresh covers."""

import datetime as dt

import dagster as dg
import pytest

from callaudit.pipelines.sensors import flag_ranges, years_of_run
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


def test_a_late_day_a_writer_of_another_instance_holds_is_left_for_a_later_tick(
    instance, config, archive
):
    from callaudit import writer_lock

    mark_processed(instance, *OLD_DAYS)
    first = tick(instance, config)
    write_day(archive, OLD_DAYS[1], name="late-0.parquet")

    with writer_lock.holding(config.warehouse, OLD_DAYS, "run 0ther0ne", stale_after=3600):
        busy = tick(instance, config, first.cursor)  # its instance is not this one
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


def test_an_odd_folder_is_named_in_a_warning_once_not_on_every_tick(
    instance, config, archive, capfd
):
    mark_processed(instance, *OLD_DAYS)
    write_day(archive / "date=2022-13-45", dt.date(2022, 3, 1))  # a folder with a file

    def warnings(folder: str) -> list[str]:
        err = capfd.readouterr().err
        return [line for line in err.splitlines() if "WARNING" in line and folder in line]

    first = tick(instance, config)
    [warning] = warnings("date=2022-13-45")
    assert f"ignoring folder(s) of the archive {archive} that are not date=YYYY-MM-DD" in warning
    assert warning.endswith("date=2022-13-45; their files belong to no day (rename or remove them)")

    second = tick(instance, config, first.cursor)
    assert warnings("date=2022-13-45") == []  # named once, not on every tick
    assert second.run_requests == []

    (archive / "date=0000-01-01").mkdir()
    tick(instance, config, second.cursor)
    [warning] = warnings("date=0000-01-01")
    assert "date=2022-13-45" not in warning  # only the new one


CONFIRMED_REVIEW = """\
reviews:
  - {partner: acme, day: 2022-03-02, flag: restricted_network, status: confirmed,
     note: seen by the security team, reviewer: jdoe, reviewed_at: 2022-03-20}
"""


def mark_flagged(instance, *days: dt.date) -> None:
    for day in days:
        instance.report_runless_asset_event(
            dg.AssetMaterialization(asset_key="anomaly_flags", partition=day.isoformat())
        )


def test_a_confirmed_flag_rebuilds_only_the_report_of_its_year(instance, config, tmp_path):
    mark_processed(instance, *OLD_DAYS)
    mark_flagged(instance, *OLD_DAYS)
    instance.report_runless_asset_event(dg.AssetMaterialization("yearly_report", partition="2022"))
    first = tick(instance, config)
    (tmp_path / "flag_reviews.yaml").write_text(CONFIRMED_REVIEW)

    data = tick(instance, config, first.cursor)

    [report] = data.run_requests
    assert (report.job_name, report.partition_key) == ("report_job", "2022")
    assert [e.asset_key for e in data.asset_events] == [dg.AssetKey("flag_reviews")]
    assert tick(instance, config, data.cursor).run_requests == []


def test_a_review_of_a_year_without_a_report_requests_nothing(instance, config, tmp_path):
    mark_processed(instance, *OLD_DAYS)
    first = tick(instance, config)
    (tmp_path / "flag_reviews.yaml").write_text(CONFIRMED_REVIEW)

    data = tick(instance, config, first.cursor)

    assert data.run_requests == []
    assert [e.asset_key for e in data.asset_events] == [dg.AssetKey("flag_reviews")]


def test_a_dismissal_taken_back_re_runs_the_flags_again(instance, config, tmp_path):
    mark_processed(instance, *OLD_DAYS)
    mark_flagged(instance, *OLD_DAYS)
    reviews = tmp_path / "flag_reviews.yaml"
    dismissed = CONFIRMED_REVIEW.replace(
        "restricted_network, status: confirmed", "volume_drop, status: dismissed"
    )
    reviews.write_text(dismissed)
    first = tick(instance, config)
    reviews.write_text(dismissed.replace("dismissed", "confirmed"))

    data = tick(instance, config, first.cursor)

    [flags] = data.run_requests
    assert (flags.job_name, flags.partition_key) == ("daily_job", "2022-03-02")
    assert flags.asset_selection == [dg.AssetKey("anomaly_flags")]
    assert flags.tags[KIND_TAG] == "reviews"


def test_a_reviews_file_that_does_not_validate_changes_nothing_until_it_is_fixed(
    instance, config, tmp_path
):
    mark_processed(instance, *OLD_DAYS)
    mark_flagged(instance, *OLD_DAYS)
    instance.report_runless_asset_event(dg.AssetMaterialization("yearly_report", partition="2022"))
    first = tick(instance, config)
    reviews = tmp_path / "flag_reviews.yaml"
    reviews.write_text(CONFIRMED_REVIEW.replace("status: confirmed", "status: maybe"))

    broken = tick(instance, config, first.cursor)
    reviews.write_text(CONFIRMED_REVIEW)
    fixed = tick(instance, config, broken.cursor)

    assert broken.run_requests == [] and broken.asset_events == []
    assert [r.partition_key for r in fixed.run_requests] == ["2022"]


DAY = dt.date(2022, 3, 1)


def days_from(first: int, last: int) -> set[str]:
    return {(DAY + dt.timedelta(days=i)).isoformat() for i in range(first, last + 1)}


@pytest.mark.parametrize(
    ("changed", "flagged", "ranges"),
    [
        # one dismissal: one run from its day
        ([5], days_from(0, 30), [(5, 5)]),
        # two dismissals whose windows meet: one run over both, not two runs on one day
        ([5, 9], days_from(0, 30), [(5, 9)]),
        # far apart (more than the 10-day window): two runs
        ([2, 20], days_from(0, 30), [(2, 2), (20, 20)]),
        # a day without flags: from the first later day that has them
        ([3], days_from(6, 30), [(6, 6)]),
        # no flags within the window: nothing to recompute
        ([3], days_from(20, 30), []),
        # windows that meet share a run even across days without flags (never processed)
        ([2, 6], days_from(0, 3) | days_from(6, 30), [(2, 6)]),
    ],
)
def test_dismissals_changed_are_recomputed_in_the_fewest_flag_runs(changed, flagged, ranges):
    days = [DAY + dt.timedelta(days=i) for i in changed]
    expected = [(DAY + dt.timedelta(days=a), DAY + dt.timedelta(days=b)) for a, b in ranges]
    assert flag_ranges(days, flagged, history_days=10) == expected
