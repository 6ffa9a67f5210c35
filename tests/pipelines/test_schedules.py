"""The nightly schedule asks for yesterday's partition of daily_job."""

import datetime as dt

import dagster as dg
import pytest

from callaudit.pipelines.definitions import build_definitions
from callaudit.pipelines.tags import KIND_TAG
from tests.graph import default_definitions, settings_for_test


def evaluate(at: dt.datetime, defs: dg.Definitions | None = None):
    defs = defs or default_definitions()
    context = dg.build_schedule_context(
        scheduled_execution_time=at, repository_def=defs.get_repository_def()
    )
    return defs.resolve_schedule_def("nightly_schedule").evaluate_tick(context)


def test_a_nightly_tick_requests_the_day_before():
    data = evaluate(dt.datetime(2022, 3, 2, 2, 0, tzinfo=dt.UTC))
    [request] = data.run_requests
    assert request.partition_key == "2022-03-01"
    assert request.tags[KIND_TAG] == "nightly"


def test_the_first_night_of_a_year_processes_the_last_day_of_the_previous_year():
    [request] = evaluate(dt.datetime(2023, 1, 1, 2, 0, tzinfo=dt.UTC)).run_requests
    assert request.partition_key == "2022-12-31"


def test_the_day_is_taken_in_utc_whatever_the_clock_zone():
    tokyo = dt.timezone(dt.timedelta(hours=9))
    # 08:30 in Tokyo on 3 March is 23:30 UTC on 2 March: yesterday is 1 March.
    [request] = evaluate(dt.datetime(2022, 3, 3, 8, 30, tzinfo=tokyo)).run_requests
    assert request.partition_key == "2022-03-01"


def test_a_night_before_the_first_partition_is_skipped():
    data = evaluate(dt.datetime(2022, 1, 1, 2, 0, tzinfo=dt.UTC))
    assert data.run_requests == []
    assert "before the first partition" in data.skip_message


def test_a_night_after_a_closed_archives_last_day_is_skipped():
    closed = build_definitions(settings_for_test(last_day=dt.date(2022, 12, 31)))
    data = evaluate(dt.datetime(2023, 1, 2, 2, 0, tzinfo=dt.UTC), closed)
    assert data.run_requests == []
    assert "after the archive's last day" in data.skip_message


def test_the_schedule_runs_the_daily_job_at_two_utc_by_default():
    schedule = default_definitions().resolve_schedule_def("nightly_schedule")
    assert schedule.job_name == "daily_job"
    assert schedule.execution_timezone == "UTC"
    assert schedule.cron_schedule == "0 2 * * *"


def test_the_cron_comes_from_the_settings():
    defs = build_definitions(settings_for_test(nightly_cron="30 4 * * *"))
    assert defs.resolve_schedule_def("nightly_schedule").cron_schedule == "30 4 * * *"


@pytest.mark.parametrize(
    ("automation", "status"),
    [
        ("stopped", dg.DefaultScheduleStatus.STOPPED),
        ("running", dg.DefaultScheduleStatus.RUNNING),
    ],
)
def test_automation_starts_stopped_unless_the_settings_say_running(automation, status):
    defs = build_definitions(settings_for_test(automation=automation))
    assert defs.resolve_schedule_def("nightly_schedule").default_status == status
    for sensor in ("late_data_sensor", "report_after_daily_run"):
        assert defs.resolve_sensor_def(sensor).default_status.value == status.value
