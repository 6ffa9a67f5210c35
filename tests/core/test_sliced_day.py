"""A day computed in request_id slices equals the day computed whole, row for row.

Each test writes a small day of real Parquet files, computes it once whole (one pass,
as every day up to ``CALLAUDIT_DAY_SLICE_ROWS`` raw rows is) and again forced into
slices by a small ``slice_rows``, and compares every table: usage_daily, partner_daily,
network_daily, quarantine and ingest_daily.
"""

import datetime as dt
import math
import random
import tempfile
from pathlib import Path

import polars as pl
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from callaudit import storage
from callaudit.aggregate import (
    SumOverflowError,
    aggregate_day,
    merge_slices,
    nearest_rank_p95,
    slice_aggregates,
)
from callaudit.contracts import RestrictedNetwork
from callaudit.ingest import open_day, slices_for
from callaudit.raw_to_tables import compute_day, process_day
from callaudit.schema import PLAUSIBLE_MAX, RAW_SCHEMA
from callaudit.warehouse import DAY_TABLES, day_manifest
from tests.badinput.corpus import CASES, Case
from tests.rawlogs import DAY, at, call, write_raw

GOV = RestrictedNetwork(cidr="192.0.2.0/24", label="gov-agency-a")
GOV_V6 = RestrictedNetwork(cidr="2001:db8:77::/48", label="gov-agency-v6")
NETWORKS = [GOV, GOV_V6]
TABLES = ("usage_daily", "partner_daily", "network_daily")


def _raw_rows(archive: Path) -> int:
    return open_day(str(archive), DAY).raw_rows


def _assert_sliced_equals_whole(archive: Path, slice_rows: int, networks=NETWORKS) -> int:
    """Compute the day whole and in slices of ``slice_rows``; every table must be equal.
    Returns how many slices the day took."""
    whole_ingest, whole = compute_day(str(archive), DAY, networks)
    sliced_ingest, sliced = compute_day(str(archive), DAY, networks, slice_rows=slice_rows)
    assert whole_ingest.slices == 1
    for name in TABLES:
        expected, got = getattr(whole, name), getattr(sliced, name)
        assert got.schema == expected.schema, name
        assert got.rows() == expected.rows(), name
    assert sliced_ingest.quarantine.schema == whole_ingest.quarantine.schema
    assert sliced_ingest.quarantine.rows() == whole_ingest.quarantine.rows()
    assert sliced_ingest.ingest.rows() == whole_ingest.ingest.rows()
    return sliced_ingest.slices


def _assert_slices_equal_whole(archive: Path, slices: int, networks=NETWORKS) -> None:
    """The same, in exactly ``slices`` slices."""
    rows = _raw_rows(archive)
    slice_rows = math.ceil(rows / slices)
    assert slices_for(rows, slice_rows) == slices
    assert _assert_sliced_equals_whole(archive, slice_rows, networks) == slices


def _mixed_day(archive: Path) -> None:
    """Three files with re-deliveries across them (one with other content), every
    quarantine reason, restricted addresses of both families, null addresses, several
    partners and a busy minute."""
    rows = []
    for i in range(1, 241):
        partner = ("acme", "globex", "initech")[i % 3]
        rows.append(
            call(
                i,
                ts=at(10 + i % 4, (i * 7) % 60, i % 60),
                partner_id=partner,
                app_id=f"{partner}-app-{i % 2}",
                endpoint=("GET /2/tweets/search/recent", "GET /2/users/by")[i % 5 == 0],
                status=(200, 200, 200, 429, 404, 503)[i % 6],
                items=(i * 13) % 97,
                bytes=1_000 + i,
                latency_ms=None if i % 17 == 0 else (i * 31) % 400,
                client_ip=(
                    None if i % 11 == 0 else "192.0.2.9" if i % 7 == 0 else f"203.0.113.{i % 50}"
                ),
            )
        )
    rows += [call(1000 + k, ts=at(12, 30, k % 60), partner_id="globex") for k in range(40)]
    write_raw(archive, rows[:150], name="part-00.parquet")
    late = [
        call(5, ts=at(10 + 5 % 4, 35, 5), partner_id="initech", app_id="initech-app-1"),
        call(17, items=999_999),  # content differs from the first copy, which wins
        call(2000, client_ip="2001:db8:77::5"),
        call(2001, partner_id=None),
        call(2002, items=-3),
        call(2003, items=PLAUSIBLE_MAX["items"] + 1),
        call(2004, ts=at(23, 59, 59, day=DAY + dt.timedelta(days=1))),
        call(2005, partner_id="   "),  # blank: a missing key
        call(2006, app_id=""),
    ]
    write_raw(archive, rows[150:] + late, name="part-01.parquet")
    write_raw(archive, rows[40:90], name="part-02-late.parquet")
    write_raw(
        archive,
        [
            call(3000, items=" 12 ", status="200"),
            call(3001, items="n/a", status="200"),
            call(3002, items="4", status="ERR"),
            call(60, items="10", status="200"),
        ],
        name="part-03-text.parquet",
        items=pa.string(),
        status=pa.string(),
    )


