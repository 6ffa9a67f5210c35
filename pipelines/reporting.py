"""Rebuilding yearly reports through Dagster: one run of report_job per year.

Each run is recorded in the instance (the UI shows the yearly_report partition and its
metadata); the path and headline printed by the CLI come from that materialization.
"""

import datetime as dt

import dagster as dg

from assets.partitions import yearly_partitions
from assets.resources import CallauditConfig
from callaudit.report.figures import NoDataError, coverage, no_data_message
from pipelines.backfill import run_job

REPORT_ASSET = "yearly_report"

report_job = dg.define_asset_job(
    name="report_job",
    selection=dg.AssetSelection.assets(REPORT_ASSET),
    partitions_def=yearly_partitions,
    description="Rebuild one year's report from the warehouse (no daily table is recomputed).",
)


def build_reports(
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    config: dict,
    start: dt.date,
    end: dt.date,
) -> list[tuple[str, str]]:
    """Run report_job for every year that ``start..end`` touches, in order; return
    (report.html path, headline) per year. Raises ValueError with a one-line reason
    when a year is outside the report partitions or its run fails (e.g. no data)."""
    keys = yearly_partitions.get_partition_keys(dynamic_partitions_store=instance)
    built = []
    for year in range(start.year, end.year + 1):
        key = str(year)
        if key not in keys:
            span = f"{keys[0]}..{keys[-1]}" if keys else "none"
            raise ValueError(
                f"no report partition for {year}: reports exist for {span} "
                "(set CALLAUDIT_FIRST_DAY for older archives)"
            )
        warehouse = _warehouse(config)
        if coverage(warehouse, year) is None:
            raise NoDataError(no_data_message(warehouse, year))
        run = run_job(
            defs, "report_job", instance, config=config, partition_key=key, label=f"report {key}"
        )
        if not run.success:
            error = run.error
            if error.startswith("dagster.") and ": " in error:
                error = error.split(": ", 1)[1]  # the exception's class path helps no reader
            raise ValueError(f"report {year} failed: {error}")
        built.append(_path_and_headline(instance, run.run_id))
    return built


def _warehouse(config: dict) -> str:
    fields = config.get("resources", {}).get("callaudit", {}).get("config", {})
    return fields.get("warehouse") or CallauditConfig().warehouse


def _path_and_headline(instance: dg.DagsterInstance, run_id: str) -> tuple[str, str]:
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey(REPORT_ASSET)), limit=20
    ).records
    for record in records:
        if record.run_id == run_id and record.asset_materialization is not None:
            metadata = record.asset_materialization.metadata
            path = metadata["path"].value
            headline = metadata["headline"].value if "headline" in metadata else ""
            return str(path), str(headline)
    raise ValueError(f"report run {run_id} recorded no yearly_report materialization")
