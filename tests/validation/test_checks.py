"""The asset checks in Dagster: materialised with the real daily tables and flags."""

import dagster as dg
import polars as pl

from callaudit import warehouse
from callaudit.assets.checks import anomaly_flags_checks, check_result, daily_table_checks
from callaudit.assets.resources import AuditResource
from callaudit.pipelines.backfill import _first_error as first_error
from callaudit.pipelines.tags import PARTITION_RANGE_END_TAG, PARTITION_RANGE_START_TAG
from callaudit.validation import failed_days
from callaudit.validation.outcome import CheckReport, Finding
from callaudit.validation.results import VALIDATION_RESULTS
from tests.graph import assets_def

daily_tables = assets_def("usage_daily")
anomaly_flags = assets_def("anomaly_flags")
DAILY_CHECKS = [daily_table_checks]
FLAG_CHECKS = [anomaly_flags_checks]


def resources(wh):
    return {
        "audit": AuditResource(
            archive=wh.archive,
            contracts=wh.contracts,
            warehouse=wh.url,
            reports=wh.reports,
            workers=1,
        )
    }


def range_tags(days):
    return {
        PARTITION_RANGE_START_TAG: days[0].isoformat(),
        PARTITION_RANGE_END_TAG: days[-1].isoformat(),
    }


def evaluations(result):
    return {e.check_name: e for e in result.get_asset_check_evaluations()}


def materialized(result):
    return {m.asset_key.to_user_string() for m in result.get_asset_materialization_events()}


def checks_then_flags(wh):
    """The daily checks over the days already written, then the flags they may block."""
    return dg.materialize(
        [daily_tables, anomaly_flags, *DAILY_CHECKS],
        selection=dg.AssetSelection.checks(*DAILY_CHECKS)
        | dg.AssetSelection.assets("anomaly_flags"),
        resources=resources(wh),
        tags=range_tags(wh.days),
        raise_on_error=False,
    )


def test_check_result_names_failed_days_expectations_and_offending_values(clean):
    day = clean.days[1]
    report = CheckReport(
        "usage_daily_suite",
        "usage_daily",
        clean.days,
        [
            Finding(
                day,
                "usage_daily_suite",
                "usage_daily",
                "expect_column_values_to_be_between",
                "calls",
                "critical",
                False,
                2,
                ("calls=-1", "calls=-4"),
            )
        ],
    )
    result = check_result(report, "usage_daily")
    assert not result.passed
    assert result.severity == dg.AssetCheckSeverity.ERROR
    assert result.metadata["failed_days"].value == day.isoformat()
    assert (
        result.metadata["failed_expectations"].value == "expect_column_values_to_be_between(calls)"
    )
    assert result.metadata["unexpected_rows"].value == 2
    assert "calls=-4" in result.metadata["failures"].value


def test_a_clean_range_run_passes_every_check_and_builds_the_flags(raw_archive):
    result = dg.materialize(
        [daily_tables, anomaly_flags, *DAILY_CHECKS, *FLAG_CHECKS],
        resources=resources(raw_archive),
        tags=range_tags(raw_archive.days),
    )
    checks = evaluations(result)
    # 10 daily (the data-gap warning among them; every table has its suite), 2 on the flags
    assert len(checks) == 12
    assert {"network_daily_suite", "quarantine_suite", "quarantine_matches_ingest"} <= set(checks)
    assert all(e.passed for e in checks.values()), {
        n: e.description for n, e in checks.items() if not e.passed
    }
    assert "anomaly_flags" in materialized(result)
    assert checks["usage_daily_suite"].metadata["days_checked"].value == 3
    assert failed_days(raw_archive.url, raw_archive.days) == {}


def test_a_blocking_failure_keeps_anomaly_flags_from_running_and_names_the_day(clean):
    bad = clean.days[2]
    clean.corrupt("partner_daily", bad, lambda f: pl.concat([f, f.head(1)]))
    result = checks_then_flags(clean)
    assert not result.success
    assert "anomaly_flags" not in materialized(result)
    suite = evaluations(result)["partner_daily_suite"]
    assert not suite.passed
    assert suite.metadata["failed_days"].value == bad.isoformat()
    assert (
        "expect_compound_columns_to_be_unique(date, partner_id)"
        in suite.metadata["failed_expectations"].value
    )
    assert list(failed_days(clean.url, clean.days)) == [bad]


def test_a_rejected_row_missing_from_quarantine_fails_its_reconciliation(clean):
    bad = clean.days[1]
    clean.corrupt("ingest_daily", bad, lambda f: f.with_columns(pl.col("quarantined_null_key") + 1))
    result = checks_then_flags(clean)
    check = evaluations(result)["quarantine_matches_ingest"]
    assert not check.passed
    assert check.severity == dg.AssetCheckSeverity.ERROR
    assert check.metadata["failed_days"].value == bad.isoformat()
    failures = check.metadata["failures"].value
    assert "reason=null_key" in failures and "negative_count" not in failures


def test_a_failed_blocking_check_is_one_line_naming_day_expectation_column_and_value(clean):
    bad = clean.days[2]
    clean.corrupt("partner_daily", bad, lambda f: f.with_columns(pl.col("calls") * 2))
    result = checks_then_flags(clean)

    line = first_error(result)  # what `callaudit backfill` prints after "failed: "

    assert "\n" not in line
    assert line.startswith("blocking check failed: partner_daily: partner_daily_matches_usage:")
    assert f"first {bad}: partner_daily_equals_usage_daily_rolled_up(calls, " in line
    assert "(2 row(s), e.g. partner_id=acme, partner_daily_vs_usage=calls 52 vs 26)" in line


def test_a_nightly_run_records_the_result_for_its_day(clean):
    day = clean.days[0]
    result = dg.materialize(
        [daily_tables, *DAILY_CHECKS],
        resources=resources(clean),
        partition_key=day.isoformat(),
    )
    assert evaluations(result)["ingest_daily_adds_up"].metadata["days"].value == f"{day} .. {day}"
    recorded = warehouse.read_partition(clean.url, VALIDATION_RESULTS, day)
    assert set(recorded["check"]) == {e for e in evaluations(result)}
    assert not warehouse.has_partition(clean.url, VALIDATION_RESULTS, clean.days[1])


def test_a_report_built_in_a_later_run_refuses_a_year_with_failed_days(clean):
    bad = clean.days[1]
    clean.corrupt("ingest_daily", bad, lambda f: f.with_columns(rows_read=pl.col("rows_read") + 1))
    checks = dg.materialize(
        [daily_tables, anomaly_flags, *DAILY_CHECKS],
        selection=dg.AssetSelection.checks(*DAILY_CHECKS)
        | dg.AssetSelection.assets("anomaly_flags"),
        resources=resources(clean),
        tags=range_tags(clean.days),
        raise_on_error=False,
    )
    assert not evaluations(checks)["ingest_daily_adds_up"].passed

    report = dg.materialize(
        [assets_def("yearly_report")],
        resources=resources(clean),
        partition_key="2022",
        raise_on_error=False,
    )
    assert not report.success
    failure = next(e for e in report.all_events if e.is_step_failure)
    message = failure.event_specific_data.error.message
    assert "1 day(s) failed validation" in message
    assert bad.isoformat() in message