@pytest.mark.parametrize("slices", [2, 3, 7, 16])
def test_a_sliced_day_equals_the_day_computed_whole(tmp_path, slices):
    _mixed_day(tmp_path)
    whole_ingest, _ = compute_day(str(tmp_path), DAY, NETWORKS)
    stats = whole_ingest.stats
    # the day exercises what slicing must keep: duplicates, a conflicting one, every reason
    # (re-deliveries 5, 17 and 60 differ from their first copy)
    assert stats["duplicates"] == 53 and stats["conflicting_duplicates"] == 3
    assert {r for r in whole_ingest.quarantine["reason"]} == {
        "null_key",
        "uncastable_value",
        "negative_count",
        "implausible_count",
        "ts_outside_day",
    }
    _assert_slices_equal_whole(tmp_path, slices)


def test_the_first_delivery_in_file_name_order_wins_in_a_slice_too(tmp_path):
    write_raw(tmp_path, [call(i) for i in range(1, 60)], name="a.parquet")
    write_raw(tmp_path, [call(7, items=70, client_ip="192.0.2.1")], name="b.parquet")
    write_raw(tmp_path, [call(7, items=700)], name="0-first.parquet")
    ingested, sliced = compute_day(str(tmp_path), DAY, NETWORKS, slice_rows=10)
    assert ingested.slices == 7
    (acme,) = sliced.usage_daily.rows(named=True)
    assert acme["items"] == 58 * 10 + 700  # the copy in 0-first.parquet is the one kept
    assert ingested.stats["conflicting_duplicates"] == 1
    _assert_slices_equal_whole(tmp_path, 7)


def test_text_and_float_request_ids_meet_in_one_slice(tmp_path):
    write_raw(tmp_path, [call(i) for i in range(1, 40)], name="a.parquet")
    write_raw(
        tmp_path,
        [call(i, request_id=float(i)) for i in range(20, 45)] + [call(1, request_id=1.5)],
        name="b.parquet",
        request_id=pa.float64(),
    )
    ingested, _ = compute_day(str(tmp_path), DAY, NETWORKS)
    assert ingested.stats["duplicates"] == 20  # 7.0 is a re-delivery of 7
    _assert_slices_equal_whole(tmp_path, 5)
    write_raw(
        tmp_path,
        [call(i, request_id=f"{i}") for i in range(30, 50)],
        name="c.parquet",
        request_id=pa.string(),
    )
    _assert_slices_equal_whole(tmp_path, 4)  # ids compared as text now: "30" meets 30


