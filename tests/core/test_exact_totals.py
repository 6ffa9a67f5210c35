"""Properties of a day's totals, checked against Python's big integers.

However a day's calls are split into files, in whatever order and column types, with
re-deliveries and bad rows mixed in, the valid totals are those of the calls alone,
``rows_read = rows_valid + duplicates + quarantined`` holds, and every written sum
equals the exact sum; a sum that does not fit int64 refuses the day, never wraps.
"""

import datetime as dt
import math
import tempfile
from collections import Counter, defaultdict
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from callaudit.aggregate import SumOverflowError, aggregate_day
from callaudit.contracts import RestrictedNetwork
from callaudit.ingest import ingest_day
from callaudit.schema import PLAUSIBLE_MAX, RAW_SCHEMA
from tests.rawlogs import DAY

INT64_MAX = 2**63 - 1
DAY_US = 86_400_000_000
DAY_START_US = int(dt.datetime.combine(DAY, dt.time(), tzinfo=dt.UTC).timestamp()) * 1_000_000
GOV = RestrictedNetwork(cidr="192.0.2.0/24", label="gov-agency-a")
GROUP = ("partner_id", "app_id", "endpoint")
COUNTS = ("items", "bytes", "latency_ms")

# --- a day of calls, as files ------------------------------------------------------------

calls_st = st.fixed_dictionaries(
    {
        "at_us": st.integers(0, DAY_US - 1),
        "partner_id": st.sampled_from(["acme", "globex"]),
        "app_id": st.sampled_from(["app-1", "app-2"]),
        "endpoint": st.sampled_from(["GET /2/tweets/:id", "GET /2/tweets/search/stream"]),
        "status": st.sampled_from([200, 404, 429, 503]),
        "items": st.integers(0, PLAUSIBLE_MAX["items"]),
        "bytes": st.integers(0, PLAUSIBLE_MAX["bytes"]),
        "latency_ms": st.integers(0, PLAUSIBLE_MAX["latency_ms"]),
        "client_ip": st.sampled_from(["192.0.2.10", "203.0.113.7"]),
    }
)

#: Defects a bad row carries; each makes the row unusable whatever the file's types.
DEFECTS = (
    *(f"null:{k}" for k in ("request_id", "ts", "partner_id", "app_id", "endpoint")),
    *(f"blank:{k}" for k in ("request_id", "partner_id", "app_id", "endpoint")),
    *(f"negative:{c}" for c in COUNTS),
    *(f"implausible:{c}" for c in COUNTS),
    *(f"uncastable:{c}" for c in ("status", *COUNTS)),
    "outside_day",
    "bad_ts",
)

#: Column types a file may use: the shipper's, and the drift the ingest normalises.
ID_TYPES = ("uint64", "string", "float64")
COUNT_TYPES = ("int64", "string", "float64")
TS_TYPES = ("timestamp_us_utc", "timestamp_ns", "epoch_us", "iso_text")


@st.composite
def days(draw):
    """The calls of a day, re-deliveries, bad rows, and how they are spread over files."""
    calls = draw(st.lists(calls_st, max_size=12))
    wide_ids = draw(st.booleans())  # float ids are exact only up to 2^53
    ids = draw(
        st.lists(
            st.integers(0, 2**64 - 1 if wide_ids else 2**53),
            min_size=len(calls),
            max_size=len(calls),
            unique=True,
        )
    )
    calls = [{**c, "request_id": i} for c, i in zip(calls, ids, strict=True)]
    again = draw(st.lists(st.sampled_from(calls), max_size=4)) if calls else []
    bad = [
        {**draw(calls_st), "request_id": draw(st.integers(0, 2**53)), "defect": d}
        for d in draw(st.lists(st.sampled_from(DEFECTS), max_size=5))
    ]
    rows = draw(st.permutations([*calls, *again, *bad]))
    n_files = draw(st.integers(1, 4))
    where = [draw(st.integers(0, n_files - 1)) for _ in rows]
    kinds = [
        {
            "id": draw(st.sampled_from(ID_TYPES if not wide_ids else ID_TYPES[:2])),
            "counts": draw(st.sampled_from(COUNT_TYPES)),
            "ts": draw(st.sampled_from(TS_TYPES)),
        }
        for _ in range(n_files)
    ]
    files = [
        ([r for r, w in zip(rows, where, strict=True) if w == f], kinds[f]) for f in range(n_files)
    ]
    return calls, len(again), len(bad), files


