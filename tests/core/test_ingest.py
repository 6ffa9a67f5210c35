"""Reading a day of raw logs: de-duplication, quarantine reasons, schema drift."""

import datetime as dt

import pyarrow as pa
import pytest

from callaudit.ingest import CorruptFileError, ingest_day
from tests.rawlogs import DAY, at, call, write_raw


def test_a_clean_day_keeps_every_row(tmp_path):
    write_raw(tmp_path, [call(1), call(2), call(3)])
    day = ingest_day(str(tmp_path), DAY)
    assert day.valid.height == 3
    assert day.stats["rows_read"] == 3
    assert day.stats["files"] == 1
    assert day.quarantine.is_empty()


def test_duplicates_across_files_are_dropped_and_counted(tmp_path):
    write_raw(tmp_path, [call(1), call(2)], name="part-0.parquet")
    write_raw(tmp_path, [call(2), call(3)], name="part-late.parquet")
    day = ingest_day(str(tmp_path), DAY)
    assert sorted(day.valid["request_id"].to_list()) == [1, 2, 3]
    assert day.stats["duplicates"] == 1
    assert day.stats["rows_read"] == 4


@pytest.mark.parametrize("key", ["request_id", "ts", "partner_id", "app_id", "endpoint"])
def test_a_null_key_field_sends_the_row_to_quarantine(tmp_path, key):
    write_raw(tmp_path, [call(1), call(2, **{key: None})])
    day = ingest_day(str(tmp_path), DAY)
    assert day.valid.height == 1
    row = day.quarantine.row(0, named=True)
    assert row["reason"] == "null_key"
    assert key in row["detail"]
    assert row["source_file"].endswith("part-0.parquet")
    assert day.stats["quarantined_null_key"] == 1


@pytest.mark.parametrize("column", ["items", "bytes", "latency_ms"])
def test_a_negative_count_is_quarantined(tmp_path, column):
    write_raw(tmp_path, [call(1, **{column: -5})])
    day = ingest_day(str(tmp_path), DAY)
    assert day.valid.is_empty()
    assert day.quarantine["reason"].to_list() == ["negative_count"]
    assert day.quarantine["detail"].to_list() == [f"negative {column}"]
    assert day.quarantine[column].to_list() == ["-5"]


def test_a_timestamp_outside_the_folder_day_is_quarantined(tmp_path):
    write_raw(tmp_path, [call(1), call(2, ts=at(23, 59, 59, day=DAY - dt.timedelta(days=1)))])
    day = ingest_day(str(tmp_path), DAY)
    assert day.valid.height == 1
    assert day.quarantine["reason"].to_list() == ["ts_outside_day"]
    assert day.quarantine["ts"].to_list() == ["2022-02-28T23:59:59.000000Z"]


def test_the_day_runs_from_its_first_microsecond_to_its_last(tmp_path):
    midnight = at(0)
    next_midnight = at(0, day=DAY + dt.timedelta(days=1))
    last = next_midnight - dt.timedelta(microseconds=1)
    write_raw(tmp_path, [call(1, ts=midnight), call(2, ts=last), call(3, ts=next_midnight)])
    day = ingest_day(str(tmp_path), DAY)
    assert day.valid["request_id"].to_list() == [1, 2]
    assert day.valid["ts"].to_list() == [midnight, last]
    assert day.quarantine["reason"].to_list() == ["ts_outside_day"]
    assert day.quarantine["ts"].to_list() == ["2022-03-02T00:00:00.000000Z"]


def test_a_timestamp_beyond_the_iso_years_is_quarantined_as_microseconds(tmp_path):
    ten_am = (at(10) - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)) // dt.timedelta(microseconds=1)
    year_0 = -62_135_596_800_000_001  # 1 us before 0001-01-01T00:00:00Z
    write_raw(tmp_path, [call(1, ts=ten_am), call(2, ts=year_0)])
    day = ingest_day(str(tmp_path), DAY)
    assert day.valid["request_id"].to_list() == [1]
    assert day.quarantine["ts"].to_list() == ["-62135596800000001 us since 1970-01-01"]


def test_status_as_text_is_cast_and_the_uncastable_kept_verbatim(tmp_path):
    rows = [call(1, status="200"), call(2, status=" 429 "), call(3, status="n/a")]
    write_raw(tmp_path, rows, status=pa.string())
    day = ingest_day(str(tmp_path), DAY)
    assert sorted(day.valid["status"].to_list()) == [200, 429]
    rejected = day.quarantine.row(0, named=True)
    assert (rejected["reason"], rejected["status"]) == ("uncastable_value", "n/a")
    assert "status" in rejected["detail"]


def test_request_ids_of_mixed_types_deduplicate_together(tmp_path):
    write_raw(tmp_path, [call(7), call(8)], name="a.parquet")
    write_raw(tmp_path, [call("7")], name="b.parquet", request_id=pa.string())
    day = ingest_day(str(tmp_path), DAY)
    assert sorted(day.valid["request_id"].to_list()) == ["7", "8"]
    assert day.stats["duplicates"] == 1


