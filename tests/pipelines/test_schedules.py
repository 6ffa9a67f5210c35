"""The nightly schedule asks for yesterday's partition of daily_job."""

import datetime as dt

import dagster as dg
import pytest

from pipelines.definitions import defs
from pipelines.schedules import NIGHTLY_CRON, automation_running, nightly_schedule


def evaluate(at: dt.datetime):
    context = dg.build_schedule_context(
        scheduled_execution_time=at, repository_def=defs.get_repository_def()
    )
    return nightly_schedule.evaluate_tick(context)


def test_a_nightly_tick_requests_the_day_before():
    data = evaluate(dt.datetime(2022, 3, 2, 2, 0, tzinfo=dt.UTC))
    [request] = data.run_requests
    assert request.partition_key == "2022-03-01"
    assert request.tags["callaudit/kind"] == "nightly"


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


def test_the_schedule_runs_the_daily_job_at_two_utc_by_default():
    assert nightly_schedule.job_name == "daily_job"
    assert nightly_schedule.execution_timezone == "UTC"
    assert nightly_schedule.cron_schedule == NIGHTLY_CRON == "0 2 * * *"


@pytest.mark.parametrize(
    ("value", "running"), [(None, False), ("stopped", False), ("running", True)]
)
def test_automation_status_comes_from_the_environment(monkeypatch, value, running):
    if value is None:
        monkeypatch.delenv("CALLAUDIT_AUTOMATION", raising=False)
    else:
        monkeypatch.setenv("CALLAUDIT_AUTOMATION", value)
    assert automation_running() is running


def test_an_unknown_automation_status_is_refused(monkeypatch):
    monkeypatch.setenv("CALLAUDIT_AUTOMATION", "sometimes")
    with pytest.raises(ValueError, match="running' or 'stopped"):
        automation_running()
