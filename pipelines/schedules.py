"""The nightly schedule: yesterday's partition of every day-grain asset.

At 02:00 UTC (setting ``nightly_cron``) the log shipper has delivered the previous UTC
day, so the schedule runs ``daily_job`` for that day: the five daily tables, their
checks and the day's flags. The yearly report is refreshed after the run succeeds, by
``report_after_daily_run`` in pipelines/sensors.py, because a schedule cannot wait for
its own run. Files that arrive even later are picked up by the late-data sensor.

Automation is stopped unless the setting ``automation`` is ``running``: on a laptop with
a sample archive of a past year, a nightly run of an empty day would only add noise.
Turn it on in the UI (Automation) or with the variable on a server.
"""

import datetime as dt

import dagster as dg

from callaudit.pipelines.jobs import AssetJob
from callaudit.pipelines.tags import KIND_TAG
from callaudit.settings import Settings


def day_before(moment: dt.datetime) -> dt.date:
    """The UTC day that ended most recently before ``moment``'s UTC day began."""
    return moment.astimezone(dt.UTC).date() - dt.timedelta(days=1)


def default_schedule_status(settings: Settings) -> dg.DefaultScheduleStatus:
    if settings.automation_running:
        return dg.DefaultScheduleStatus.RUNNING
    return dg.DefaultScheduleStatus.STOPPED


def build_nightly_schedule(settings: Settings, daily_job: AssetJob) -> dg.ScheduleDefinition:
    first, last = settings.first_day, settings.last_day

    @dg.schedule(
        name="nightly_schedule",
        cron_schedule=settings.nightly_cron,
        execution_timezone="UTC",
        job=daily_job,
        default_status=default_schedule_status(settings),
        description=(
            "Every night (default 02:00 UTC) materialises yesterday's partition of the daily "
            "tables and flags, with their checks; the yearly report follows when it succeeds."
        ),
    )
    def nightly_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest | dg.SkipReason:
        day = day_before(context.scheduled_execution_time)
        if first and day < first:
            return dg.SkipReason(f"{day} is before the first partition {first}")
        if last and day > last:
            return dg.SkipReason(f"{day} is after the archive's last day {last}")
        return dg.RunRequest(
            run_key=day.isoformat(),
            partition_key=day.isoformat(),
            tags={KIND_TAG: "nightly"},
        )

    return nightly_schedule
