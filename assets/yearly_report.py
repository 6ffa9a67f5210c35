"""yearly_report: the evidence pack of a year, one partition per year.

It depends on every day of the year of the daily tables and anomaly_flags (Dagster
maps the daily partitions onto the year itself), reads them through the warehouse and
writes ``<reports>/<year>/`` with ``callaudit.report``. A year without any data fails
with a one-line reason instead of writing an empty report. The checks of its
summary.json are in ``assets/checks.py``.
"""

import dagster as dg

from callaudit.assets.checks import DAILY_CHECK_SPECS, FLAG_CHECK_SPECS
from callaudit.assets.metadata import OWNERS, markdown_table
from callaudit.assets.resources import AuditResource
from callaudit.dates import year_days
from callaudit.report import NoDataError, ValidationOutcome, gather_year, headline, write_report
from callaudit.report.text import partner_headline
from callaudit.schema import ANOMALY_FLAGS, INGEST_DAILY, NETWORK_DAILY, PARTNER_DAILY, USAGE_DAILY
from callaudit.validation.results import failed_days

YEARLY_REPORT = dg.AssetKey("yearly_report")

#: Warehouse tables the report reads; each is an asset of the daily graph.
REPORT_DEPS: tuple[str, ...] = tuple(
    t.name for t in (USAGE_DAILY, PARTNER_DAILY, NETWORK_DAILY, INGEST_DAILY, ANOMALY_FLAGS)
)


def validation_outcomes(context: dg.AssetExecutionContext) -> list[ValidationOutcome] | None:
    """The latest result of every asset check on the tables the report reads, from the
    Dagster instance; None when none was recorded (the report then says so)."""
    keys = [
        spec.key
        for spec in (*DAILY_CHECK_SPECS, *FLAG_CHECK_SPECS)
        if spec.asset_key.to_user_string() in REPORT_DEPS
    ]
    try:
        records = context.instance.event_log_storage.get_latest_asset_check_execution_by_key(keys)
    except Exception as exc:  # the report must not fail for want of check history
        context.log.warning(f"could not read asset check results: {exc}")
        return None
    outcomes = []
    for key in sorted(records, key=lambda k: (k.asset_key.to_user_string(), k.name)):
        event = records[key].event
        evaluation = (
            event.dagster_event.event_specific_data if event and event.dagster_event else None
        )
        if evaluation is None or not hasattr(evaluation, "passed"):
            continue
        outcomes.append(
            ValidationOutcome(
                check=key.name,
                asset=key.asset_key.to_user_string(),
                passed=bool(evaluation.passed),
                severity=str(getattr(evaluation.severity, "value", evaluation.severity)),
                description=evaluation.description or "",
            )
        )
    return outcomes or None


def build_yearly_report(yearly: dg.PartitionsDefinition) -> dg.AssetsDefinition:
    """The yearly_report asset, one partition per year."""

    @dg.asset(
        key=YEARLY_REPORT,
        description=(
            "The year's evidence pack per partner: calls, tweets, bytes and active days; "
            "usage by app and endpoint; monthly trend; flags by kind with their days; "
            "restricted-network access timeline; fees at the agreed rates and at list "
            "price; platform totals and data quality. Writes <reports>/<year>/report.html "
            "(self-contained), report.pdf (when Chromium is installed), report.md, "
            "summary.json, partners.csv and flags.csv."
        ),
        group_name="report",
        owners=OWNERS,
        kinds={"polars", "html"},
        partitions_def=yearly,
        deps=list(REPORT_DEPS),
    )
    def yearly_report(
        context: dg.AssetExecutionContext, audit: AuditResource
    ) -> dg.MaterializeResult:
        year = int(context.partition_key)
        settings = audit.settings()
        # Blocking checks stop the report inside one run; a report built in a later run
        # (nightly refresh, `callaudit report`) must refuse data that failed them too.
        failed = failed_days(settings.warehouse, year_days(year))
        if failed:
            listed = "; ".join(
                f"{day}: {', '.join(labels[:3])}" for day, labels in sorted(failed.items())[:5]
            )
            raise dg.Failure(
                description=(
                    f"not building the {year} report: {len(failed)} day(s) failed validation "
                    f"({listed}). Fix the data and re-run those days."
                ),
                metadata={"failed_days": ", ".join(str(d) for d in sorted(failed))},
            )
        try:
            report = gather_year(
                settings.warehouse,
                audit.load_contracts(),
                year,
                validation=validation_outcomes(context),
            )
        except NoDataError as exc:
            raise dg.Failure(description=str(exc)) from None
        files = write_report(report, settings.reports)
        if files.pdf_note:
            context.log.info(files.pdf_note)
        totals = report.totals()
        lines = [f"**{headline(report).split(': ', 1)[0]}**", ""] if report.partial else []
        lines += [f"- {partner_headline(report, p)}" for p in report.partners if p.calls]
        return dg.MaterializeResult(
            metadata={
                "path": dg.MetadataValue.path(files.html),
                "folder": dg.MetadataValue.path(files.folder),
                "files": dg.MetadataValue.text(", ".join(files.files)),
                "headline": dg.MetadataValue.text(headline(report)),
                "headlines": dg.MetadataValue.md("\n".join(lines) or "no partner called the API"),
                "coverage": dg.MetadataValue.text(f"{report.start} .. {report.end}"),
                "partial_year": report.partial,
                "partners": totals["partners"],
                "total_calls": totals["calls"],
                "total_items": totals["items"],
                "flags": totals["flags"],
                "fees_total": dg.MetadataValue.float(totals["fees_total"]),
                "top_partners": markdown_table(
                    ["partner", "calls", "items", "flagged days"],
                    [(p.name, p.calls, p.items, p.flagged_days) for p in report.partners[:10]],
                ),
            }
        )

    return yearly_report