def _value(row: dict, column: str, kind: dict):
    """A row's value for one column in the file's representation, defects applied."""
    defect, _, target = row.get("defect", "").partition(":")
    if column == "ts":
        at_us = row["at_us"]
        if defect == "outside_day" or (defect == "bad_ts" and kind["ts"] != "iso_text"):
            at_us = -1 - at_us if at_us % 2 else DAY_US + at_us
        if defect == "null" and target == "ts":
            return None
        if defect == "bad_ts":
            return "not a time" if kind["ts"] == "iso_text" else DAY_START_US + at_us
        us = DAY_START_US + at_us
        if kind["ts"] == "iso_text":
            stamp = dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(microseconds=us)
            return stamp.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        return us * 1000 if kind["ts"] == "timestamp_ns" else us
    value = row[column]
    if target == column:
        if defect == "null":
            value = None
        elif defect == "blank":
            value = " \t" if column != "request_id" or kind["id"] == "string" else None
        elif defect == "negative":
            value = -1 - value % 1000
        elif defect == "implausible":
            ceiling = 2**53 if kind["counts"] == "float64" else INT64_MAX
            value = min(PLAUSIBLE_MAX[column] + 1 + value, ceiling)
        elif defect == "uncastable":
            if kind["counts"] == "string":
                value = "n/a" if value % 2 else f"{value}.5"
            elif kind["counts"] == "float64":
                value = (math.nan, math.inf, 2.7, 1e30)[value % 4]
            elif column == "status":  # beyond int32
                value = 2**40 + value
            else:  # an int64 count always converts: make it negative instead
                value = -1
    if not isinstance(value, int):  # None, a float or text defect, or a text column
        return value
    if column == "request_id":
        return {"uint64": int, "string": str, "float64": float}[kind["id"]](value)
    if column in ("status", *COUNTS):
        return {"int64": int, "string": str, "float64": float}[kind["counts"]](value)
    return value


def _arrow_types(kind: dict) -> dict[str, pa.DataType]:
    counts = {"int64": pa.int64(), "string": pa.string(), "float64": pa.float64()}[kind["counts"]]
    return {
        "request_id": {"uint64": pa.uint64(), "string": pa.string(), "float64": pa.float64()}[
            kind["id"]
        ],
        "ts": {
            "timestamp_us_utc": pa.timestamp("us", tz="UTC"),
            "timestamp_ns": pa.timestamp("ns"),
            "epoch_us": pa.int64(),
            "iso_text": pa.string(),
        }[kind["ts"]],
        "partner_id": pa.string(),
        "app_id": pa.string(),
        "endpoint": pa.string(),
        "status": counts,
        "items": counts,
        "bytes": counts,
        "latency_ms": counts,
        "client_ip": pa.string(),
    }


def write_day(folder: Path, files: list[tuple[list[dict], dict]]) -> None:
    day_folder = folder / f"date={DAY.isoformat()}"
    day_folder.mkdir(parents=True)
    for index, (rows, kind) in enumerate(files):
        if not rows:
            continue
        columns = {
            column: pa.array([_value(r, column, kind) for r in rows], type=arrow_type)
            for column, arrow_type in _arrow_types(kind).items()
        }
        pq.write_table(pa.table(columns), day_folder / f"part-{index}.parquet")


# --- Python big-integer references -------------------------------------------------------


def reference_usage(calls: list[dict]) -> dict[tuple, dict[str, int]]:
    usage: dict[tuple, Counter] = defaultdict(Counter)
    for c in calls:
        group = usage[tuple(c[k] for k in GROUP)]
        group.update(
            calls=1,
            items=c["items"],
            bytes=c["bytes"],
            errors_4xx=400 <= c["status"] < 500,
            errors_5xx=500 <= c["status"] < 600,
            throttled=c["status"] == 429,
            restricted_calls=c["client_ip"] == "192.0.2.10",
        )
    columns = (
        "calls",
        "items",
        "bytes",
        "errors_4xx",
        "errors_5xx",
        "throttled",
        "restricted_calls",
    )
    return {g: {k: int(v[k]) for k in columns} for g, v in usage.items()}


def reference_by(calls: list[dict], keys: tuple[str, ...], column: str) -> dict[tuple, int]:
    sums: dict[tuple, int] = defaultdict(int)
    for c in calls:
        sums[tuple(c[k] for k in keys)] += c[column]
    return dict(sums)


