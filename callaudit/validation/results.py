"""validation_results: what every check found, per day, kept in the warehouse.

A backfill validates a range of days in one run; Dagster records one check result per
run, so the per-day answer lives here too: one partition per day, one row per
expectation judged that day. Several checks share a day's partition: each one replaces
only its own rows.
"""

import datetime as dt
from collections.abc import Iterable, Sequence

import polars as pl

from callaudit import warehouse
from callaudit.schema import DATE_COLUMN, Column, Table
from callaudit.validation.outcome import CRITICAL, Finding

VALIDATION_RESULTS = Table(
    name="validation_results",
    description="One row per expectation or reconciliation judged on a day, by the asset checks.",
    grain=("check", "expectation", "column"),
    columns=(
        Column("check", pl.String(), "Asset check that judged it."),
        Column("table", pl.String(), "Table validated."),
        Column("expectation", pl.String(), "GX expectation type or reconciliation name."),
        Column("column", pl.String(), "Column(s) it is about, if any."),
        Column("severity", pl.String(), "critical, warning or info."),
        Column("success", pl.Boolean(), "Whether the day met it."),
        Column("unexpected_count", pl.Int64(), "Rows of the day that did not."),
        Column("sample", pl.String(), "A few offending values, newline separated."),
    ),
)


def findings_frame(findings: Iterable[Finding]) -> pl.DataFrame:
    """Findings as rows of validation_results, with their ``date``."""
    rows = [
        {
            DATE_COLUMN: f.day,
            "check": f.check,
            "table": f.table,
            "expectation": f.expectation,
            "column": f.column,
            "severity": f.severity,
            "success": f.success,
            "unexpected_count": f.unexpected_count,
            "sample": "\n".join(f.sample),
        }
        for f in findings
    ]
    schema = {DATE_COLUMN: pl.Date(), **VALIDATION_RESULTS.schema}
    return pl.DataFrame(rows, schema=schema)


def record_findings(warehouse_url: str, findings: Sequence[Finding], checks: Iterable[str]) -> int:
    """Replace the rows of ``checks`` in each day's partition; returns days written."""
    checks = set(checks)
    frame = findings_frame(findings)
    days = sorted({f.day for f in findings})
    for day in days:
        kept = (
            warehouse.read_partition(warehouse_url, VALIDATION_RESULTS, day).filter(
                ~pl.col("check").is_in(sorted(checks))
            )
            if warehouse.has_partition(warehouse_url, VALIDATION_RESULTS, day)
            else VALIDATION_RESULTS.empty()
        )
        new = frame.filter(pl.col(DATE_COLUMN) == day).drop(DATE_COLUMN)
        warehouse.write_partition(warehouse_url, VALIDATION_RESULTS, day, pl.concat([kept, new]))
    return len(days)


def failed_days(
    warehouse_url: str, days: Iterable[dt.date], severity: str = CRITICAL
) -> dict[dt.date, list[str]]:
    """Days whose recorded validation failed, with the failed ``check: expectation`` labels.

    For the CLI after a backfill and for the report, which must not state numbers from a
    day that failed its checks.
    """
    results = warehouse.read_days(warehouse_url, VALIDATION_RESULTS, days)
    failed = results.filter(~pl.col("success") & (pl.col("severity") == severity))
    out: dict[dt.date, list[str]] = {}
    for day, check, expectation, column in failed.select(
        DATE_COLUMN, "check", "expectation", "column"
    ).iter_rows():
        label = f"{check}: {expectation}" + (f"({column})" if column else "")
        out.setdefault(day, []).append(label)
    return out