def test_p95_and_the_busiest_minute_merge_exactly_across_slices(tmp_path):
    """Group sizes whose nearest rank falls on .5 (11, 31 and 51 rows; at 31 and 51
    rounding half to even would pick another value); a group of one row, a group whose
    latencies are all missing, tied latencies, and the busiest minute spread over slices
    (and a second partner whose calls are spread evenly)."""
    rows = []
    next_id = iter(range(1, 10_000))
    for size, app in ((11, "a11"), (31, "a31"), (51, "a51"), (1, "a1"), (20, "a20")):
        for k in range(size):
            rows.append(call(next(next_id), app_id=app, latency_ms=(k * 37) % size * 10))
    rows += [call(next(next_id), app_id="ties", latency_ms=100 + k % 2) for k in range(40)]
    rows += [call(next(next_id), app_id="none", latency_ms=None) for _ in range(9)]
    rows += [call(next(next_id), partner_id="busy", ts=at(9, 15, k % 60)) for k in range(90)]
    rows += [call(next(next_id), partner_id="busy", ts=at(k % 24, k % 60)) for k in range(100)]
    random.Random(4).shuffle(rows)
    write_raw(tmp_path, rows)
    _, whole = compute_day(str(tmp_path), DAY, NETWORKS)
    p95 = dict(whole.usage_daily.select("app_id", "latency_p95_ms").iter_rows())
    # 31 values 0, 10, ..., 300: rank (31 - 1) x 0.95 = 28.5 rounds away from zero to 29
    assert p95["a31"] == 290 and p95["a11"] == 100 and p95["a1"] == 0 and p95["none"] is None
    busy = whole.partner_daily.filter(pl.col("partner_id") == "busy")
    assert busy["peak_calls_per_minute"].item() == 90  # 09:15; the other 100 fall elsewhere
    for slices in (2, 5, 13):
        _assert_slices_equal_whole(tmp_path, slices)


def test_the_histogram_p95_is_polars_nearest_rank_for_every_group_size():
    """Groups of 1 to 400 values (with repeats) read from their histogram give what
    ``quantile(0.95, interpolation="nearest")`` gives on the values themselves."""
    sizes = range(1, 401)
    frame = pl.DataFrame(
        {
            "g": [size for size in sizes for _ in range(size)],
            "latency_ms": [(k * 7919 + size) % 97 for size in sizes for k in range(size)],
        }
    )
    expected = frame.group_by("g").agg(
        pl.col("latency_ms").quantile(0.95, interpolation="nearest").cast(pl.Int64)
    )
    histogram = frame.group_by("g", "latency_ms").agg(pl.len().cast(pl.Int64).alias("n"))
    got = nearest_rank_p95(histogram, ["g"]).rename({"latency_p95_ms": "latency_ms"})
    assert got.sort("g").rows() == expected.sort("g").rows()


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_every_bad_input_gives_the_same_tables_in_one_row_slices(tmp_path, case: Case):
    for raw in case.files:
        write_raw(tmp_path, raw.rows, name=raw.name, **raw.types)
    _assert_sliced_equals_whole(tmp_path, slice_rows=1)


def test_a_day_of_quarantined_rows_only_has_the_same_empty_tables(tmp_path):
    write_raw(tmp_path, [call(i, partner_id=None) for i in range(1, 30)])
    _assert_slices_equal_whole(tmp_path, 4)


def test_a_day_without_restricted_networks_in_slices(tmp_path):
    _mixed_day(tmp_path)
    _assert_slices_equal_whole(tmp_path, 3, networks=[])


def _valid(*rows: dict) -> pl.DataFrame:
    """Valid calls as the ingest hands them on (the aggregates take frames)."""
    frame = pl.DataFrame(list(rows))
    return frame.with_columns(request_id=pl.col("request_id").cast(pl.String)).select(
        [pl.col(c).cast(t) for c, t in RAW_SCHEMA.items()]
    )


def _in_slices(valid: pl.DataFrame, *sizes: int) -> list[pl.DataFrame]:
    starts = [sum(sizes[:i]) for i in range(len(sizes))]
    return [valid.slice(start, size) for start, size in zip(starts, sizes, strict=True)]


def test_sums_that_cannot_be_proved_to_fit_are_exact_across_slices():
    """3 rows x 2^62 cannot be proved to fit int64, so the sums are taken in Int128;
    they do fit (2^62 + 2^62 - 2^62), and the merged day equals the whole day."""
    valid = _valid(
        call(1, bytes=2**62),
        call(2, bytes=2**62, partner_id="globex"),
        call(3, bytes=2**62),
        call(4, bytes=-(2**62)),
    )
    whole = aggregate_day(valid, [GOV])
    merged = merge_slices([slice_aggregates(part, [GOV]) for part in _in_slices(valid, 1, 2, 1)])
    for name in TABLES:
        assert getattr(merged, name).rows() == getattr(whole, name).rows(), name
    assert whole.partner_daily["bytes"].to_list() == [2**62, 2**62]


