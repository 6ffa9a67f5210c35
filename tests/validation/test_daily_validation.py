"""Validating the day-grain tables: a clean range passes, each corruption fails its check."""

import polars as pl

from callaudit import warehouse
from callaudit.schema import USAGE_DAILY
from callaudit.validation import failed_days, record_findings, validate_daily_tables, validate_flags
from callaudit.validation.frames import validation_frame
from callaudit.validation.results import VALIDATION_RESULTS
from callaudit.validation.runner import all_or_nothing, run_suite
from callaudit.validation.suites import load_suite
from tests.validation.conftest import UNKNOWN_PARTNER

KNOWN = ["acme", "globex"]


def failing(reports):
    """{check: {expectation label}} of every critical failure."""
    out = {}
    for name, report in reports.items():
        for f in report.failures("critical"):
            out.setdefault(name, set()).add(f.label)
    return out


def test_a_clean_range_passes_every_daily_check(clean):
    reports = validate_daily_tables(clean.url, clean.days)
    assert failing(reports) == {}
    assert not any(r.has_warnings for r in reports.values())
    assert all(r.days == clean.days for r in reports.values())


def test_a_duplicate_grain_row_fails_the_usage_suite_on_that_day_only(clean):
    day = clean.days[1]
    clean.corrupt("usage_daily", day, lambda f: pl.concat([f, f.head(1)]))
    report = validate_daily_tables(clean.url, clean.days)["usage_daily_suite"]
    [finding] = [
        f for f in report.failures() if f.expectation == "expect_compound_columns_to_be_unique"
    ]
    assert finding.day == day
    assert finding.unexpected_count == 2  # both copies of the grain
    assert "partner_id=" in finding.sample[0]
    assert report.failed_days() == [day]


def test_a_negative_count_fails_the_partner_suite_naming_the_value(clean):
    day = clean.days[0]
    clean.corrupt("partner_daily", day, lambda f: f.with_columns(items=pl.col("items") * -1))
    report = validate_daily_tables(clean.url, clean.days)["partner_daily_suite"]
    labels = {f.label for f in report.failures()}
    assert "expect_column_values_to_be_between(items)" in labels
    finding = next(
        f for f in report.failures() if f.label == "expect_column_values_to_be_between(items)"
    )
    assert finding.sample[0].startswith("items=-")


def test_rows_read_that_no_longer_add_up_fail_the_ingest_reconciliation(clean):
    day = clean.days[2]
    clean.corrupt("ingest_daily", day, lambda f: f.with_columns(rows_read=pl.col("rows_read") + 1))
    reports = validate_daily_tables(clean.url, clean.days)
    assert failing(reports) == {
        "ingest_daily_adds_up": {
            "rows_read_equals_valid_plus_duplicates_plus_quarantined(rows_read)"
        }
    }
    assert reports["ingest_daily_adds_up"].failed_days() == [day]


def test_usage_calls_that_drift_from_partner_daily_fail_both_reconciliations(clean):
    day = clean.days[0]
    clean.corrupt("usage_daily", day, lambda f: f.with_columns(calls=pl.col("calls") + 1))
    reports = validate_daily_tables(clean.url, clean.days)
    assert set(failing(reports)) == {"usage_daily_matches_ingest", "partner_daily_matches_usage"}
    sample = reports["partner_daily_matches_usage"].failures()[0].sample[0]
    assert "calls" in sample and "vs" in sample


def test_a_missing_day_fails_every_suite_for_that_day(clean):
    day = clean.days[1]
    warehouse.write_partition(
        clean.url,
        "usage_daily",
        day,
        warehouse.read_partition(clean.url, "usage_daily", day).head(0),
    )
    report = validate_daily_tables(clean.url, clean.days)["usage_daily_suite"]
    assert {f.expectation for f in report.failures()} == {"partition_has_at_least_1_rows"}
    assert report.failed_days() == [day]


def flags_frame(rows):
    from callaudit.schema import ANOMALY_FLAGS

    defaults = {
        "metric": "calls",
        "observed": 1.0,
        "threshold": 0.0,
        "expected": None,
        "score": None,
        "agreement_id": None,
        "detail": "x",
        "severity": "critical",
    }
    return pl.DataFrame([{**defaults, **r} for r in rows], schema=ANOMALY_FLAGS.schema)


def write_flags(clean, flags_by_day):
    for day in clean.days:
        warehouse.write_partition(
            clean.url, "anomaly_flags", day, flags_frame(flags_by_day.get(day, []))
        )


def test_flags_pass_when_the_unknown_partner_is_flagged_no_agreement(clean):
    write_flags(clean, {clean.days[1]: [{"partner_id": UNKNOWN_PARTNER, "flag": "no_agreement"}]})
    assert failing(validate_flags(clean.url, clean.days, KNOWN)) == {}


def test_an_unknown_flag_name_fails_the_flag_suite_and_is_named(clean):
    write_flags(
        clean,
        {
            clean.days[1]: [
                {"partner_id": UNKNOWN_PARTNER, "flag": "no_agreement"},
                {"partner_id": "acme", "flag": "made_up_flag"},
            ]
        },
    )
    report = validate_flags(clean.url, clean.days, KNOWN)["anomaly_flags_suite"]
    [finding] = report.failures()
    assert finding.label == "expect_column_values_to_be_in_set(flag)"
    assert finding.sample == ("flag=made_up_flag, partner_id=acme, metric=calls",)


