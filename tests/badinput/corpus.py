"""The bad-input corpus: small raw days a hostile or careless writer could ship, each
with what the ingest must make of it.

Every case is one good call beside the bad one(s), written in code as Parquet with the
column types given (the rest as the log shipper writes them, see ``tests/rawlogs.py``).
The expected outcome names the reason, the exact ``detail`` and the text the quarantine
keeps, and the day's counts, so a case reads as an example of the rule it pins.
"""

import datetime as dt
import decimal
from dataclasses import dataclass, field

import pyarrow as pa

from tests.rawlogs import at, call

GOOD = call(100)
INT64_MAX = 2**63 - 1
EPOCH_US_10H = 1_646_128_800_000_000  # 2022-03-01T10:00:00Z
NEXT_DAY = dt.date(2022, 3, 2)


@dataclass(frozen=True)
class RawFile:
    rows: list[dict]
    types: dict[str, pa.DataType] = field(default_factory=dict)
    name: str = "part-0.parquet"


@dataclass(frozen=True)
class Case:
    id: str
    files: tuple[RawFile, ...]
    #: (rows_read, rows_valid, duplicates, quarantined)
    counts: tuple[int, int, int, int]
    #: reason and detail of every quarantined row, in file order
    rejected: tuple[tuple[str, str], ...] = ()
    #: fields of the first quarantined row, as the quarantine keeps them (text)
    verbatim: dict[str, str] = field(default_factory=dict)
    #: columns of the valid rows, sorted by request_id (as the day's id type gives them)
    valid: dict[str, list] = field(default_factory=dict)
    #: other ingest_daily figures of the day
    stats: dict[str, object] = field(default_factory=dict)


def one_file(rows: list[dict], **types: pa.DataType) -> tuple[RawFile, ...]:
    return (RawFile(rows, types),)


