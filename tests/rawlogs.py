"""Writing small raw call-log files for tests, the way the log shipper would."""

import datetime as dt
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

DAY = dt.date(2022, 3, 1)


def at(hour: int, minute: int = 0, second: int = 0, day: dt.date = DAY) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, hour, minute, second, tzinfo=dt.UTC)


def call(request_id: int | str, /, **overrides) -> dict:
    """One well-formed call; override any field."""
    row = {
        "request_id": request_id,
        "ts": at(10, 0, int(request_id) % 60),
        "partner_id": "acme",
        "app_id": "acme-search",
        "endpoint": "GET /2/tweets/search/recent",
        "status": 200,
        "items": 10,
        "bytes": 25_000,
        "latency_ms": 120,
        "client_ip": "203.0.113.7",
    }
    row.update(overrides)
    return row


TYPES = {
    "request_id": pa.uint64(),
    "ts": pa.timestamp("us", tz="UTC"),
    "partner_id": pa.string(),
    "app_id": pa.string(),
    "endpoint": pa.string(),
    "status": pa.int32(),
    "items": pa.int32(),
    "bytes": pa.int32(),
    "latency_ms": pa.int32(),
    "client_ip": pa.string(),
}


def write_raw(
    archive: Path, rows: list[dict], *, day: dt.date = DAY, name: str = "part-0.parquet", **types
) -> Path:
    """Write ``rows`` as one Parquet file of the day's folder; ``types`` override Arrow types
    (a column typed ``None`` is left out of the file)."""
    schema = {**TYPES, **types}
    columns = {
        col: pa.array([r.get(col) for r in rows], type=typ)
        for col, typ in schema.items()
        if typ is not None
    }
    folder = archive / f"date={day.isoformat()}"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)  # a name may hold a sub-folder
    pq.write_table(pa.table(columns), path)
    return path
