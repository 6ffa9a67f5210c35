"""A day's tables are committed together: readers see the old day or the new one whole.

The failure the issue reports: a disk filling during a re-run left one day with the new
usage_daily (more calls) beside the old ingest_daily and partner_daily. Each test here
re-runs a real day from real Parquet files and breaks the write at some point.
"""

import errno
import threading

import duckdb
import polars as pl
import pytest

from callaudit import manifests, storage, warehouse
from callaudit.raw_to_tables import DAILY_TABLES, process_days
from tests.rawlogs import DAY, call, write_raw


def _calls(wh: str, table: str) -> int:
    column = "rows_valid" if table == "ingest_daily" else "calls"
    return int(warehouse.read_partition(wh, table, DAY)[column].sum())


def _seen(wh: str) -> dict[str, int]:
    """What a reader sees of the day, per table."""
    return {t: _calls(wh, t) for t in ("usage_daily", "partner_daily", "ingest_daily")}


@pytest.fixture
def day_of_two_calls(tmp_path):
    archive, wh = tmp_path / "raw", str(tmp_path / "wh")
    write_raw(archive, [call(1), call(2)])
    _, failures = process_days(str(archive), wh, [DAY], [])
    assert not failures
    write_raw(archive, [call(3)], name="late.parquet")  # a late file: the re-run has 3 calls
    return archive, wh


def _fail_on_nth_write(monkeypatch, n: int) -> None:
    real = storage.write_bytes_atomic
    writes = {"count": 0}

    def write(url: str, data: bytes) -> None:
        writes["count"] += 1
        if writes["count"] == n:
            raise OSError(errno.ENOSPC, "No space left on device", url)
        real(url, data)

    monkeypatch.setattr(storage, "write_bytes_atomic", write)


@pytest.mark.parametrize("failing_write", [1, 2, 3, 5, 6], ids=lambda n: f"write {n} of 6")
def test_a_disk_filling_during_a_rerun_leaves_every_table_of_the_day_as_it_was(
    day_of_two_calls, monkeypatch, failing_write
):
    archive, wh = day_of_two_calls
    _fail_on_nth_write(monkeypatch, failing_write)  # 5 tables, then the manifest

    _, failures = process_days(str(archive), wh, [DAY], [])

    assert [f.day for f in failures] == [DAY]
    assert "No space left on device" in failures[0].error
    assert _seen(wh) == {"usage_daily": 2, "partner_daily": 2, "ingest_daily": 2}


def test_the_next_good_run_commits_the_day_whole_and_removes_what_the_failed_one_left(
    day_of_two_calls, monkeypatch
):
    archive, wh = day_of_two_calls
    _fail_on_nth_write(monkeypatch, 4)
    process_days(str(archive), wh, [DAY], [])
    monkeypatch.undo()
    leftover = manifests.table_folder(wh, "usage_daily", DAY)
    assert len(storage.list_files(leftover)) == 2  # the failed commit's file, unreferenced

    _, failures = process_days(str(archive), wh, [DAY], [])

    assert not failures
    assert _seen(wh) == {"usage_daily": 3, "partner_daily": 3, "ingest_daily": 3}
    for table in DAILY_TABLES:
        assert len(storage.list_files(manifests.table_folder(wh, table.name, DAY))) == 1


def test_a_glob_reader_such_as_duckdb_sees_each_committed_day_once(day_of_two_calls):
    archive, wh = day_of_two_calls
    process_days(str(archive), wh, [DAY], [])  # the re-run replaced every file of the day
    calls = (
        duckdb.connect()
        .execute(
            f"select sum(calls) from read_parquet('{wh}/usage_daily/*/*.parquet', "
            "hive_partitioning = true)"
        )
        .fetchone()[0]
    )
    assert calls == 3


def test_a_reader_during_reruns_never_sees_tables_of_two_commits(tmp_path):
    archive, wh = tmp_path / "raw", str(tmp_path / "wh")
    write_raw(archive, [call(1), call(2)])
    process_days(str(archive), wh, [DAY], [])
    late = write_raw(archive, [call(3)], name="late.parquet")
    stop = threading.Event()

    def rerun_forever() -> None:
        while not stop.is_set():  # the day flips between 2 and 3 calls
            if late.exists():
                late.unlink()
            else:
                write_raw(archive, [call(3)], name="late.parquet")
            process_days(str(archive), wh, [DAY], [])

    writer = threading.Thread(target=rerun_forever)
    writer.start()
    seen = set()
    try:
        for _ in range(150):
            frames, used = warehouse.read_snapshot(
                wh, {t: (DAY, DAY) for t in ("usage_daily", "partner_daily", "ingest_daily")}
            )
            day = (
                int(frames["usage_daily"]["calls"].sum()),
                int(frames["partner_daily"]["calls"].sum()),
                int(frames["ingest_daily"]["rows_valid"].sum()),
            )
            assert day[0] == day[1] == day[2], f"a mixed day {day} from commit {used[DAY].commit}"
            seen.add(day[0])
    finally:
        stop.set()
        writer.join()
    assert seen <= {2, 3}


def test_a_data_file_missing_under_a_manifest_fails_the_read_naming_it(day_of_two_calls):
    _, wh = day_of_two_calls
    manifest = warehouse.day_manifest(wh, warehouse.DAY_TABLES, DAY)
    url = manifests.file_url(wh, "usage_daily", DAY, manifest.tables["usage_daily"].file)
    storage.remove(url)
    with pytest.raises(manifests.ManifestError, match=f"names {url}, which is missing"):
        warehouse.read_partition(wh, "usage_daily", DAY)


def test_a_warehouse_written_before_manifests_is_refused_not_read_as_empty(tmp_path):
    folder = tmp_path / "wh" / "ingest_daily" / "date=2022-03-01"
    folder.mkdir(parents=True)
    pl.DataFrame({"files": [1]}).write_parquet(folder / "part-0.parquet")
    with pytest.raises(manifests.ManifestError, match="written by an older callaudit"):
        warehouse.partition_days(str(tmp_path / "wh"), "ingest_daily")


def test_on_s3_a_rerun_commits_the_day_whole_too(s3_bucket, tmp_path, monkeypatch):
    local = tmp_path / "raw"
    raw = storage.join(s3_bucket, "raw")
    wh = storage.join(s3_bucket, "wh")
    for name, rows in (("part-0.parquet", [call(1), call(2)]), ("late.parquet", [call(3)])):
        path = write_raw(local, rows, name=name)
        if name == "part-0.parquet":
            storage.write_bytes_atomic(
                storage.join(raw, "date=2022-03-01", name), path.read_bytes()
            )
    process_days(raw, wh, [DAY], [])
    storage.write_bytes_atomic(
        storage.join(raw, "date=2022-03-01", "late.parquet"),
        (local / "date=2022-03-01" / "late.parquet").read_bytes(),
    )
    _fail_on_nth_write(monkeypatch, 3)
    _, failures = process_days(raw, wh, [DAY], [])
    assert failures
    assert _seen(wh) == {"usage_daily": 2, "partner_daily": 2, "ingest_daily": 2}

    monkeypatch.undo()
    _, failures = process_days(raw, wh, [DAY], [])
    assert not failures
    assert _seen(wh) == {"usage_daily": 3, "partner_daily": 3, "ingest_daily": 3}
    assert len(storage.list_files(manifests.table_folder(wh, "usage_daily", DAY))) == 1
    assert warehouse.partition_days(wh, "usage_daily") == [DAY]
