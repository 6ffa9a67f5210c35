"""Rebuilding yearly reports through Dagster: one run of report_job per year.

Each run is recorded in the instance (the UI shows the yearly_report partition and its
metadata); the path and headline printed by the CLI come from that materialization.
"""

import dagster as dg

from callaudit.assets.yearly_report import YEARLY_REPORT
from callaudit.pipelines.backfill import run_config_for, run_job
from callaudit.pipelines.jobs import REPORT_JOB
from callaudit.report.figures import NoDataError, coverage, no_data_message
from callaudit.settings import Settings


def build_reports(
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    settings: Settings,
    years: list[int],
) -> list[tuple[str, str]]:
    """Run report_job for each of ``years``, in order; return (report.html path,
    headline) per year. Raises NoDataError or ValueError with a one-line reason when a
    year has no data, is outside the report partitions, or its run fails."""
    report_partitions = defs.resolve_job_def(REPORT_JOB).partitions_def
    keys = report_partitions.get_partition_keys(dynamic_partitions_store=instance)
    built = []
    for year in years:
        if coverage(settings.warehouse, year) is None:
            raise NoDataError(no_data_message(settings.warehouse, year))
        key = str(year)
        if key not in keys:
            span = f"{keys[0]}..{keys[-1]}" if keys else "none"
            raise ValueError(
                f"no report partition for {year}: the graph's report partitions are {span} "
                "(CALLAUDIT_FIRST_DAY and CALLAUDIT_LAST_DAY set them)"
            )
        run = run_job(
            defs,
            REPORT_JOB,
            instance,
            config=run_config_for(settings),
            partition_key=key,
            label=f"report {key}",
        )
        if not run.success:
            error = run.error
            if error.startswith("dagster.") and ": " in error:
                error = error.split(": ", 1)[1]  # the exception's class path helps no reader
            raise ValueError(f"report {year} failed: {error}")
        built.append(_path_and_headline(instance, run.run_id))
    return built


def _path_and_headline(instance: dg.DagsterInstance, run_id: str) -> tuple[str, str]:
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=YEARLY_REPORT), limit=20
    ).records
    for record in records:
        if record.run_id == run_id and record.asset_materialization is not None:
            metadata = record.asset_materialization.metadata
            path = metadata["path"].value
            headline = metadata["headline"].value if "headline" in metadata else ""
            return str(path), str(headline)
    raise ValueError(f"report run {run_id} recorded no yearly_report materialization")
