"""Partitions of the asset graph: UTC days for the day-grain tables, years for reports."""

import os

import dagster as dg

#: First day of the archive the graph knows about (override for older archives).
FIRST_DAY = os.environ.get("CALLAUDIT_FIRST_DAY", "2022-01-01")

daily_partitions = dg.DailyPartitionsDefinition(start_date=FIRST_DAY, timezone="UTC")

yearly_partitions = dg.TimeWindowPartitionsDefinition(
    cron_schedule="0 0 1 1 *",
    fmt="%Y",
    start=FIRST_DAY[:4],
    timezone="UTC",
    end_offset=1,  # the current, partial year has a report too
)

#: Days processed in one run of a backfill: a year is a handful of runs, not 365.
BACKFILL_CHUNK_DAYS = int(os.environ.get("CALLAUDIT_BACKFILL_CHUNK_DAYS", "92"))

daily_backfill_policy = dg.BackfillPolicy.multi_run(max_partitions_per_run=BACKFILL_CHUNK_DAYS)
