"""Jobs: what a nightly run, a backfill chunk and a report rebuild materialise."""

from typing import Any, TypeAlias

import dagster as dg

from callaudit.assets.arrival import ARRIVAL_CHECK_KEY
from callaudit.assets.yearly_report import YEARLY_REPORT

#: What ``dg.define_asset_job`` returns; Dagster exports no public name for its type.
AssetJob: TypeAlias = Any

DAILY_JOB = "daily_job"
REPORT_JOB = "report_job"


def build_daily_job(daily: dg.PartitionsDefinition) -> AssetJob:
    """Every day-grain asset (tables, flags) with their checks, for one day or a range."""
    return dg.define_asset_job(
        name=DAILY_JOB,
        # Not the freshness check: it asks whether yesterday is in, not whether this run
        # wrote its days well (freshness_sensor evaluates it).
        selection=dg.AssetSelection.groups("ingest", "usage", "flags").materializable()
        - dg.AssetSelection.checks(ARRIVAL_CHECK_KEY),
        partitions_def=daily,
        description="Raw logs of a day (or a range of days) to daily tables, checks and flags.",
    )


def build_report_job(yearly: dg.PartitionsDefinition) -> AssetJob:
    """One year's report from the warehouse (no daily table is recomputed)."""
    return dg.define_asset_job(
        name=REPORT_JOB,
        selection=dg.AssetSelection.assets(YEARLY_REPORT),
        partitions_def=yearly,
        description="Rebuild one year's report from the warehouse (no daily table is recomputed).",
    )
