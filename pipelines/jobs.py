"""Jobs: what a nightly run, a backfill chunk and a report rebuild materialise."""

import dagster as dg

from assets.partitions import daily_partitions

#: Every day-grain asset (tables, flags) with their checks, for one day or a range.
daily_job = dg.define_asset_job(
    name="daily_job",
    selection=dg.AssetSelection.groups("ingest", "usage", "flags").materializable(),
    partitions_def=daily_partitions,
    description="Raw logs of a day (or a range of days) to daily tables, checks and flags.",
)
