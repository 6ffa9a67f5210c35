"""Validating the day-grain tables of a range of days: suites and reconciliations.

Each function reads the days' partitions once, runs the table's GX suite over the whole
range in one batch, adds the exact Polars reconciliations, and returns one
``CheckReport`` per named check, findings split per day. No Dagster here: the asset
checks wrap these, and benchmarks call them directly.
"""

import datetime as dt
import time
from collections.abc import Callable, Iterable, Sequence

import polars as pl

from callaudit import warehouse
from callaudit.validation import reconcile
from callaudit.validation.frames import validation_frame
from callaudit.validation.outcome import CheckReport, Finding
from callaudit.validation.runner import run_suite

# Check names, as they appear in Dagster and in validation_results.
USAGE_SUITE = "usage_daily_suite"
USAGE_MATCHES_INGEST = "usage_daily_matches_ingest"
PARTNER_SUITE = "partner_daily_suite"
PARTNER_MATCHES_USAGE = "partner_daily_matches_usage"
INGEST_SUITE = "ingest_daily_suite"
INGEST_ADDS_UP = "ingest_daily_adds_up"
FLAGS_SUITE = "anomaly_flags_suite"
UNKNOWN_PARTNERS_FLAGGED = "anomaly_flags_cover_unknown_partners"

#: Check name -> table it is about, for the daily tables.
DAILY_CHECK_TABLES: dict[str, str] = {
    USAGE_SUITE: "usage_daily",
    USAGE_MATCHES_INGEST: "usage_daily",
    PARTNER_SUITE: "partner_daily",
    PARTNER_MATCHES_USAGE: "partner_daily",
    INGEST_SUITE: "ingest_daily",
    INGEST_ADDS_UP: "ingest_daily",
}
FLAG_CHECK_TABLES: dict[str, str] = {
    FLAGS_SUITE: "anomaly_flags",
    UNKNOWN_PARTNERS_FLAGGED: "anomaly_flags",
}


def _read(
    warehouse_url: str, table: str, days: Sequence[dt.date]
) -> tuple[pl.DataFrame, list[dt.date]]:
    present = [d for d in days if warehouse.has_partition(warehouse_url, table, d)]
    return warehouse.read_days(warehouse_url, table, present), present


def _suite_check(
    check: str,
    table: str,
    frame: pl.DataFrame,
    present: Sequence[dt.date],
    days: list[dt.date],
    *,
    min_rows: int,
    parameters: dict | None = None,
) -> CheckReport:
    started = time.perf_counter()
    result = run_suite(table, validation_frame(table, frame), parameters=parameters)
    findings = [
        *reconcile.partitions_have_rows(
            frame, days, present, check=check, table=table, min_rows=min_rows
        ),
        *result.findings(check, table, days),
    ]
    return CheckReport(check, table, days, findings, time.perf_counter() - started)


def _reconciliation(
    check: str, table: str, days: list[dt.date], findings: Callable[[], list[Finding]]
) -> CheckReport:
    """Run an exact reconciliation and time it like a suite."""
    started = time.perf_counter()
    return CheckReport(check, table, days, findings(), time.perf_counter() - started)


def validate_daily_tables(warehouse_url: str, days: Iterable[dt.date]) -> dict[str, CheckReport]:
    """usage_daily, partner_daily and ingest_daily of ``days``: suites and reconciliations."""
    days = sorted(set(days))
    usage, usage_days = _read(warehouse_url, "usage_daily", days)
    partner, partner_days = _read(warehouse_url, "partner_daily", days)
    ingest, ingest_days = _read(warehouse_url, "ingest_daily", days)
    reports = {
        USAGE_SUITE: _suite_check(USAGE_SUITE, "usage_daily", usage, usage_days, days, min_rows=1),
        PARTNER_SUITE: _suite_check(
            PARTNER_SUITE, "partner_daily", partner, partner_days, days, min_rows=1
        ),
        INGEST_SUITE: _suite_check(
            INGEST_SUITE, "ingest_daily", ingest, ingest_days, days, min_rows=1
        ),
    }
    reports[INGEST_ADDS_UP] = _reconciliation(
        INGEST_ADDS_UP,
        "ingest_daily",
        days,
        lambda: reconcile.ingest_adds_up(ingest, days, check=INGEST_ADDS_UP),
    )
    reports[USAGE_MATCHES_INGEST] = _reconciliation(
        USAGE_MATCHES_INGEST,
        "usage_daily",
        days,
        lambda: reconcile.usage_matches_ingest(usage, ingest, days, check=USAGE_MATCHES_INGEST),
    )
    reports[PARTNER_MATCHES_USAGE] = _reconciliation(
        PARTNER_MATCHES_USAGE,
        "partner_daily",
        days,
        lambda: reconcile.partner_matches_usage(partner, usage, days, check=PARTNER_MATCHES_USAGE),
    )
    return reports


def validate_flags(
    warehouse_url: str, days: Iterable[dt.date], known_partners: Iterable[str]
) -> dict[str, CheckReport]:
    """anomaly_flags of ``days``: its suite, and unknown partners covered by a flag."""
    days = sorted(set(days))
    flags, flag_days = _read(warehouse_url, "anomaly_flags", days)
    usage, _ = _read(warehouse_url, "usage_daily", days)
    reports = {
        FLAGS_SUITE: _suite_check(FLAGS_SUITE, "anomaly_flags", flags, flag_days, days, min_rows=0)
    }
    reports[UNKNOWN_PARTNERS_FLAGGED] = _reconciliation(
        UNKNOWN_PARTNERS_FLAGGED,
        "anomaly_flags",
        days,
        lambda: reconcile.unknown_partners_flagged(
            usage, flags, known_partners, days, check=UNKNOWN_PARTNERS_FLAGGED
        ),
    )
    return reports
