"""Reports over any period (a quarter, an agreement's term): one run of period_report_job.

The yearly report is an asset with a partition per year. A period chosen by a reader is
not a partition of anything, so it is a job with run config (``start``, ``end``): each
run is recorded in the instance (the UI lists it, with its logs), builds the report with
the same code as the yearly asset (``build_in_instance``: same refusals, same
provenance, fees prorated the same way) and writes ``<reports>/<start>_<end>/``.
"""

import datetime as dt

import dagster as dg

from callaudit.assets.resources import AuditResource
from callaudit.assets.yearly_report import build_in_instance
from callaudit.dates import parse_day
from callaudit.report import Period, headline

PERIOD_REPORT_JOB = "period_report_job"
PERIOD_REPORT_OP = "period_report"


class PeriodReportConfig(dg.Config):
    """The period: first and last UTC day, inclusive, YYYY-MM-DD."""

    start: str
    end: str

    def period(self) -> Period:
        try:
            return Period.between(parse_day(self.start), parse_day(self.end))
        except ValueError as exc:
            raise dg.Failure(description=f"period {self.start}..{self.end}: {exc}") from None


@dg.op(
    name=PERIOD_REPORT_OP,
    description=(
        "Build the report of start..end from the warehouse into <reports>/<start>_<end>/: "
        "findings, reviews, validation of every day, provenance; refuses failed days and "
        "missing or stale flags."
    ),
)
def period_report(
    context: dg.OpExecutionContext, config: PeriodReportConfig, audit: AuditResource
) -> None:
    built = build_in_instance(
        context.instance, audit.settings(), config.period(), report_run=context.run_id
    )
    context.log.info(f"{built.files.html}: {headline(built.report)}")
    if built.files.pdf_note:
        context.log.warning(built.files.pdf_note)


def build_period_report_job() -> dg.JobDefinition:
    @dg.job(
        name=PERIOD_REPORT_JOB,
        description=(
            "A report over any period (run config: start and end days), written to "
            "<reports>/<start>_<end>/ by the same code as the yearly report."
        ),
    )
    def period_report_job():
        period_report()

    return period_report_job


def period_run_config(start: dt.date, end: dt.date) -> dict:
    return {
        "ops": {PERIOD_REPORT_OP: {"config": {"start": start.isoformat(), "end": end.isoformat()}}}
    }
