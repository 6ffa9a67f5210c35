"""Every case of the bad-input corpus gives exactly its expected outcome, and the
aggregates refuse a day rather than write a total that does not fit int64."""

import polars as pl
import pytest

from callaudit.aggregate import SumOverflowError, aggregate_day
from callaudit.ingest import ingest_day
from callaudit.schema import QUARANTINE, QUARANTINE_REASONS, RAW_SCHEMA
from tests.badinput.corpus import CASES, INT64_MAX, Case
from tests.rawlogs import DAY, call, write_raw


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_the_ingest_gives_each_bad_input_its_expected_outcome(tmp_path, case: Case):
    for raw in case.files:
        write_raw(tmp_path, raw.rows, name=raw.name, **raw.types)
    day = ingest_day(str(tmp_path), DAY)
    stats = day.stats

    counts = (stats["rows_read"], stats["rows_valid"], stats["duplicates"], stats["quarantined"])
    assert counts == case.counts
    assert stats["rows_read"] == stats["rows_valid"] + stats["duplicates"] + stats["quarantined"]
    assert day.quarantine.select("reason", "detail").rows() == list(case.rejected)
    for reason in QUARANTINE_REASONS:
        expected = sum(r == reason for r, _ in case.rejected)
        assert stats[f"quarantined_{reason}"] == expected, reason
    assert day.quarantine.schema == QUARANTINE.schema  # every raw field kept as text
    assert day.quarantine["source_file"].str.ends_with(".parquet").all()
    if case.verbatim:
        first = day.quarantine.row(0, named=True)
        assert {k: first[k] for k in case.verbatim} == case.verbatim
    for name, value in case.stats.items():
        assert stats[name] == value, name
    valid = day.valid.sort("request_id")
    for column, values in case.valid.items():
        assert valid[column].to_list() == values, column


def frame(*rows: dict) -> pl.DataFrame:
    """Valid calls as ``ingest_day`` hands them to the aggregate."""
    return pl.DataFrame(list(rows)).select(
        pl.col("request_id").cast(pl.String),
        *(pl.col(c).cast(t) for c, t in RAW_SCHEMA.items() if c != "request_id"),
    )


def test_four_calls_whose_items_wrap_to_4_refuse_the_day_naming_the_group():
    day = frame(*(call(i, items=4_611_686_018_427_387_905) for i in range(4)))
    with pytest.raises(SumOverflowError) as refused:
        aggregate_day(day, [])
    assert str(refused.value) == (
        "usage_daily: items of partner_id 'acme', app_id 'acme-search', endpoint "
        "'GET /2/tweets/search/recent' totals 18446744073709551620, beyond int64 "
        "(9223372036854775807): the day is refused rather than written wrapped"
    )


def test_three_calls_near_int64_max_refuse_the_day_instead_of_a_negative_sum():
    day = frame(*(call(i, bytes=INT64_MAX - 10) for i in range(3)))
    with pytest.raises(SumOverflowError, match=r"bytes of partner_id 'acme'.*27670116110564327391"):
        aggregate_day(day, [])


def test_a_partner_total_that_wraps_across_endpoints_names_the_groups_it_adds_up():
    day = frame(*(call(i, items=2**62, endpoint=f"GET /{i}") for i in range(3)))
    with pytest.raises(SumOverflowError) as refused:
        aggregate_day(day, [])
    message = str(refused.value)
    assert message.startswith(
        "partner_daily: items of partner_id 'acme' totals 13835058055282163712"
    )
    assert (
        "from 3 app/endpoint groups (app_id 'acme-search', endpoint 'GET /0': 4611686018427387904"
        in message
    )


def test_a_total_of_exactly_int64_max_is_written_exactly():
    day = frame(call(1, items=2**62), call(2, items=2**62 - 1))
    aggregates = aggregate_day(day, [])
    assert aggregates.usage_daily["items"].to_list() == [INT64_MAX]
    assert aggregates.partner_daily["items"].to_list() == [INT64_MAX]
    assert aggregates.usage_daily.schema["items"] == pl.Int64
