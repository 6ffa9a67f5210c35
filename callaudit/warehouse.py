"""Hive-style warehouse tables: ``<warehouse>/<table>/date=YYYY-MM-DD/part-<commit>.parquet``.

A day's tables are committed together through a per-day manifest (callaudit.manifests):
readers find a day's file through it, so they see every table of a commit or none, and
re-running a day replaces all its tables at once. The tables one writer commits
together form a *group*: the five tables computed from a day's raw files are one group,
each other table is a group of its own. The partition column lives in the path only;
readers of a range get it back as a ``date`` column.
"""

import datetime as dt
import io
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import polars as pl

from callaudit import manifests, storage
from callaudit.manifests import DayManifest, ManifestError
from callaudit.schema import (
    DATE_COLUMN,
    INGEST_DAILY,
    NETWORK_DAILY,
    PARTNER_DAILY,
    QUARANTINE,
    TABLES,
    USAGE_DAILY,
    Table,
)

#: The group of the tables computed from one pass over a day's raw files.
DAY_TABLES = "daily_tables"
_GROUPS: dict[str, str] = {
    t.name: DAY_TABLES
    for t in (USAGE_DAILY, PARTNER_DAILY, NETWORK_DAILY, QUARANTINE, INGEST_DAILY)
}
#: ``info["kind"]`` of a daily_tables commit of a day without raw data: a data gap.
GAP = "gap"
#: Manifests read at once on an object store, where each is one GET (~10 ms).
_READERS = 8
#: Times a read retries when a concurrent commit replaced the file it was about to read.
_RETRIES = 3


def _table(table: str | Table) -> Table:
    return table if isinstance(table, Table) else TABLES[table]


def _name(table: str | Table) -> str:
    return table.name if isinstance(table, Table) else table


def group_of(table: str | Table) -> str:
    """The group whose manifest says which file of ``table`` is in force."""
    name = _name(table)
    return _GROUPS.get(name, name)


