"""Asset checks: every table callaudit writes is validated before anything is built on it.

Each check runs a Great Expectations suite from ``expectations/`` or an exact
reconciliation (callaudit.validation) over all the days of the run: a nightly run checks
its day, a backfill chunk its whole range in one pass. Checks are blocking: a critical
failure fails the check with ERROR, and Dagster does not run anomaly_flags (after the
daily tables) or the report (after the flags) in that run. Per day, the outcome is in
the check's metadata (``failed_days``, ``failures``) and in the ``validation_results``
warehouse table, one partition per day.
"""

import datetime as dt

import dagster as dg

from callaudit import warehouse
from callaudit.assets.metadata import markdown_table
from callaudit.assets.raw import PARTNER_CONTRACTS
from callaudit.assets.resources import AuditResource
from callaudit.dates import days_of_partition_keys
from callaudit.progress import phase
from callaudit.schema import (
    ANOMALY_FLAGS,
    INGEST_DAILY,
    NETWORK_DAILY,
    PARTNER_DAILY,
    QUARANTINE,
    USAGE_DAILY,
)
from callaudit.validation import (
    CheckReport,
    daily_tables_checked,
    record_findings,
    summary_checks,
    table_checks,
    validate_flags,
    validate_summary,
)
from callaudit.validation.outcome import CRITICAL, WARNING
from callaudit.validation.summary_checks import load_summary

#: Failure rows shown in a check's metadata; the full list is in validation_results.
MAX_FAILURE_ROWS = 25


def run_days(context: dg.AssetCheckExecutionContext) -> list[dt.date]:
    """The days of the run: one partition, or a backfill chunk's range."""
    op = context.op_execution_context
    if not (op.has_partition_key or op.has_partition_key_range):
        raise dg.Failure(
            "callaudit's daily checks run for a day or a range of days: pick a partition"
        )
    return days_of_partition_keys(op.partition_keys)


#: How far after a run's last day its flags run may have recomputed dependent days
#: (callaudit.flags.freshness.dependent_days; the history window is at most 2 x 52 weeks).
_DEPENDENTS_REACH = dt.timedelta(days=2 * 52 * 7)


def recomputed_flag_days(warehouse_url: str, end: dt.date, run_id: str) -> list[dt.date]:
    """Days after ``end`` whose flags this run recomputed as dependents of its days:
    they are checked with the run's own days."""
    later = warehouse.day_manifests(
        warehouse_url, ANOMALY_FLAGS.name, end + dt.timedelta(days=1), end + _DEPENDENTS_REACH
    )
    return [day for day, manifest in later.items() if manifest.info.get("run_id") == run_id]


def _days_text(days: list[dt.date]) -> str:
    if not days:
        return "none"
    return ", ".join(d.isoformat() for d in days)


def check_result(report: CheckReport, asset_key: str | dg.AssetKey) -> dg.AssetCheckResult:
    """A Dagster check result for a report: which expectations failed, on which days, how
    many rows, and a few offending values."""
    critical = report.failures(CRITICAL)
    failing = critical or report.failures(WARNING)
    span = f"{report.days[0]} .. {report.days[-1]}" if report.days else "none"
    rows = [
        (f.day.isoformat(), f.label, f.severity, f.unexpected_count, "; ".join(f.sample)[:300])
        for f in sorted(failing, key=lambda f: (f.day, f.label))[:MAX_FAILURE_ROWS]
    ]
    metadata = {
        "days": dg.MetadataValue.text(span),
        "days_checked": len(report.days),
        "failed_days": dg.MetadataValue.text(_days_text(report.failed_days(CRITICAL))),
        "failed_day_count": len(report.failed_days(CRITICAL)),
        "warning_days": dg.MetadataValue.text(_days_text(report.failed_days(WARNING))),
        "failed_expectations": dg.MetadataValue.text(
            ", ".join(sorted({f.label for f in failing})) or "none"
        ),
        "unexpected_rows": sum(f.unexpected_count for f in failing),
        "expectations_evaluated": len({f.label for f in report.findings}),
        "seconds": round(report.seconds, 3),
    }
    if rows:
        metadata["failures"] = markdown_table(
            ["day", "expectation", "severity", "unexpected rows", "offending values"], rows
        )
    return dg.AssetCheckResult(
        asset_key=asset_key,
        check_name=report.check,
        passed=not failing,
        severity=dg.AssetCheckSeverity.ERROR if critical else dg.AssetCheckSeverity.WARN,
        description=report.summary(),
        metadata=metadata,
    )


