"""The nightly schedule: yesterday's partition of every day-grain asset.

At 02:00 UTC (``CALLAUDIT_NIGHTLY_CRON``) the log shipper has delivered the previous UTC
day, so the schedule runs ``daily_job`` for that day: the five daily tables, their
checks and the day's flags. The yearly report is refreshed after the run succeeds, by
``report_after_daily_run`` in pipelines/sensors.py, because a schedule cannot wait for
its own run. Files that arrive even later are picked up by the late-data sensor.

Automation is stopped unless ``CALLAUDIT_AUTOMATION=running``: on a laptop with a
sample archive of a past year, a nightly run of an empty day would only add noise. Turn
it on in the UI (Automation) or with the variable on a server.
"""

import datetime as dt
import os

import dagster as dg

from assets.partitions import FIRST_DAY, LAST_DAY
from pipelines.jobs import daily_job

#: When the nightly run starts, in UTC (cron syntax).
NIGHTLY_CRON = os.environ.get("CALLAUDIT_NIGHTLY_CRON", "0 2 * * *")


def automation_running() -> bool:
    """Whether schedules and sensors start running by default (``CALLAUDIT_AUTOMATION``)."""
    value = os.environ.get("CALLAUDIT_AUTOMATION", "stopped").strip().lower()
    if value not in ("running", "stopped"):
        raise ValueError(f"CALLAUDIT_AUTOMATION must be 'running' or 'stopped', not {value!r}")
    return value == "running"


def day_before(moment: dt.datetime) -> dt.date:
    """The UTC day that ended most recently before ``moment``'s UTC day began."""
    return moment.astimezone(dt.UTC).date() - dt.timedelta(days=1)


@dg.schedule(
    name="nightly_schedule",
    cron_schedule=NIGHTLY_CRON,
    execution_timezone="UTC",
    job=daily_job,
    default_status=(
        dg.DefaultScheduleStatus.RUNNING
        if automation_running()
        else dg.DefaultScheduleStatus.STOPPED
    ),
    description=(
        "Every night (default 02:00 UTC) materialises yesterday's partition of the daily "
        "tables and flags, with their checks; the yearly report follows when it succeeds."
    ),
)
def nightly_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest | dg.SkipReason:
    day = day_before(context.scheduled_execution_time)
    if day < dt.date.fromisoformat(FIRST_DAY):
        return dg.SkipReason(f"{day} is before the first partition {FIRST_DAY}")
    if LAST_DAY and day > dt.date.fromisoformat(LAST_DAY):
        return dg.SkipReason(f"{day} is after the archive's last day {LAST_DAY}")
    return dg.RunRequest(
        run_key=day.isoformat(),
        partition_key=day.isoformat(),
        tags={"callaudit/kind": "nightly"},
    )


SCHEDULES = [nightly_schedule]