def parquet_bytes(frame: pl.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.write_parquet(buffer, compression="zstd", statistics=True)
    return buffer.getvalue()


def commit_day(
    warehouse: str,
    group: str,
    day: dt.date,
    frames: Mapping[Table, pl.DataFrame],
    *,
    info: Mapping[str, Any] | None = None,
) -> DayManifest:
    """Make ``frames`` (conformed to their tables) the whole of ``group`` on ``day``, all
    visible at once. An empty ``frames`` commits a day with no table (a data gap)."""
    for table in frames:
        if group_of(table) != group:
            raise ValueError(f"{table.name} is not a table of {group}")
    files = {
        table.name: (parquet_bytes(table.conform(frame)), frame.height)
        for table, frame in frames.items()
    }
    return manifests.commit(warehouse, group, day, files, info=info)


def write_partition(warehouse: str, table: str | Table, day: dt.date, frame: pl.DataFrame) -> str:
    """Replace one table's partition of ``day`` alone (the other tables of its group stay
    as they are), atomically; returns the new file's URL."""
    spec = _table(table)
    manifest = manifests.commit(
        warehouse,
        group_of(spec),
        day,
        {spec.name: (parquet_bytes(spec.conform(frame)), frame.height)},
        keep=True,
        info=_kept_info(warehouse, spec, day),
    )
    return manifests.file_url(warehouse, spec.name, day, manifest.tables[spec.name].file)


def _kept_info(warehouse: str, table: Table, day: dt.date) -> dict:
    previous = manifests.read_manifest(warehouse, group_of(table), day)
    return dict(previous.info) if previous else {}


def day_manifest(warehouse: str, group: str, day: dt.date) -> DayManifest | None:
    """The commit in force for ``group`` on ``day`` (None: never committed)."""
    return manifests.read_manifest(warehouse, group, day)


def day_manifests(
    warehouse: str,
    group: str,
    start: dt.date | None = None,
    end: dt.date | None = None,
    *,
    days: Iterable[dt.date] | None = None,
) -> dict[dt.date, DayManifest]:
    """The manifests of ``group`` for ``days`` (default: every committed day in
    ``start..end``), in day order; days never committed are absent."""
    if days is None:
        wanted = [
            d
            for d in manifests.manifest_days(warehouse, group)
            if (start is None or d >= start) and (end is None or d <= end)
        ]
        if not wanted and start is None and end is None:
            _refuse_unmanifested(warehouse, group)
    else:
        wanted = sorted(set(days))
    read = lambda d: manifests.read_manifest(warehouse, group, d)  # noqa: E731
    if storage.is_remote(warehouse) and len(wanted) > 1:
        with ThreadPoolExecutor(_READERS) as pool:
            found = list(pool.map(read, wanted))
    else:
        found = [read(d) for d in wanted]
    return {d: m for d, m in zip(wanted, found, strict=True) if m is not None}


def _refuse_unmanifested(warehouse: str, group: str) -> None:
    """A warehouse written before manifests existed would read as empty: say so instead."""
    tables = [name for name, g in _GROUPS.items() if g == group] or [group]
    for table in tables:
        for folder in storage.list_day_folders(storage.join(warehouse, table)).values():
            if any(f.url.endswith("/part-0.parquet") for f in storage.list_files(folder)):
                raise ManifestError(
                    f"{storage.join(warehouse, table)} holds partitions written by an older "
                    f"callaudit (part-0.parquet, no {manifests.MANIFESTS}/): re-run "
                    "`callaudit backfill` into a new warehouse"
                )
            break


def partition_days(
    warehouse: str,
    table: str | Table,
    start: dt.date | None = None,
    end: dt.date | None = None,
) -> list[dt.date]:
    """Days (in ``start..end``, default all) whose commit in force holds ``table``."""
    name = _name(table)
    found = day_manifests(warehouse, group_of(name), start, end)
    return [day for day, manifest in found.items() if name in manifest.tables]


def has_partition(warehouse: str, table: str | Table, day: dt.date) -> bool:
    manifest = manifests.read_manifest(warehouse, group_of(table), day)
    return manifest is not None and _name(table) in manifest.tables


def _read_commit(
    warehouse: str, specs: list[Table], day: dt.date, manifest: DayManifest | None
) -> tuple[dict[str, pl.DataFrame], DayManifest]:
    """The files of ``specs`` named by one manifest of their group (read first when None).
    When a concurrent commit replaced them between reading the manifest and the files,
    the new manifest is followed for all of them, so they still come from one commit."""
    group = group_of(specs[0])
    for _ in range(_RETRIES):
        if manifest is None:
            manifest = manifests.read_manifest(warehouse, group, day)
        missing = [s.name for s in specs if manifest is None or s.name not in manifest.tables]
        if manifest is None or missing:
            raise FileNotFoundError(
                f"{', '.join(missing)} has no partition for {day}: "
                f"{manifests.manifest_url(warehouse, group, day)} names none"
            )
        frames = {}
        try:
            for spec in specs:
                url = manifests.file_url(warehouse, spec.name, day, manifest.tables[spec.name].file)
                frames[spec.name] = spec.conform(storage.read_parquet(url))
            return frames, manifest
        except FileNotFoundError:
            again = manifests.read_manifest(warehouse, group, day)
            if again is None or again.commit == manifest.commit:
                raise ManifestError(
                    f"{spec.name} of {day}: commit {manifest.commit} names {url}, which is "
                    "missing; re-run the day"
                ) from None
            manifest = again
    raise ManifestError(f"tables of {group} on {day}: replaced {_RETRIES} times while being read")


def _read_file(
    warehouse: str, spec: Table, day: dt.date, manifest: DayManifest | None
) -> pl.DataFrame:
    return _read_commit(warehouse, [spec], day, manifest)[0][spec.name]


def read_partition(warehouse: str, table: str | Table, day: dt.date) -> pl.DataFrame:
    """One day of a table, without the date column; FileNotFoundError if never written."""
    return _read_file(warehouse, _table(table), day, None)


def _with_date(frame: pl.DataFrame, day: dt.date) -> pl.DataFrame:
    return frame.with_columns(pl.lit(day, dtype=pl.Date).alias(DATE_COLUMN))


def _stack(spec: Table, frames: list[pl.DataFrame]) -> pl.DataFrame:
    schema = {DATE_COLUMN: pl.Date(), **spec.schema}
    if not frames:
        return pl.DataFrame(schema=schema)
    return pl.concat(frames, how="vertical").select(list(schema))


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
    found = day_manifests(warehouse, group_of(spec), days=days)
    frames = []
    for day in sorted(set(days)):
        manifest = found.get(day)
        if manifest is None or spec.name not in manifest.tables:
            if missing_ok:
                continue
            raise FileNotFoundError(f"{spec.name} has no partition for {day}")
        frames.append(_with_date(_read_file(warehouse, spec, day, manifest), day))
    return _stack(spec, frames)


def read_range(warehouse: str, table: str | Table, start: dt.date, end: dt.date) -> pl.DataFrame:
    """All committed partitions of ``table`` from ``start`` to ``end`` inclusive."""
    spec = _table(table)
    found = day_manifests(warehouse, group_of(spec), start, end)
    frames = [
        _with_date(_read_file(warehouse, spec, day, manifest), day)
        for day, manifest in found.items()
        if spec.name in manifest.tables
    ]
    return _stack(spec, frames)


def read_snapshot(
    warehouse: str, ranges: Mapping[str | Table, tuple[dt.date, dt.date]]
) -> tuple[dict[str, pl.DataFrame], dict[dt.date, DayManifest]]:
    """Tables of one group, each over its own ``(start, end)``, from the same commits:
    each day's manifest is read once, so the tables agree even while a day is being
    re-run. Returns the frames by table name and the manifests they came from."""
    specs = {_table(t): span for t, span in ranges.items()}
    groups = {group_of(s) for s in specs}
    if len(groups) != 1:
        raise ValueError(f"a snapshot reads one group, not {sorted(groups)}")
    first = min(start for start, _ in specs.values())
    last = max(end for _, end in specs.values())
    found = day_manifests(warehouse, groups.pop(), first, last)
    per_day: dict[str, list[pl.DataFrame]] = {spec.name: [] for spec in specs}
    for day, manifest in found.items():
        held = [
            spec
            for spec, (start, end) in specs.items()
            if start <= day <= end and spec.name in manifest.tables
        ]
        if not held:
            continue
        frames, used = _read_commit(warehouse, held, day, manifest)
        found[day] = used
        for name, frame in frames.items():
            per_day[name].append(_with_date(frame, day))
    return {spec.name: _stack(spec, per_day[spec.name]) for spec in specs}, found


def data_gaps(warehouse: str, days: Iterable[dt.date]) -> dict[dt.date, str]:
    """Those of ``days`` committed as data gaps (no raw data), with the reason."""
    return {
        day: str(m.info.get("reason", "no raw data"))
        for day, m in day_manifests(warehouse, DAY_TABLES, days=days).items()
        if m.info.get("kind") == GAP
    }
