"""Evaluation of detected flags against a generator's ground truth."""

import datetime as dt

import polars as pl
import pytest

from callaudit.flags.evaluate import evaluate, evaluation_title, format_evaluation, read_truth

D1, D2, D3 = dt.date(2022, 3, 1), dt.date(2022, 3, 2), dt.date(2022, 3, 3)

TRUTH_CSV = """\
date,partner_id,flag,metric,detail
2022-03-01,microsoft,daily_call_limit,calls,planted over-limit day
2022-03-02,microsoft,daily_call_limit,calls,planted over-limit day
2022-03-02,openai,volume_spike,calls,"planted spike, x3"
"""


def flags(rows: list[tuple[dt.date, str, str, str]]) -> pl.DataFrame:
    schema = {
        "date": pl.Date(),
        "partner_id": pl.String(),
        "flag": pl.String(),
        "metric": pl.String(),
    }
    return pl.DataFrame(rows, schema=schema, orient="row")


@pytest.fixture
def truth(tmp_path) -> pl.DataFrame:
    path = tmp_path / "flags.csv"
    path.write_text(TRUTH_CSV)
    return read_truth(path)


def test_read_truth_parses_dates(truth):
    assert truth.schema["date"] == pl.Date()
    assert truth.height == 3


def test_precision_and_recall_per_kind_with_missed_and_extra_days(truth):
    found = flags(
        [
            (D1, "microsoft", "daily_call_limit", "calls"),
            (D3, "microsoft", "daily_call_limit", "calls"),
            (D2, "openai", "volume_spike", "calls"),
            (D2, "openai", "volume_spike", "items"),  # same day, other metric: one hit
        ]
    )

    result = evaluate(found, truth)

    limit = result.kind("daily_call_limit")
    assert (limit.tp, limit.fp, limit.fn) == (1, 1, 1)
    assert (limit.precision, limit.recall, limit.f1) == (0.5, 0.5, 0.5)
    assert limit.missed == [(D2, "microsoft")]
    assert limit.extra == [(D3, "microsoft")]
    spike = result.kind("volume_spike")
    assert (spike.tp, spike.fp, spike.fn, spike.f1) == (1, 0, 0, 1.0)
    assert not result.perfect


def test_evaluation_can_be_restricted_to_the_days_run(truth):
    found = flags([(D1, "microsoft", "daily_call_limit", "calls")])

    result = evaluate(found, truth, start=D1, end=D1)

    assert result.perfect


def test_the_table_lists_every_kind_and_the_missed_days(truth):
    text = format_evaluation(evaluate(flags([]), truth))

    assert text.splitlines()[0].split() == ["flag", "precision", "recall", "f1", "tp", "fp", "fn"]
    assert "no_agreement" in text
    assert "daily_call_limit missed (2): 2022-03-01 microsoft, 2022-03-02 microsoft" in text


def test_the_evaluation_is_titled_and_explains_flag_days_against_flag_rows():
    """A spike flagged on calls and on items is two rows of anomaly_flags and one flag
    day: the title says so, so the counts the backfill prints do not look contradictory."""
    found = flags(
        [
            (D2, "openai", "volume_spike", "calls"),
            (D2, "openai", "volume_spike", "items"),
            (D1, "microsoft", "daily_call_limit", "calls"),
        ]
    )

    title = evaluation_title(found, "data/truth/flags.csv", D1, D3)

    assert title.splitlines()[0] == (
        "Flags found against the planted truth (data/truth/flags.csv), 2022-03-01 to 2022-03-03"
    )
    assert "volume_spike 2 rows = 1 flag day" in title
    assert "daily_call_limit" not in title
