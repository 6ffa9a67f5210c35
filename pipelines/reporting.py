"""Rebuilding reports through Dagster: a run of report_job per year, or of
period_report_job for any other period.

Each run is recorded in the instance (the UI shows the yearly_report partition and its
metadata, or the period run and its logs); the path, headline and PDF note printed by
the CLI come from that materialization or from the written summary.json.
"""

import datetime as dt
import json
from typing import NamedTuple

import dagster as dg

from callaudit import storage
from callaudit.assets.yearly_report import YEARLY_REPORT
from callaudit.pipelines.backfill import run_config_for, run_job
from callaudit.pipelines.jobs import REPORT_JOB
from callaudit.pipelines.period_report import PERIOD_REPORT_JOB, period_run_config
from callaudit.report.figures import NoDataError, Period, coverage, no_data_message
from callaudit.report.write import report_folder
from callaudit.settings import Settings


class BuiltReport(NamedTuple):
    """What the CLI prints of a report it built."""

    path: str  # report.html
    headline: str
    pdf_note: str  # why there is no PDF ("" when there is one)


def _failed(run, what: str) -> ValueError:
    """One line: the reason (a refusal names its days), then the run whose event log in
    the Dagster instance holds the full log."""
    error = run.error
    if error.startswith("dagster.") and ": " in error:
        error = error.split(": ", 1)[1]  # the exception's class path helps no reader
    return ValueError(f"report {what} failed: {error} (full log: Dagster run {run.run_id})")


def build_reports(
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    settings: Settings,
    years: list[int],
) -> list[BuiltReport]:
    """Run report_job for each of ``years``, in order. Raises NoDataError or ValueError
    with a one-line reason when a year has no data, is outside the report partitions,
    or its run fails (a refused year names its days)."""
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
            raise _failed(run, str(year))
        built.append(_from_materialization(instance, run.run_id))
    return built


def build_period_report(
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    settings: Settings,
    start: dt.date,
    end: dt.date,
) -> BuiltReport:
    """Run period_report_job for ``start..end``; the report lands in
    ``<reports>/<start>_<end>/``."""
    period = Period.between(start, end)
    if coverage(settings.warehouse, period) is None:
        raise NoDataError(no_data_message(settings.warehouse, period))
    run = run_job(
        defs,
        PERIOD_REPORT_JOB,
        instance,
        config={**run_config_for(settings), **period_run_config(start, end)},
        label=f"report {period.title}",
    )
    if not run.success:
        raise _failed(run, period.title)
    folder = report_folder(settings.reports, period)
    written = json.loads(storage.read_text(storage.join(folder, "summary.json")))
    note = "" if storage.exists(storage.join(folder, "report.pdf")) else _pdf_note()
    return BuiltReport(storage.join(folder, "report.html"), written["headline"], note)


def _pdf_note() -> str:
    from callaudit.report.write import NO_CHROMIUM

    return NO_CHROMIUM


def _from_materialization(instance: dg.DagsterInstance, run_id: str) -> BuiltReport:
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=YEARLY_REPORT), limit=20
    ).records
    for record in records:
        if record.run_id == run_id and record.asset_materialization is not None:
            metadata = record.asset_materialization.metadata
            path = metadata["path"].value
            headline = metadata["headline"].value if "headline" in metadata else ""
            pdf = str(metadata["pdf"].value) if "pdf" in metadata else ""
            note = "" if pdf.startswith("report.pdf") else pdf
            return BuiltReport(str(path), str(headline), note)
    raise ValueError(f"report run {run_id} recorded no yearly_report materialization")
