"""Whether the nightly data arrived: yesterday's day in the warehouse by a deadline hour.

The operator's question every morning is not "did a run succeed" (a schedule that was
stopped, or a daemon that died, runs nothing and fails nothing) but "is yesterday there".
The answer depends only on the time it is asked, the deadline hour and the days that are
in, so it is computed here, without Dagster, for any ``now``: the asset check and the
sensor that evaluates it pass the clock in, and tests pass explicit instants.

At ``now`` the deadline that matters is the most recent one passed: today's at
``deadline_hour`` UTC once that hour has come, yesterday's before it. The day due by a
deadline is the UTC day before the deadline's day (the nightly run processes
yesterday). A closed archive (its last day fixed, by ``CALLAUDIT_LAST_DAY`` or by the
archive's own day folders) gets no new day: the question does not apply.
"""

import datetime as dt
from collections.abc import Container
from dataclasses import dataclass

PASSED = "passed"
LATE = "late"
NOT_APPLICABLE = "not_applicable"
NOT_DUE = "not_due"


@dataclass(frozen=True)
class Arrival:
    """The verdict at one instant: which day was due by which deadline, and whether it
    is in. ``status`` is one of PASSED, LATE, NOT_APPLICABLE, NOT_DUE."""

    status: str
    day: dt.date | None
    deadline: dt.datetime | None
    text: str

    @property
    def passed(self) -> bool:
        """Whether the check is green: late is the only failure."""
        return self.status != LATE


def last_deadline(now: dt.datetime, deadline_hour: int) -> dt.datetime:
    """The most recent ``deadline_hour``:00 UTC at or before ``now``."""
    now = now.astimezone(dt.UTC)
    today = dt.datetime.combine(now.date(), dt.time(deadline_hour), tzinfo=dt.UTC)
    return today if now >= today else today - dt.timedelta(days=1)


def _late_by(seconds: float) -> str:
    minutes = int(seconds // 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min"


def arrival(
    now: dt.datetime,
    deadline_hour: int,
    present: Container[dt.date],
    *,
    first_day: dt.date,
    last_day: dt.date | None,
) -> Arrival:
    """Whether the day due by the last deadline before ``now`` is in ``present``.

    ``first_day``/``last_day`` are the daily partitions' window: a fixed ``last_day`` is a
    closed archive (NOT_APPLICABLE), a due day before ``first_day`` is not a partition
    (NOT_DUE).
    """
    if last_day is not None:
        return Arrival(
            NOT_APPLICABLE,
            None,
            None,
            f"Not applicable: a closed archive, its last day {last_day.isoformat()}; "
            "no new day is expected.",
        )
    deadline = last_deadline(now, deadline_hour)
    day = deadline.date() - dt.timedelta(days=1)
    due = f"{day.isoformat()} was due by {deadline:%Y-%m-%d %H:%M} UTC"
    if day < first_day:
        return Arrival(
            NOT_DUE, day, deadline, f"{due}, before the first day {first_day.isoformat()}."
        )
    if day in present:
        return Arrival(PASSED, day, deadline, f"{due} and is in.")
    late = (now.astimezone(dt.UTC) - deadline).total_seconds()
    return Arrival(LATE, day, deadline, f"{due} and is missing, {_late_by(late)} late.")
