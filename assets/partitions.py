"""Partitions of the asset graph: UTC days for the day-grain tables, years for reports.

Built from the settings when the definitions are built, never at import. The days
come from ``first_day`` and ``last_day`` when set, otherwise from the archive's day
folders (Settings.with_partition_window): a closed archive (an audit of a past year,
the demo) gets exactly its days, so partition status is all green when it is all done
and nothing after its last day (next year's report) is proposed; an archive still being
written keeps an open end, up to today, for the nightly schedule.
"""

import datetime as dt
from dataclasses import dataclass

import dagster as dg

from callaudit.settings import Settings


@dataclass(frozen=True)
class GraphPartitions:
    """The partitions and backfill policy every partitioned definition shares."""

    daily: dg.DailyPartitionsDefinition
    yearly: dg.TimeWindowPartitionsDefinition
    #: By default a backfill of a range is one run, not a run per day: each day is still
    #: processed and written on its own inside the run (two at a time), so memory stays
    #: bounded. Single-run is also what `dg launch --partition-range` and `dagster asset
    #: materialize --partition-range` require. A deployment whose workers share a
    #: backfill sets `backfill_run_days`: the daemon then splits a range into runs of
    #: that many days, in dependency order (flags after the tables of their history).
    backfill_policy: dg.BackfillPolicy
    first_day: dt.date
    last_day: dt.date | None


def build_partitions(settings: Settings) -> GraphPartitions:
    """The partitions for ``settings``, its unset days taken from the archive."""
    window = settings.with_partition_window()
    first, last = window.first_day, window.last_day
    assert first is not None  # with_partition_window always sets it
    daily = dg.DailyPartitionsDefinition(
        start_date=first.isoformat(),
        # end_date is exclusive
        end_date=(last + dt.timedelta(days=1)).isoformat() if last else None,
        timezone="UTC",
    )
    yearly = dg.TimeWindowPartitionsDefinition(
        cron_schedule="0 0 1 1 *",
        fmt="%Y",
        start=str(first.year),
        end=str(last.year + 1) if last else None,
        timezone="UTC",
        end_offset=0 if last else 1,  # without an end, the current partial year too
    )
    policy = (
        dg.BackfillPolicy.multi_run(max_partitions_per_run=settings.backfill_run_days)
        if settings.backfill_run_days
        else dg.BackfillPolicy.single_run()
    )
    return GraphPartitions(daily, yearly, policy, first, last)