def _suite_description(table: str) -> str:
    return (
        f"Great Expectations suite `expectations/{table}.json` on every day of the run: "
        "columns and types, non-null keys, unique grain, non-negative counts, sane ranges, "
        "rows per day within bounds."
    )


DAILY_CHECK_SPECS = [
    dg.AssetCheckSpec(
        table_checks.USAGE_SUITE,
        asset=USAGE_DAILY.name,
        blocking=True,
        description=_suite_description(USAGE_DAILY.name),
    ),
    dg.AssetCheckSpec(
        table_checks.USAGE_MATCHES_INGEST,
        asset=USAGE_DAILY.name,
        blocking=True,
        additional_deps=[INGEST_DAILY.name],
        description="Exact: the day's usage_daily calls add up to ingest_daily rows_valid.",
    ),
    dg.AssetCheckSpec(
        table_checks.PARTNER_SUITE,
        asset=PARTNER_DAILY.name,
        blocking=True,
        description=_suite_description(PARTNER_DAILY.name),
    ),
    dg.AssetCheckSpec(
        table_checks.PARTNER_MATCHES_USAGE,
        asset=PARTNER_DAILY.name,
        blocking=True,
        additional_deps=[USAGE_DAILY.name],
        description=(
            "Exact: partner_daily equals usage_daily rolled up per partner (calls, items, "
            "bytes, errors, restricted calls, distinct apps and endpoints)."
        ),
    ),
    dg.AssetCheckSpec(
        table_checks.INGEST_SUITE,
        asset=INGEST_DAILY.name,
        blocking=True,
        description=_suite_description(INGEST_DAILY.name),
    ),
    dg.AssetCheckSpec(
        table_checks.INGEST_ADDS_UP,
        asset=INGEST_DAILY.name,
        blocking=True,
        description=(
            "Exact: rows_read = rows_valid + duplicates + quarantined, and quarantined is "
            "the sum of its reasons."
        ),
    ),
    dg.AssetCheckSpec(
        table_checks.NETWORK_SUITE,
        asset=NETWORK_DAILY.name,
        blocking=True,
        description=(
            _suite_description(NETWORK_DAILY.name)
            + " A day without restricted-network access has no row, which is fine."
        ),
    ),
    dg.AssetCheckSpec(
        table_checks.QUARANTINE_SUITE,
        asset=QUARANTINE.name,
        blocking=True,
        description=(
            "Great Expectations suite `expectations/quarantine.json` on every day of the run: "
            "columns, a known reason, a detail and a source file on every rejected row, rows "
            "per day within bounds."
        ),
    ),
    dg.AssetCheckSpec(
        table_checks.QUARANTINE_MATCHES_INGEST,
        asset=QUARANTINE.name,
        blocking=True,
        additional_deps=[INGEST_DAILY.name],
        description=(
            "Exact: per day and reason, the rows in quarantine equal ingest_daily's "
            "quarantined_<reason>: no rejected row is lost or written twice."
        ),
    ),
    dg.AssetCheckSpec(
        table_checks.NO_DATA_GAPS,
        asset=INGEST_DAILY.name,
        blocking=False,
        description=(
            "Warns, naming the days and why, when a day of the run had no raw data (no "
            "day folder, no file, no row): a data gap, committed without tables. Not "
            "blocking: the other days get their flags and report, which says its figures "
            "are a lower bound. CALLAUDIT_FAIL_ON_GAPS=1 makes gaps fail the run instead."
        ),
    ),
]


def _publish(
    context: dg.AssetCheckExecutionContext, warehouse_url: str, reports: dict[str, CheckReport]
):
    """Record each day's outcome in validation_results, then yield the check results."""
    record_findings(
        warehouse_url, [f for r in reports.values() for f in r.findings], reports.keys()
    )
    for report in reports.values():
        context.log.info(report.summary())
        yield check_result(report, report.table)


