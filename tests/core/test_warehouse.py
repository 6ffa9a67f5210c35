"""Warehouse partitions: atomic, replaceable, readable as ranges, local and on S3."""

import datetime as dt
import json

import polars as pl
import pytest

from callaudit import storage, warehouse
from callaudit.ingest import ingest_day
from callaudit.raw_to_tables import process_days
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