def test_a_sliced_day_refuses_a_total_past_int64_with_the_whole_days_message():
    valid = _valid(
        call(1, bytes=2**62, app_id="a"),
        call(2, bytes=2**62, app_id="b"),
        call(3, bytes=2**62, app_id="a"),
    )
    with pytest.raises(SumOverflowError) as whole:
        aggregate_day(valid, [])
    with pytest.raises(SumOverflowError) as sliced:
        merge_slices([slice_aggregates(part, []) for part in _in_slices(valid, 2, 1)])
    assert str(sliced.value) == str(whole.value)
    assert "usage_daily: bytes of partner_id 'acme'" in str(whole.value)


def test_a_sliced_day_read_from_s3_equals_the_day_computed_whole(s3_bucket, tmp_path):
    _mixed_day(tmp_path)
    raw = storage.join(s3_bucket, "raw")
    for path in sorted((tmp_path / f"date={DAY}").iterdir()):
        storage.write_bytes_atomic(storage.join(raw, f"date={DAY}", path.name), path.read_bytes())
    whole_ingest, whole = compute_day(str(tmp_path), DAY, NETWORKS)
    sliced_ingest, sliced = compute_day(raw, DAY, NETWORKS, slice_rows=60)
    assert sliced_ingest.slices == 6
    for name in TABLES:
        assert getattr(sliced, name).rows() == getattr(whole, name).rows(), name
    assert sliced_ingest.ingest.rows() == whole_ingest.ingest.rows()
    local_rows = whole_ingest.quarantine.drop("source_file").rows()
    assert sliced_ingest.quarantine.drop("source_file").rows() == local_rows
    assert sliced_ingest.quarantine["source_file"].str.starts_with("s3://").all()


def test_process_day_commits_the_sliced_tables(tmp_path):
    archive, warehouse = tmp_path / "raw", tmp_path / "warehouse"
    _mixed_day(archive)
    result = process_day(str(archive), str(warehouse), DAY, NETWORKS, slice_rows=100)
    assert result.slices == math.ceil(_raw_rows(archive) / 100)
    manifest = day_manifest(str(warehouse), DAY_TABLES, DAY)
    assert manifest is not None and manifest.info["rows_read"] == result.ingest["rows_read"]
    _, whole = compute_day(str(archive), DAY, NETWORKS)
    assert result.rows["usage_daily"] == whole.usage_daily.height


_row = st.fixed_dictionaries(
    {
        "request_id": st.integers(min_value=1, max_value=60),
        "minute": st.integers(min_value=0, max_value=4),
        "partner_id": st.sampled_from(["acme", "globex", " ", None]),
        "app_id": st.sampled_from(["a", "b"]),
        "items": st.one_of(st.none(), st.integers(min_value=-2, max_value=50)),
        "latency_ms": st.one_of(st.none(), st.integers(min_value=0, max_value=9)),
        "client_ip": st.sampled_from([None, "192.0.2.1", "203.0.113.1", "203.0.113.2"]),
        "file": st.integers(min_value=0, max_value=2),
    }
)
_FIELDS = ("partner_id", "app_id", "items", "latency_ms", "client_ip")


@settings(max_examples=25, deadline=None)
@given(rows=st.lists(_row, min_size=2, max_size=80), slice_rows=st.integers(1, 40))
def test_any_day_in_any_number_of_slices_equals_the_whole_day(rows, slice_rows):
    with tempfile.TemporaryDirectory() as folder:
        archive = Path(folder)
        for f in range(3):
            mine = [
                call(r["request_id"], ts=at(10, r["minute"]), **{k: r[k] for k in _FIELDS})
                for r in rows
                if r["file"] == f
            ]
            if mine:
                write_raw(archive, mine, name=f"part-{f}.parquet")
        slice_rows = min(slice_rows, len(rows) - 1)  # at least two slices
        assert _assert_sliced_equals_whole(archive, slice_rows) >= 2