def test_an_unknown_partner_without_a_flag_fails_naming_the_partner(clean):
    write_flags(clean, {})
    report = validate_flags(clean.url, clean.days, KNOWN)["anomaly_flags_cover_unknown_partners"]
    [finding] = report.failures()
    assert finding.day == clean.days[1]
    assert f"partner_id={UNKNOWN_PARTNER}" in finding.sample[0]


def test_failed_days_are_recorded_per_day_and_a_rerun_replaces_them(clean):
    bad = clean.days[1]
    clean.corrupt("usage_daily", bad, lambda f: pl.concat([f, f.head(1)]))
    reports = validate_daily_tables(clean.url, clean.days)
    record_findings(clean.url, [f for r in reports.values() for f in r.findings], reports)
    assert list(failed_days(clean.url, clean.days)) == [bad]
    assert warehouse.read_partition(clean.url, VALIDATION_RESULTS, clean.days[0])["success"].all()

    clean.corrupt("usage_daily", bad, lambda f: f.unique(["partner_id", "app_id", "endpoint"]))
    reports = validate_daily_tables(clean.url, clean.days)
    record_findings(clean.url, [f for r in reports.values() for f in r.findings], reports)
    assert failed_days(clean.url, clean.days) == {}


def test_a_stream_connection_delivering_a_thousand_tweets_per_call_is_valid_usage(clean):
    """Seen on a generated year (seed 11): a sample-stream call returned ~1,100 tweets."""
    day = clean.days[0]

    def stream_heavy(frame: pl.DataFrame) -> pl.DataFrame:
        return frame.with_columns(items=pl.col("calls") * 1_130)

    clean.corrupt("usage_daily", day, stream_heavy)
    clean.corrupt("partner_daily", day, lambda f: f.with_columns(items=pl.col("calls") * 1_130))
    reports = validate_daily_tables(clean.url, [day])
    assert "usage_daily_suite" not in failing(reports)


def test_each_check_replaces_only_its_own_rows_of_a_day_and_keeps_the_days_commit_info(clean):
    daily = validate_daily_tables(clean.url, clean.days)
    flags = validate_flags(clean.url, clean.days, [*KNOWN, UNKNOWN_PARTNER])
    record_findings(clean.url, [f for r in daily.values() for f in r.findings], daily)
    record_findings(clean.url, [f for r in flags.values() for f in r.findings], flags)
    day, others = clean.days[1], (clean.days[0], clean.days[2])
    before = {d: warehouse.read_partition(clean.url, VALIDATION_RESULTS, d) for d in clean.days}
    assert set(before[day]["check"]) == set(daily) | set(flags)
    info = warehouse.day_manifest(clean.url, VALIDATION_RESULTS.name, day).info

    # The daily checks again, on one day only: that day's daily rows are replaced (now
    # after the flag rows), the flag rows and the other days stay as they were.
    clean.corrupt("usage_daily", day, lambda f: pl.concat([f, f.head(1)]))
    again = validate_daily_tables(clean.url, [day])
    assert record_findings(clean.url, [f for r in again.values() for f in r.findings], again) == 1
    after = warehouse.read_partition(clean.url, VALIDATION_RESULTS, day)
    flag_rows = before[day].filter(pl.col("check").is_in(list(flags)))
    assert after.head(flag_rows.height).equals(flag_rows)
    assert after.height == before[day].height
    assert "usage_daily_suite: expect_compound_columns_to_be_unique" in " ".join(
        failed_days(clean.url, [day])[day]
    )
    assert warehouse.day_manifest(clean.url, VALIDATION_RESULTS.name, day).info == info
    for other in others:
        assert warehouse.read_partition(clean.url, VALIDATION_RESULTS, other).equals(before[other])


def test_a_passing_suite_has_the_findings_gx_complete_result_would_give(clean):
    """A suite without ``mostly`` is judged from GX's quick BOOLEAN_ONLY result when every
    expectation passes; ``mostly: 1.0`` (the same rule) makes GX give its COMPLETE result.
    The findings are the same either way, and a failure is still counted per day."""
    usage = load_suite("usage_daily")
    complete = {
        **usage,
        "expectations": [
            {**e, "kwargs": {**e["kwargs"], "mostly": 1.0}}
            if e["type"].startswith("expect_column_values")
            else e
            for e in usage["expectations"]
        ],
    }
    assert all_or_nothing(usage) and not all_or_nothing(complete)
    frame = validation_frame("usage_daily", warehouse.read_days(clean.url, USAGE_DAILY, clean.days))

    def findings(spec: dict, rows: pl.DataFrame) -> list[tuple]:
        result = run_suite(spec, rows)
        return sorted(
            (f.day, f.expectation, f.column, f.success, f.unexpected_count, f.sample)
            for f in result.findings("usage_daily_suite", "usage_daily", clean.days)
        )

    passing = findings(usage, frame)
    assert passing and all(f[3] for f in passing)
    assert passing == findings(complete, frame)

    bad_day = clean.days[1]
    bad = frame.with_columns(
        pl.when(pl.col("date") == bad_day).then(-1).otherwise(pl.col("calls")).alias("calls")
    )
    failing_findings = findings(usage, bad)
    assert failing_findings == findings(complete, bad)
    assert {f[0] for f in failing_findings if not f[3]} == {bad_day}
