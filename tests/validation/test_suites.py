"""The suites in expectations/ and the GX runner, on small frames."""

import datetime as dt
import json

import polars as pl

from callaudit.schema import FLAG_NAMES, SEVERITIES
from callaudit.validation.runner import run_suite
from callaudit.validation.suites import load_suite, suite_names, suite_path


def test_every_validated_table_has_a_suite_named_after_it():
    for table in (
        "usage_daily",
        "partner_daily",
        "ingest_daily",
        "anomaly_flags",
        "report_summary",
    ):
        assert load_suite(table)["name"] == table
    assert set(suite_names()) >= {"usage_daily", "partner_daily", "ingest_daily", "anomaly_flags"}


def test_flag_suite_knows_exactly_the_stable_flag_names_and_severities():
    suite = json.loads(suite_path("anomaly_flags").read_text())
    sets = {
        e["kwargs"]["column"]: e["kwargs"]["value_set"]
        for e in suite["expectations"]
        if e["type"] == "expect_column_values_to_be_in_set"
    }
    assert sets["flag"] == list(FLAG_NAMES)
    assert sets["severity"] == list(SEVERITIES)


def test_runner_counts_unexpected_rows_per_day_and_keeps_offending_values():
    suite = {
        "name": "tiny",
        "expectations": [
            {
                "type": "expect_column_values_to_be_between",
                "kwargs": {"column": "calls", "min_value": 0},
            },
        ],
    }
    day1, day2 = dt.date(2022, 3, 1), dt.date(2022, 3, 2)
    frame = pl.DataFrame({"date": [day1, day1, day2], "calls": [5, -3, 7]})
    result = run_suite(suite, frame)
    assert not result.success
    outcome = result.failed()[0]
    assert outcome.unexpected_count == 1
    assert outcome.unexpected_by_day == {day1: 1}
    assert outcome.sample_by_day[day1] == ("calls=-3",)
    by_day = {f.day: f.success for f in result.findings("c", "t", [day1, day2])}
    assert by_day == {day1: False, day2: True}


def test_a_warning_expectation_fails_without_failing_the_suite():
    suite = {
        "name": "tiny_warning",
        "expectations": [
            {
                "type": "expect_column_values_to_be_between",
                "kwargs": {"column": "calls", "max_value": 10},
                "severity": "warning",
            },
        ],
    }
    result = run_suite(suite, pl.DataFrame({"calls": [5, 50]}))
    assert result.success
    assert result.failed()[0].severity == "warning"


def test_a_suite_edited_under_the_same_name_is_judged_by_its_new_expectations():
    # The worker keeps each suite it has added; an edited suite must replace it.
    frame = pl.DataFrame({"calls": [5, 50]})
    loose = {
        "name": "tiny_edited",
        "expectations": [
            {
                "type": "expect_column_values_to_be_between",
                "kwargs": {"column": "calls", "max_value": 100},
            }
        ],
    }
    strict = {
        "name": "tiny_edited",
        "expectations": [
            {
                "type": "expect_column_values_to_be_between",
                "kwargs": {"column": "calls", "max_value": 10},
            }
        ],
    }
    assert run_suite(loose, frame).success
    assert not run_suite(strict, frame).success
    assert run_suite(loose, frame).success


def test_a_suite_kept_between_runs_takes_each_runs_parameters():
    suite = {
        "name": "tiny_parameters",
        "expectations": [
            {
                "type": "expect_column_values_to_be_between",
                "kwargs": {"column": "calls", "max_value": {"$PARAMETER": "most_calls"}},
            }
        ],
    }
    frame = pl.DataFrame({"calls": [5, 50]})
    assert run_suite(suite, frame, parameters={"most_calls": 100}).success
    failed = run_suite(suite, frame, parameters={"most_calls": 10})
    assert [o.unexpected_count for o in failed.failed()] == [1]
    assert run_suite(suite, frame, parameters={"most_calls": 100}).success