def test_a_missing_optional_column_becomes_null(tmp_path):
    write_raw(tmp_path, [call(1)], client_ip=None, latency_ms=None)
    day = ingest_day(str(tmp_path), DAY)
    assert day.valid.height == 1
    assert day.valid["client_ip"].to_list() == [None]
    assert day.valid["latency_ms"].to_list() == [None]


def test_extra_columns_are_ignored(tmp_path):
    write_raw(tmp_path, [call(1, user_agent="curl/8")], user_agent=pa.string())
    day = ingest_day(str(tmp_path), DAY)
    assert "user_agent" not in day.valid.columns
    assert day.valid.height == 1


def test_naive_and_millisecond_timestamps_are_read_as_utc(tmp_path):
    write_raw(tmp_path, [call(1, ts=dt.datetime(2022, 3, 1, 0, 0, 1))], ts=pa.timestamp("ms"))
    day = ingest_day(str(tmp_path), DAY)
    assert day.valid["ts"].to_list() == [at(0, 0, 1)]


def test_a_truncated_file_fails_the_day_naming_the_file(tmp_path):
    write_raw(tmp_path, [call(1)], name="good.parquet")
    broken = write_raw(tmp_path, [call(i) for i in range(2, 50)], name="broken.parquet")
    broken.write_bytes(broken.read_bytes()[:-40])
    with pytest.raises(CorruptFileError, match=r"broken\.parquet"):
        ingest_day(str(tmp_path), DAY)


def test_a_damaged_data_page_fails_the_day_naming_the_file(tmp_path):
    write_raw(tmp_path, [call(1)], name="good.parquet")
    broken = write_raw(tmp_path, [call(i) for i in range(2, 500)], name="broken.parquet")
    data = bytearray(broken.read_bytes())
    for i in range(40, 400):  # scribble over column data, keep the footer intact
        data[i] = 0xFF
    broken.write_bytes(bytes(data))
    with pytest.raises(CorruptFileError, match=r"broken\.parquet"):
        ingest_day(str(tmp_path), DAY)


def test_a_run_configured_to_skip_corrupt_files_reports_them_as_gaps(tmp_path):
    write_raw(tmp_path, [call(1)], name="good.parquet")
    broken = write_raw(tmp_path, [call(2)], name="broken.parquet")
    broken.write_bytes(b"PAR1 not really")
    day = ingest_day(str(tmp_path), DAY, skip_corrupt_files=True)
    assert day.valid.height == 1
    assert day.stats["skipped_files"] == 1
    assert day.stats["skipped_file_names"].endswith("broken.parquet")
    assert day.stats["files"] == 1


def test_rows_read_reconcile_with_valid_duplicates_and_quarantined(tmp_path):
    rows = [call(1), call(2), call(2), call(3, items=-1), call(4, partner_id=None)]
    write_raw(tmp_path, rows)
    stats = ingest_day(str(tmp_path), DAY).stats
    assert stats["rows_read"] == 5
    assert stats["rows_valid"] + stats["duplicates"] + stats["quarantined"] == stats["rows_read"]
    assert (stats["rows_valid"], stats["duplicates"], stats["quarantined"]) == (2, 1, 2)


def test_a_day_without_files_is_empty_not_an_error(tmp_path):
    day = ingest_day(str(tmp_path), DAY)
    assert day.valid.is_empty()
    assert day.stats["files"] == 0
    assert day.stats["rows_read"] == 0


def test_a_re_delivery_conflicts_when_any_field_differs_from_the_kept_copy(tmp_path):
    # 1: the same call three times, a null field equal to a null; 2: the second copy
    # equals the first, the third does not; 3: a null where the kept copy has a value;
    # 4: delivered once.
    write_raw(
        tmp_path,
        [call(1, client_ip=None), call(2), call(3), call(4)],
        name="part-0.parquet",
    )
    write_raw(
        tmp_path,
        [call(1, client_ip=None), call(2), call(3, latency_ms=None)],
        name="part-1.parquet",
    )
    write_raw(tmp_path, [call(1, client_ip=None), call(2, status=500)], name="part-2.parquet")
    day = ingest_day(str(tmp_path), DAY)
    assert day.stats["conflicting_duplicates"] == 2  # request ids 2 and 3
    assert day.stats["duplicates"] == 5
    kept = day.valid.sort("request_id")
    assert kept["status"].to_list() == [200, 200, 200, 200]  # the first copies
    assert kept["latency_ms"].to_list() == [120, 120, 120, 120]


def test_a_key_of_whitespace_is_missing_but_one_of_python_only_separators_is_a_key(tmp_path):
    # U+001C is whitespace to Python's str.strip, not to Polars: a key like any other
    write_raw(tmp_path, [call(1, app_id=" \u3000\t"), call(2, endpoint="\x1c"), call(3)])
    day = ingest_day(str(tmp_path), DAY)
    assert day.valid["request_id"].to_list() == [2, 3]
    assert day.quarantine.select("request_id", "reason", "detail").rows() == [
        ("1", "null_key", "empty app_id")
    ]
