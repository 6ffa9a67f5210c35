"""Partitions of the asset graph: UTC days for the day-grain tables, years for reports.

Daily partitions run from ``CALLAUDIT_FIRST_DAY`` to today. A closed archive (an audit
of a past year, the demo) sets ``CALLAUDIT_LAST_DAY`` so the graph has exactly its days:
partition status is then all green when it is all done, and nothing downstream of the
last day (flags of later days, next year's report) is proposed.
"""

import datetime as dt
import os

import dagster as dg

#: First day of the archive the graph knows about (override for older archives).
FIRST_DAY = os.environ.get("CALLAUDIT_FIRST_DAY", "2022-01-01")

#: Last day, inclusive, when the archive is closed; empty means "up to today".
LAST_DAY = os.environ.get("CALLAUDIT_LAST_DAY", "").strip()


def _day_after(day: str) -> str:
    return (dt.date.fromisoformat(day) + dt.timedelta(days=1)).isoformat()


daily_partitions = dg.DailyPartitionsDefinition(
    start_date=FIRST_DAY,
    end_date=_day_after(LAST_DAY) if LAST_DAY else None,  # end_date is exclusive
    timezone="UTC",
)

yearly_partitions = dg.TimeWindowPartitionsDefinition(
    cron_schedule="0 0 1 1 *",
    fmt="%Y",
    start=FIRST_DAY[:4],
    end=str(int(LAST_DAY[:4]) + 1) if LAST_DAY else None,
    timezone="UTC",
    end_offset=0 if LAST_DAY else 1,  # without an end, the current partial year too
)

#: Days processed in one run of a backfill: a year is a handful of runs, not 365.
BACKFILL_CHUNK_DAYS = int(os.environ.get("CALLAUDIT_BACKFILL_CHUNK_DAYS", "92"))

daily_backfill_policy = dg.BackfillPolicy.multi_run(max_partitions_per_run=BACKFILL_CHUNK_DAYS)
