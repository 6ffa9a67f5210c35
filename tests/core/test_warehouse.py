"""Warehouse partitions: atomic, replaceable, readable as ranges, local and on S3."""

import datetime as dt
import json
import time

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from callaudit import manifests, storage, warehouse
from callaudit.ingest import ingest_day
from callaudit.raw_to_tables import process_days
from callaudit.schema import PARTNER_DAILY
from tests.rawlogs import DAY, call, write_raw

ROW = {
    "partner_id": "acme",
    "calls": 3,
    "items": 30,
    "bytes": 1,
    "errors": 0,
    "apps": 1,
    "endpoints": 1,
    "peak_calls_per_minute": 2,
    "restricted_calls": 0,
    "distinct_client_ips": 1,
}


def test_a_partition_is_written_in_the_hive_layout_and_named_by_the_days_manifest(tmp_path):
    url = warehouse.write_partition(str(tmp_path), "partner_daily", DAY, pl.DataFrame([ROW]))
    folder = f"{tmp_path}/partner_daily/date=2022-03-01/"
    assert url.startswith(folder + "part-") and url.endswith(".parquet")
    assert "date" not in pl.read_parquet(url).columns
    manifest = json.loads((tmp_path / "_manifests/daily_tables/date=2022-03-01.json").read_text())
    assert manifest["tables"]["partner_daily"] == {"file": url.rsplit("/", 1)[-1], "rows": 1}


def test_rewriting_a_day_replaces_it_and_leaves_one_file_and_no_temporary_ones(tmp_path):
    warehouse.write_partition(str(tmp_path), "partner_daily", DAY, pl.DataFrame([ROW]))
    url = warehouse.write_partition(
        str(tmp_path), "partner_daily", DAY, pl.DataFrame([{**ROW, "calls": 9}])
    )
    assert warehouse.read_partition(str(tmp_path), "partner_daily", DAY)["calls"].to_list() == [9]
    folder = tmp_path / "partner_daily" / "date=2022-03-01"
    assert [str(p) for p in folder.iterdir()] == [url]


def test_a_range_read_carries_the_date_column(tmp_path):
    for offset in range(3):
        day = DAY + dt.timedelta(days=offset)
        warehouse.write_partition(str(tmp_path), "partner_daily", day, pl.DataFrame([ROW]))
    frame = warehouse.read_range(str(tmp_path), "partner_daily", DAY, DAY + dt.timedelta(days=1))
    assert frame["date"].to_list() == [DAY, DAY + dt.timedelta(days=1)]


def test_a_failed_day_leaves_the_previous_good_partition(tmp_path):
    archive, wh = tmp_path / "raw", str(tmp_path / "wh")
    write_raw(archive, [call(1), call(2)])
    _, failures = process_days(str(archive), wh, [DAY], [])
    assert not failures
    broken = write_raw(archive, [call(3)], name="late.parquet")
    broken.write_bytes(b"garbage")
    _, failures = process_days(str(archive), wh, [DAY], [])
    assert [f.day for f in failures] == [DAY]
    assert "late.parquet" in failures[0].error
    assert warehouse.read_partition(wh, "usage_daily", DAY)["calls"].to_list() == [2]


def test_s3_archive_and_warehouse_work_like_local_folders(s3_bucket, tmp_path):
    local = tmp_path / "raw"
    path = write_raw(local, [call(1), call(2), call(2)])
    raw_url = storage.join(s3_bucket, "raw", "date=2022-03-01", "part-0.parquet")
    storage.write_bytes_atomic(raw_url, path.read_bytes())

    day = ingest_day(storage.join(s3_bucket, "raw"), DAY)
    assert (day.valid.height, day.stats["duplicates"]) == (2, 1)

    _, failures = process_days(
        storage.join(s3_bucket, "raw"), storage.join(s3_bucket, "wh"), [DAY], []
    )
    assert not failures
    usage = warehouse.read_range(storage.join(s3_bucket, "wh"), "usage_daily", DAY, DAY)
    assert usage["calls"].to_list() == [2]
    assert warehouse.partition_days(storage.join(s3_bucket, "wh"), "usage_daily") == [DAY]


def test_reading_a_missing_partition_says_which(tmp_path):
    with pytest.raises(FileNotFoundError, match="usage_daily has no partition for 2022-03-01"):
        warehouse.read_partition(str(tmp_path), "usage_daily", DAY)


def _write_days(wh: str, calls: list[int]) -> list[dt.date]:
    """Days of partner_daily with one row of ``calls`` each; 0 writes an empty day."""
    days = [DAY + dt.timedelta(days=i) for i in range(len(calls))]
    for day, n in zip(days, calls, strict=True):
        frame = pl.DataFrame([{**ROW, "calls": n}]) if n else PARTNER_DAILY.empty()
        warehouse.write_partition(wh, "partner_daily", day, frame)
    return days


def _day_by_day(wh: str, days: list[dt.date]) -> pl.DataFrame:
    """The same range read one file at a time, straight from storage: the reference."""
    frames = []
    for day in days:
        manifest = warehouse.day_manifest(wh, warehouse.DAY_TABLES, day)
        url = manifests.file_url(wh, "partner_daily", day, manifest.tables["partner_daily"].file)
        frame = PARTNER_DAILY.conform(pl.read_parquet(url))
        frames.append(frame.select(pl.lit(day, dtype=pl.Date).alias("date"), pl.all()))
    return pl.concat(frames)


