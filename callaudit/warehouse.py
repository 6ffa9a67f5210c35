"""Hive-style warehouse tables: ``<warehouse>/<table>/date=YYYY-MM-DD/part-0.parquet``.

A partition is one file written atomically, so re-running a day replaces it whole and a
failed day leaves the previous good partition in place. The partition column lives in
the path only; readers of a range get it back as a ``date`` column.
"""

import datetime as dt
from collections.abc import Iterable

import polars as pl

from callaudit import storage
from callaudit.schema import DATE_COLUMN, TABLES, Table

PART_FILE = "part-0.parquet"


def _table(table: str | Table) -> Table:
    return table if isinstance(table, Table) else TABLES[table]


def partition_url(warehouse: str, table: str | Table, day: dt.date) -> str:
    return storage.join(warehouse, _table(table).name, f"date={day.isoformat()}", PART_FILE)


def write_partition(warehouse: str, table: str | Table, day: dt.date, frame: pl.DataFrame) -> str:
    """Conform ``frame`` to the table's schema and replace the day's partition."""
    spec = _table(table)
    url = partition_url(warehouse, spec, day)
    storage.write_parquet(spec.conform(frame), url)
    return url


def has_partition(warehouse: str, table: str | Table, day: dt.date) -> bool:
    return storage.exists(partition_url(warehouse, table, day))


def read_partition(warehouse: str, table: str | Table, day: dt.date) -> pl.DataFrame:
    """One day of a table, without the date column; FileNotFoundError if never written."""
    spec = _table(table)
    url = partition_url(warehouse, spec, day)
    if not storage.exists(url):
        raise FileNotFoundError(f"{spec.name} has no partition for {day}: {url} is missing")
    return spec.conform(storage.read_parquet(url))


def partition_days(warehouse: str, table: str | Table) -> list[dt.date]:
    """Days that have a written partition of ``table``."""
    spec = _table(table)
    folders = storage.list_day_folders(storage.join(warehouse, spec.name))
    return [day for day, folder in folders.items() if storage.list_files(folder)]


def read_days(
    warehouse: str,
    table: str | Table,
    days: Iterable[dt.date],
    *,
    missing_ok: bool = True,
) -> pl.DataFrame:
    """Several days of a table with a leading ``date`` column; absent days are skipped
    (or raise when ``missing_ok`` is false)."""
    spec = _table(table)
    frames = []
    for day in sorted(set(days)):
        try:
            frame = read_partition(warehouse, spec, day)
        except FileNotFoundError:
            if missing_ok:
                continue
            raise
        frames.append(frame.with_columns(pl.lit(day, dtype=pl.Date).alias(DATE_COLUMN)))
    schema = {DATE_COLUMN: pl.Date(), **spec.schema}
    if not frames:
        return pl.DataFrame(schema=schema)
    return pl.concat(frames, how="vertical").select(list(schema))


def read_range(warehouse: str, table: str | Table, start: dt.date, end: dt.date) -> pl.DataFrame:
    """All written partitions of ``table`` from ``start`` to ``end`` inclusive."""
    days = [d for d in partition_days(warehouse, table) if start <= d <= end]
    return read_days(warehouse, table, days)