def observed_usage(usage: pl.DataFrame) -> dict[tuple, dict[str, int]]:
    return {
        tuple(r[k] for k in GROUP): {
            k: v for k, v in r.items() if k not in GROUP and k != "latency_p95_ms"
        }
        for r in usage.iter_rows(named=True)
    }


# --- properties ----------------------------------------------------------------------------


@settings(max_examples=40, deadline=None, database=None)
@given(days())
def test_files_order_redeliveries_and_bad_rows_never_change_the_valid_totals(day):
    calls, redelivered, bad, files = day
    with tempfile.TemporaryDirectory() as folder:
        write_day(Path(folder), files)
        ingested = ingest_day(folder, DAY)
    stats = ingested.stats

    assert stats["rows_read"] == len(calls) + redelivered + bad
    assert stats["rows_read"] == stats["rows_valid"] + stats["duplicates"] + stats["quarantined"]
    assert (stats["rows_valid"], stats["duplicates"], stats["quarantined"]) == (
        len(calls),
        redelivered,
        bad,
    )
    assert ingested.quarantine["reason"].null_count() == 0
    assert ingested.quarantine["source_file"].null_count() == 0

    aggregates = aggregate_day(ingested.valid, [GOV])
    assert observed_usage(aggregates.usage_daily) == reference_usage(calls)
    partner = {r["partner_id"]: r for r in aggregates.partner_daily.iter_rows(named=True)}
    for column in ("items", "bytes"):
        expected = reference_by(calls, ("partner_id",), column)
        assert {p: partner[p][column] for p in partner} == {k[0]: v for k, v in expected.items()}
    restricted = [c for c in calls if c["client_ip"] == "192.0.2.10"]
    network = aggregates.network_daily.select("partner_id", "app_id", "items").rows()
    expected_network = reference_by(restricted, ("partner_id", "app_id"), "items")
    assert {(p, a): i for p, a, i in network} == expected_network


big_counts = st.one_of(
    st.integers(0, 1000),
    st.integers(0, INT64_MAX),
    st.integers(INT64_MAX // 4, INT64_MAX),
)
valid_rows = st.lists(
    st.fixed_dictionaries(
        {
            "partner_id": st.sampled_from(["acme", "globex"]),
            "app_id": st.sampled_from(["app-1", "app-2"]),
            "endpoint": st.sampled_from(["GET /a", "GET /b"]),
            "items": big_counts,
            "bytes": big_counts,
            "client_ip": st.sampled_from(["192.0.2.10", "203.0.113.7"]),
        }
    ),
    max_size=10,
)


@settings(max_examples=150, deadline=None, database=None)
@given(valid_rows)
def test_every_sum_equals_the_big_integer_sum_or_the_day_is_refused(rows):
    start = dt.datetime.combine(DAY, dt.time(10), tzinfo=dt.UTC)
    frame = pl.DataFrame(
        [
            {
                **r,
                "request_id": str(i),
                "ts": start,
                "status": 200,
                "latency_ms": 1,
            }
            for i, r in enumerate(rows)
        ],
        schema={**RAW_SCHEMA, "client_ip": pl.String()},
    )
    restricted = [r for r in rows if r["client_ip"] == "192.0.2.10"]
    references = {
        "usage_daily": {c: reference_by(rows, GROUP, c) for c in ("items", "bytes")},
        "partner_daily": {c: reference_by(rows, ("partner_id",), c) for c in ("items", "bytes")},
        "network_daily": {"items": reference_by(restricted, ("partner_id", "app_id"), "items")},
    }
    wraps = any(
        total > INT64_MAX
        for table in references.values()
        for sums in table.values()
        for total in sums.values()
    )
    if wraps:
        with pytest.raises(SumOverflowError, match="beyond int64"):
            aggregate_day(frame, [GOV])
        return
    aggregates = aggregate_day(frame, [GOV])
    keys = {
        "usage_daily": GROUP,
        "partner_daily": ("partner_id",),
        "network_daily": ("partner_id", "app_id"),
    }
    for table, sums in references.items():
        written = getattr(aggregates, table)
        for column, expected in sums.items():
            observed = {
                tuple(r[k] for k in keys[table]): r[column] for r in written.iter_rows(named=True)
            }
            assert observed == expected, (table, column)
