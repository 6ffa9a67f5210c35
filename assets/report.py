"""yearly_report: the evidence pack of a year, one partition per year.

It depends on every day of the year of the daily tables and anomaly_flags (Dagster
maps the daily partitions onto the year itself), reads them through the warehouse and
writes ``<reports>/<year>/`` with ``callaudit.report``. A year without any data fails
with a one-line reason instead of writing an empty report.

Checks on the report (e.g. the GX suite for summary.json) attach through
``build_yearly_report(summary_checks=...)``: each is an AssetCheckSpec and a function
of the summary.json dict returning an AssetCheckResult.
"""

from collections.abc import Callable, Iterator, Sequence

import dagster as dg

from assets.metadata import OWNERS, markdown_table
from assets.partitions import yearly_partitions
from assets.resources import CallauditConfig
from callaudit.dates import year_days
from callaudit.report import NoDataError, ValidationOutcome, gather_year, headline, write_report
from callaudit.report.tables import summary
from callaudit.report.text import partner_headline
from callaudit.validation.results import failed_days

#: Warehouse tables the report reads; each is an asset of the daily graph.
REPORT_DEPS: tuple[str, ...] = (
    "usage_daily",
    "partner_daily",
    "network_daily",
    "ingest_daily",
    "anomaly_flags",
)

SummaryCheck = tuple[dg.AssetCheckSpec, Callable[[dict], dg.AssetCheckResult]]


def validation_outcomes(context: dg.AssetExecutionContext) -> list[ValidationOutcome] | None:
    """The latest result of every asset check on the tables the report reads, from the
    Dagster instance; None when none was recorded (the report then says so)."""
    from assets.checks import DAILY_CHECK_SPECS, FLAG_CHECK_SPECS

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


def build_yearly_report(summary_checks: Sequence[SummaryCheck] = ()) -> dg.AssetsDefinition:
    """The yearly_report asset, with optional checks run on its summary.json."""
    checks = list(summary_checks)

    @dg.asset(
        key="yearly_report",
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
        partitions_def=yearly_partitions,
        deps=list(REPORT_DEPS),
        check_specs=[spec for spec, _ in checks],
    )
    def yearly_report(
        context: dg.AssetExecutionContext, callaudit: CallauditConfig
    ) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
        year = int(context.partition_key)
        # Blocking checks stop the report inside one run; a report built in a later run
        # (nightly refresh, `callaudit report`) must refuse data that failed them too.
        failed = failed_days(callaudit.warehouse, year_days(year))
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
                callaudit.warehouse,
                callaudit.load_contracts(),
                year,
                validation=validation_outcomes(context),
            )
        except NoDataError as exc:
            raise dg.Failure(description=str(exc)) from None
        files = write_report(report, callaudit.reports)
        if files.pdf_note:
            context.log.info(files.pdf_note)
        totals = report.totals()
        lines = [f"**{headline(report).split(': ', 1)[0]}**", ""] if report.partial else []
        lines += [f"- {partner_headline(report, p)}" for p in report.partners if p.calls]
        yield dg.MaterializeResult(
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
        if checks:
            data = summary(report)
            for _, run_check in checks:
                yield run_check(data)

    return yearly_report


yearly_report = build_yearly_report()