CASES: tuple[Case, ...] = (
    # --- floats where integers belong --------------------------------------------------
    Case(
        "an items count with a fraction is not truncated",
        one_file([GOOD, call(1, items=2.7)], items=pa.float64()),
        counts=(2, 1, 0, 1),
        rejected=(("uncastable_value", "items='2.7' is not an exact int64"),),
        verbatim={"items": "2.7"},
        valid={"items": [10]},
    ),
    Case(
        "NaN, inf and 1e30 items are not nulls counted as valid calls",
        one_file(
            [GOOD, call(1, items=float("nan")), call(2, items=float("inf")), call(3, items=1e30)],
            items=pa.float64(),
        ),
        counts=(4, 1, 0, 3),
        rejected=(
            ("uncastable_value", "items='NaN' is not an exact int64"),
            ("uncastable_value", "items='inf' is not an exact int64"),
            ("uncastable_value", "items='1e+30' is not an exact int64"),
        ),
    ),
    Case(
        "a float count that is an exact integer is that integer",
        one_file(
            [GOOD, call(1, items=3.0, bytes=1_000_000_000_000.0)],
            items=pa.float64(),
            bytes=pa.float64(),
        ),
        counts=(2, 2, 0, 0),
        valid={"items": [3, 10], "bytes": [1_000_000_000_000, 25_000]},
    ),
    Case(
        "an integral float above 2^53 stands for many integers and is refused",
        one_file([GOOD, call(1, bytes=2.0**53 + 2)], bytes=pa.float64()),
        counts=(2, 1, 0, 1),
        rejected=(("uncastable_value", "bytes='9007199254740994.0' is not an exact int64"),),
    ),
    Case(
        "a decimal count converts only without a fraction",
        one_file(
            [
                call(100, items=decimal.Decimal("10")),
                call(1, items=decimal.Decimal("2.70")),
                call(2, items=decimal.Decimal("3.00")),
            ],
            items=pa.decimal128(10, 2),
        ),
        counts=(3, 2, 0, 1),
        rejected=(("uncastable_value", "items='2.70' is not an exact int64"),),
        valid={"items": [3, 10]},
    ),
    Case(
        "a boolean is not a count",
        one_file([call(100, items=False), call(1, items=True)], items=pa.bool_()),
        counts=(2, 0, 0, 2),
        rejected=(
            ("uncastable_value", "items='false' is not an exact int64"),
            ("uncastable_value", "items='true' is not an exact int64"),
        ),
    ),
    # --- integers that do not fit -------------------------------------------------------
    Case(
        "a uint64 above int64 max is not nulled",
        one_file([GOOD, call(1, bytes=2**64 - 1)], bytes=pa.uint64()),
        counts=(2, 1, 0, 1),
        rejected=(("uncastable_value", "bytes='18446744073709551615' is not an exact int64"),),
        verbatim={"bytes": "18446744073709551615"},
    ),
    Case(
        "a status beyond int32 is not wrapped",
        one_file([GOOD, call(1, status=2**40)], status=pa.int64()),
        counts=(2, 1, 0, 1),
        rejected=(("uncastable_value", "status='1099511627776' is not an exact int32"),),
    ),
    Case(
        "text counts convert when they are integers, padded or signed",
        one_file(
            [
                call(100, latency_ms="120"),
                call(1, latency_ms=" 120 "),
                call(2, latency_ms="+7"),
                call(3, latency_ms="12.5"),
            ],
            latency_ms=pa.string(),
        ),
        counts=(4, 3, 0, 1),
        rejected=(("uncastable_value", "latency_ms='12.5' is not an exact int64"),),
        valid={"latency_ms": [120, 7, 120]},
    ),
    # --- counts no call can return ------------------------------------------------------
    Case(
        "four calls of 4.6e18 items are quarantined, not summed to 4",
        one_file(
            [GOOD, *(call(i, items=4_611_686_018_427_387_905) for i in range(1, 5))],
            items=pa.int64(),
        ),
        counts=(5, 1, 0, 4),
        rejected=(("implausible_count", "items=4611686018427387905 is above 1000000000 per call"),)
        * 4,
        valid={"items": [10]},
    ),
    Case(
        "three calls at int64 max - 10 are quarantined, not summed negative",
        one_file([GOOD, *(call(i, bytes=INT64_MAX - 10) for i in range(1, 4))], bytes=pa.int64()),
        counts=(4, 1, 0, 3),
        rejected=(
            ("implausible_count", "bytes=9223372036854775797 is above 1000000000000 per call"),
        )
        * 3,
    ),
    Case(
        "the plausible maxima themselves are valid",
        one_file(
            [GOOD, call(1, items=10**9, bytes=10**12, latency_ms=604_800_000)],
            items=pa.int64(),
            bytes=pa.int64(),
            latency_ms=pa.int64(),
        ),
        counts=(2, 2, 0, 0),
        valid={"items": [10**9, 10], "bytes": [10**12, 25_000]},
    ),
    Case(
        "a latency over a week is implausible",
        one_file([GOOD, call(1, latency_ms=604_800_001)], latency_ms=pa.int64()),
        counts=(2, 1, 0, 1),
        rejected=(("implausible_count", "latency_ms=604800001 is above 604800000 per call"),),
    ),
    Case(
        "a negative count is negative before it is implausible",
        one_file([GOOD, call(1, items=-5, bytes=10**13)], bytes=pa.int64()),
        counts=(2, 1, 0, 1),
        rejected=(("negative_count", "negative items"),),
    ),
    # --- request ids ----------------------------------------------------------------------
    Case(
        "a float request id is not turned into its scientific rendering",
        one_file([GOOD, call(1, request_id=1.2573989182533456e19)], request_id=pa.float64()),
        counts=(2, 1, 0, 1),
        rejected=(
            ("uncastable_value", "request_id='1.2573989182533456e+19' is not an exact uint64"),
        ),
        verbatim={"request_id": "1.2573989182533456e+19"},
        valid={"request_id": [100]},
    ),
    Case(
        "a float request id that is an exact integer meets the same integer id",
        (
            RawFile([GOOD, call(7)], name="a.parquet"),
            RawFile(
                [call(7, request_id=7.0), call(8, request_id=7.5)],
                {"request_id": pa.float64()},
                name="b.parquet",
            ),
        ),
        counts=(4, 2, 1, 1),
        rejected=(("uncastable_value", "request_id='7.5' is not an exact uint64"),),
        valid={"request_id": [7, 100]},
    ),
    Case(
        "a negative integer request id is not a uint64",
        one_file([GOOD, call(1, request_id=-5)], request_id=pa.int64()),
        counts=(2, 1, 0, 1),
        rejected=(("uncastable_value", "request_id='-5' is not an exact uint64"),),
    ),
    Case(
        "empty request ids are missing keys, not duplicates of each other",
        one_file(
            [
                call(100, request_id="100"),
                call(1, request_id=""),
                call(2, request_id=""),
                call(3, request_id=" \t"),
            ],
            request_id=pa.string(),
        ),
        counts=(4, 1, 0, 3),
        rejected=(("null_key", "empty request_id"),) * 3,
        verbatim={"request_id": ""},
    ),
    Case(
        "a re-delivery with other content is counted, and the first file's copy kept",
        (
            RawFile([GOOD, call(1, items=10)], name="a.parquet"),
            RawFile([call(1, items=99), call(100)], name="b.parquet"),
        ),
        counts=(4, 2, 2, 0),
        valid={"items": [10, 10]},
        stats={"conflicting_duplicates": 1},
    ),
    Case(
        "a re-delivery of the same call is a plain duplicate",
        (RawFile([GOOD, call(1)], name="a.parquet"), RawFile([call(1)], name="b.parquet")),
        counts=(3, 2, 1, 0),
        stats={"conflicting_duplicates": 0},
    ),
    # --- other keys -------------------------------------------------------------------------
    Case(
        "empty or blank partner, app and endpoint ids are missing keys",
        one_file([GOOD, call(1, partner_id=""), call(2, app_id=" \t"), call(3, endpoint="   ")]),
        counts=(4, 1, 0, 3),
        rejected=(
            ("null_key", "empty partner_id"),
            ("null_key", "empty app_id"),
            ("null_key", "empty endpoint"),
        ),
        verbatim={"partner_id": ""},
    ),
    Case(
        "a blank key in one file of the day is found among the day's keys",
        (
            RawFile([GOOD, call(1)], name="a.parquet"),
            RawFile([call(2, partner_id=" "), call(3, partner_id="acme")], name="b.parquet"),
        ),
        counts=(4, 3, 0, 1),
        rejected=(("null_key", "empty partner_id"),),
        verbatim={"partner_id": " "},
    ),
    Case(
        "an integer partner id is its digits, exactly",
        (
            RawFile([GOOD], name="a.parquet"),
            RawFile([call(1, partner_id=7)], {"partner_id": pa.int64()}, name="b.parquet"),
        ),
        counts=(2, 2, 0, 0),
        valid={"partner_id": ["7", "acme"]},
    ),
    Case(
        "a float or boolean where a text key belongs is not text",
        (
            RawFile([GOOD], name="a.parquet"),
            RawFile([call(1, partner_id=7.5)], {"partner_id": pa.float64()}, name="b.parquet"),
            RawFile([call(2, app_id=True)], {"app_id": pa.bool_()}, name="c.parquet"),
        ),
        counts=(3, 1, 0, 2),
        rejected=(
            ("uncastable_value", "partner_id='7.5' is not text"),
            ("uncastable_value", "app_id='true' is not text"),
        ),
        verbatim={"partner_id": "7.5"},
    ),
    # --- files of the day folder -------------------------------------------------------------
    Case(
        "hidden files, other suffixes and sub-folders are left out, and named",
        (
            RawFile([GOOD], name="part-0.parquet"),
            RawFile([call(1)], name="_x.parquet"),
            RawFile([call(2)], name=".x.parquet"),
            RawFile([call(3)], name="x.PARQUET"),
            RawFile([call(4)], name="sub/x.parquet"),
        ),
        counts=(1, 1, 0, 0),
        stats={
            "files": 1,
            "ignored_files": 4,
            "ignored_file_names": ".x.parquet\n_x.parquet\nsub/\nx.PARQUET",
        },
    ),
    # --- timestamps ---------------------------------------------------------------------------
    Case(
        "an unparseable timestamp is uncastable, not a null key",
        one_file(
            [call(100, ts="2022-03-01T10:00:00Z"), call(1, ts="garbage"), call(2, ts="")],
            ts=pa.string(),
        ),
        counts=(3, 1, 0, 2),
        rejected=(
            ("uncastable_value", "ts='garbage' is not a timestamp"),
            ("null_key", "empty ts"),
        ),
        verbatim={"ts": "garbage"},
    ),
    Case(
        "timestamps as text with an offset are read as the UTC instant",
        one_file([call(100, ts="2022-03-01T01:30:00+02:00")], ts=pa.string()),
        counts=(1, 0, 0, 1),
        rejected=(("ts_outside_day", "ts not on 2022-03-01"),),
        verbatim={"ts": "2022-03-01T01:30:00+02:00"},
    ),
    Case(
        "millisecond timestamps beyond the microsecond range are refused, not wrapped",
        one_file([call(100, ts=EPOCH_US_10H // 1000), call(1, ts=2**62)], ts=pa.timestamp("ms")),
        counts=(2, 1, 0, 1),
        rejected=(
            ("uncastable_value", "ts='4611686018427387904 ms since 1970-01-01' is not a timestamp"),
        ),
        valid={"ts": [at(10)]},
    ),
    Case(
        "nanosecond timestamps are floored to the microsecond, keeping their minute",
        one_file([call(100, ts=1_646_171_999_999_999_999)], ts=pa.timestamp("ns")),
        counts=(1, 1, 0, 0),
        valid={"ts": [dt.datetime(2022, 3, 1, 21, 59, 59, 999999, tzinfo=dt.UTC)]},
    ),
    Case(
        "an epoch far beyond any calendar is kept as a count, not a crash",
        one_file([call(100, ts=EPOCH_US_10H), call(1, ts=INT64_MAX)], ts=pa.int64()),
        counts=(2, 1, 0, 1),
        rejected=(("ts_outside_day", "ts not on 2022-03-01"),),
        verbatim={"ts": "9223372036854775807 us since 1970-01-01"},
    ),
    Case(
        "a uint64 epoch above int64 max is uncastable",
        one_file([call(100, ts=EPOCH_US_10H), call(1, ts=2**64 - 1)], ts=pa.uint64()),
        counts=(2, 1, 0, 1),
        rejected=(("uncastable_value", "ts='18446744073709551615' is not a timestamp"),),
        valid={"ts": [at(10)]},
    ),
    Case(
        "a date is not a timestamp",
        one_file([call(100, ts=dt.date(2022, 3, 1))], ts=pa.date32()),
        counts=(1, 0, 0, 1),
        rejected=(("uncastable_value", "ts='2022-03-01' is not a timestamp"),),
    ),
    Case(
        "the first reason wins: a null key before an uncastable count",
        one_file([call(100, items="10"), call(1, partner_id=None, items="n/a")], items=pa.string()),
        counts=(2, 1, 0, 1),
        rejected=(("null_key", "null partner_id"),),
        verbatim={"items": "n/a"},
    ),
    Case(
        "a call the day after its folder is outside the day",
        one_file([GOOD, call(1, ts=at(0, day=NEXT_DAY))]),
        counts=(2, 1, 0, 1),
        rejected=(("ts_outside_day", "ts not on 2022-03-01"),),
        verbatim={"ts": "2022-03-02T00:00:00.000000Z"},
    ),
)
