"""Validation of callaudit's tables: GX suites from ``expectations/`` and exact
reconciliations, reported per day. No Dagster import; GX is imported lazily."""

from callaudit.validation.outcome import CheckReport, Finding
from callaudit.validation.results import VALIDATION_RESULTS, failed_days, record_findings
from callaudit.validation.runner import SuiteResult, run_suite
from callaudit.validation.summary_checks import validate_summary
from callaudit.validation.table_checks import (
    daily_tables_checked,
    start_daily_tables,
    validate_daily_tables,
    validate_flags,
)

__all__ = [
    "VALIDATION_RESULTS",
    "CheckReport",
    "Finding",
    "SuiteResult",
    "daily_tables_checked",
    "failed_days",
    "record_findings",
    "run_suite",
    "start_daily_tables",
    "validate_daily_tables",
    "validate_flags",
    "validate_summary",
]