def test_a_range_is_the_same_frame_read_together_or_one_file_at_a_time_and_again(tmp_path):
    wh = str(tmp_path)
    days = _write_days(wh, [3, 0, 5, 7])  # an empty day among them
    warehouse.clear_file_cache()
    first = warehouse.read_range(wh, "partner_daily", days[0], days[-1])
    assert_frame_equal(first, _day_by_day(wh, days), check_exact=True)
    assert first["calls"].to_list() == [3, 5, 7]
    assert first["date"].to_list() == [days[0], days[2], days[3]]

    hits = warehouse.file_cache_info()["hits"]
    again = warehouse.read_range(wh, "partner_daily", days[0], days[-1])
    assert_frame_equal(again, first, check_exact=True)
    assert warehouse.file_cache_info()["hits"] == hits + len(days)
    assert_frame_equal(
        warehouse.read_days(wh, "partner_daily", [days[3], days[0]]),
        first.filter(pl.col("date").is_in([days[0], days[3]])),
        check_exact=True,
    )


def test_a_frame_changed_by_its_reader_does_not_change_the_next_read(tmp_path):
    wh = str(tmp_path)
    days = _write_days(wh, [3, 5])
    frame = warehouse.read_range(wh, "partner_daily", days[0], days[-1])
    frame.insert_column(0, pl.Series("mine", [1, 2]))
    frame.drop_in_place("calls")
    again = warehouse.read_range(wh, "partner_daily", days[0], days[-1])
    assert again.columns == ["date", *PARTNER_DAILY.names]
    assert again["calls"].to_list() == [3, 5]


def test_files_written_with_another_schema_are_read_one_by_one_and_conformed(tmp_path):
    wh = str(tmp_path)
    days = _write_days(wh, [3, 5])
    # A day written by another writer: columns in another order, calls as Int32.
    odd = pl.DataFrame([{**ROW, "calls": 9}]).with_columns(pl.col("calls").cast(pl.Int32))
    odd = odd.select(list(reversed(odd.columns)))
    manifests.commit(
        wh, warehouse.DAY_TABLES, days[1], {"partner_daily": (warehouse.parquet_bytes(odd), 1)}
    )
    frame = warehouse.read_range(wh, "partner_daily", days[0], days[-1])
    assert frame.schema == {"date": pl.Date(), **PARTNER_DAILY.schema}
    assert frame["calls"].to_list() == [3, 9]


def test_a_day_rerun_after_a_read_is_read_anew(tmp_path):
    wh = str(tmp_path)
    days = _write_days(wh, [3, 5])
    time.sleep(2.1)  # manifests old enough to be kept parsed
    assert warehouse.read_range(wh, "partner_daily", days[0], days[-1])["calls"].to_list() == [3, 5]
    warehouse.write_partition(wh, "partner_daily", days[1], pl.DataFrame([{**ROW, "calls": 8}]))
    assert warehouse.read_range(wh, "partner_daily", days[0], days[-1])["calls"].to_list() == [3, 8]


def test_a_file_corrupted_after_it_was_read_fails_the_next_read(tmp_path):
    wh = str(tmp_path)
    days = _write_days(wh, [3, 5])
    warehouse.read_range(wh, "partner_daily", days[0], days[-1])
    manifest = warehouse.day_manifest(wh, warehouse.DAY_TABLES, days[1])
    url = manifests.file_url(wh, "partner_daily", days[1], manifest.tables["partner_daily"].file)
    with open(url, "wb") as handle:  # in place, as a failing disk or a careless hand would
        handle.write(b"garbage")
    with pytest.raises(pl.exceptions.ComputeError):
        warehouse.read_range(wh, "partner_daily", days[0], days[-1])


def test_the_file_cache_keeps_to_its_bound_and_drops_the_least_recently_used(tmp_path):
    cache = warehouse._FileCache(max_bytes=4000)
    frame = pl.DataFrame({"calls": list(range(100))})  # 800 bytes
    for i in range(6):
        cache.put(("t", f"u{i}", None), frame)
    assert cache.get(("t", "u0", None)) is None
    assert cache.get(("t", "u5", None)) is not None
    assert cache.info()["bytes"] <= 4000
    cache.put(("t", "big", None), pl.DataFrame({"calls": list(range(200))}))  # > a quarter
    assert cache.get(("t", "big", None)) is None


def test_an_s3_range_is_read_in_parallel_like_a_local_one(s3_bucket, tmp_path):
    local, remote = str(tmp_path), storage.join(s3_bucket, "wh")
    for wh in (local, remote):
        days = _write_days(wh, [3, 0, 5])
    assert_frame_equal(
        warehouse.read_range(remote, "partner_daily", days[0], days[-1]),
        warehouse.read_range(local, "partner_daily", days[0], days[-1]),
        check_exact=True,
    )


def test_listing_names_skips_what_listing_files_skips(tmp_path):
    for name in ("date=2022-03-01.json", "date=2022-03-02.json", ".tmp.json", "_x.json", "a.csv"):
        (tmp_path / name).write_text("{}")
    (tmp_path / "sub.json").mkdir()
    listed = [info.url.rsplit("/", 1)[-1] for info in storage.list_files(str(tmp_path), ".json")]
    assert (
        storage.list_names(str(tmp_path), ".json")
        == listed
        == [
            "date=2022-03-01.json",
            "date=2022-03-02.json",
        ]
    )
    assert storage.list_names(str(tmp_path / "missing"), ".json") == []


def test_a_stack_of_files_keeps_their_order_and_counts_an_empty_one(tmp_path):
    urls = []
    for name, values in (("b", [1, 2]), ("a", []), ("c", [3])):
        url = str(tmp_path / f"{name}.parquet")
        pl.DataFrame({"x": values}, schema={"x": pl.Int64}).write_parquet(url)
        urls.append(url)
    frame, heights = storage.read_parquet_stack(urls)
    assert frame["x"].to_list() == [1, 2, 3]
    assert heights == [2, 0, 1]
    with pytest.raises(FileNotFoundError):
        storage.read_parquet_stack([*urls, str(tmp_path / "gone.parquet")])