@dg.multi_asset_check(
    specs=DAILY_CHECK_SPECS,
    name="daily_table_checks",
    description="Validates the five day tables for the run's days.",
)
def daily_table_checks(context: dg.AssetCheckExecutionContext, audit: AuditResource):
    days = run_days(context)
    warehouse_url = audit.settings().warehouse
    with phase("checks", f"daily tables of {len(days)} days", enabled=audit.progress):
        # validated as the days were committed (start_daily_tables), when still theirs
        reports = daily_tables_checked(warehouse_url, days)
        yield from _publish(context, warehouse_url, reports)


FLAG_CHECK_SPECS = [
    dg.AssetCheckSpec(
        table_checks.FLAGS_SUITE,
        asset=ANOMALY_FLAGS.name,
        blocking=True,
        description=(
            _suite_description(ANOMALY_FLAGS.name)
            + " Flag names and severities are the stable ones."
        ),
    ),
    dg.AssetCheckSpec(
        table_checks.UNKNOWN_PARTNERS_FLAGGED,
        asset=ANOMALY_FLAGS.name,
        blocking=True,
        additional_deps=[USAGE_DAILY.name, PARTNER_CONTRACTS],
        description=(
            "Every partner in usage_daily is in contracts.yaml or has an explicit "
            "no_agreement flag that day."
        ),
    ),
]


@dg.multi_asset_check(
    specs=FLAG_CHECK_SPECS,
    name="anomaly_flags_checks",
    description="Validates anomaly_flags for the run's days.",
)
def anomaly_flags_checks(context: dg.AssetCheckExecutionContext, audit: AuditResource):
    warehouse_url = audit.settings().warehouse
    days = run_days(context)
    days += recomputed_flag_days(warehouse_url, days[-1], context.run.run_id)
    known = [p.id for p in audit.load_contracts().partners]
    with phase("checks", f"anomaly_flags of {len(days)} days", enabled=audit.progress):
        reports = validate_flags(warehouse_url, days, known)
        yield from _publish(context, warehouse_url, reports)


def report_summary_checks(asset: dg.AssetKey) -> dg.AssetChecksDefinition:
    """Checks of the yearly report's ``<reports>/<year>/summary.json``, for the report
    asset ``asset`` (yearly partitions): its partners against the ``report_summary``
    suite, and its totals against the sum of the year's daily partitions."""
    specs = [
        dg.AssetCheckSpec(
            summary_checks.SUMMARY_SUITE,
            asset=asset,
            blocking=True,
            description=(
                "Great Expectations suite `expectations/report_summary.json` on the partners "
                "of summary.json: one entry per partner, non-negative figures, day counts "
                "within the year."
            ),
        ),
        dg.AssetCheckSpec(
            summary_checks.SUMMARY_MATCHES_DAYS,
            asset=asset,
            blocking=True,
            additional_deps=[PARTNER_DAILY.name, INGEST_DAILY.name],
            description=(
                "Exact: the summary's totals equal the sum of its partners and of the year's "
                "partner_daily days; each partner's calls, items, bytes and active days equal "
                "its days; data_quality rows_read, duplicates and quarantined equal ingest_daily."
            ),
        ),
    ]

    @dg.multi_asset_check(
        specs=specs,
        name=f"{asset.to_python_identifier()}_summary_checks",
        description="Validates the report's summary.json against the suite and the days.",
    )
    def _summary_checks(context: dg.AssetCheckExecutionContext, audit: AuditResource):
        settings = audit.settings()
        op = context.op_execution_context
        if not (op.has_partition_key or op.has_partition_key_range):
            raise dg.Failure("the report checks run for a year: pick a partition")
        reports: dict[str, list[CheckReport]] = {}
        for key in op.partition_keys:
            year = int(key[:4])
            summary = load_summary(settings.reports, year)
            for name, report in validate_summary(summary, settings.warehouse, year).items():
                reports.setdefault(name, []).append(report)
        for name, per_year in reports.items():
            merged = CheckReport(
                name,
                "report_summary",
                [d for r in per_year for d in r.days],
                [f for r in per_year for f in r.findings],
                sum(r.seconds for r in per_year),
            )
            yield check_result(merged, asset)

    return _summary_checks
