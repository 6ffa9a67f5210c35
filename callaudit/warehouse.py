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
import itertools
import threading
from collections import OrderedDict
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
#: Bound of the decoded files kept in memory (_FileCache), in Polars' estimated bytes.
#: A full-size year of every table is ~20 MB decoded (usage_daily 11.6 MB
#: of it, the others under 1 MB each), so 128 MiB keeps the years a run reads several
#: times with room for more partners, and stays small beside the ~1.6 GB a full-size
#: day's computation peaks at. A frame over a quarter of it (a very large quarantine
#: day) is not kept. Files read in one batch share their buffers, which are freed when
#: the last of them is dropped: the bound is of the frames' own shares.
FILE_CACHE_BYTES = 128 * 2**20


class _FileCache:
    """Committed files already read in this process, conformed and dated, by URL; the
    least recently used go first when the bound is reached.

    A committed file never changes: its name carries its commit, and a re-run writes a
    new commit under new names. So a file read once answers every later read of its URL:
    a year's report reads the same year three times (its figures, the summary's
    reconciliation, its refusals), a nightly run reads the days before its own again.
    A local file is also keyed by its inode, size and times (one stat,
    storage.file_version): a file replaced by hand (a corrupted copy, a restored
    backup) is read again. Day manifests are not immutable and are not kept here."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.hits = 0
        self.misses = 0
        self._frames: OrderedDict[tuple, tuple[pl.DataFrame, int]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    @staticmethod
    def key(spec: Table, url: str) -> tuple:
        """FileNotFoundError when a local file is missing."""
        return (spec.name, url, storage.file_version(url))

    def get(self, key: tuple) -> pl.DataFrame | None:
        with self._lock:
            held = self._frames.get(key)
            if held is None:
                self.misses += 1
                return None
            self.hits += 1
            self._frames.move_to_end(key)
        return held[0].clone()  # a caller's in-place change must not reach the next reader

    def put(self, key: tuple, frame: pl.DataFrame) -> None:
        size = frame.estimated_size()
        if size > self.max_bytes // 4:
            return
        with self._lock:
            if key in self._frames:
                return
            self._frames[key] = (frame, size)
            self._bytes += size
            while self._bytes > self.max_bytes:
                _, (_, dropped) = self._frames.popitem(last=False)
                self._bytes -= dropped

    def clear(self) -> None:
        with self._lock:
            self._frames.clear()
            self._bytes = 0
            self.hits = self.misses = 0

    def info(self) -> dict[str, int]:
        with self._lock:
            return {
                "hits": self.hits,
                "misses": self.misses,
                "files": len(self._frames),
                "bytes": self._bytes,
                "max_bytes": self.max_bytes,
            }


_FILES = _FileCache(FILE_CACHE_BYTES)


def file_cache_info() -> dict[str, int]:
    """Reads of committed files answered from memory (hits) and from storage (misses)
    in this process, and what is held."""
    return _FILES.info()


def clear_file_cache() -> None:
    """Forget every file read so far (for measuring cold reads)."""
    _FILES.clear()


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
        # the daily pass conforms its tables as it makes them: five selects for nothing
        table.name: (parquet_bytes(table.conformed(frame)), frame.height)
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
    """The files of ``specs`` named by one manifest of their group (read first when None),
    dated. When a concurrent commit replaced them between reading the manifest and the
    files, the new manifest is followed for all of them, so they still come from one
    commit."""
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
                frames[spec.name] = _read_files(spec, [(day, url)])[0]
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


def _read_commits(
    warehouse: str, wanted: Mapping[dt.date, tuple[DayManifest, list[Table]]]
) -> dict[dt.date, tuple[dict[str, pl.DataFrame], DayManifest]]:
    """For each day, the files of its tables named by its manifest, dated: each table's
    files of all the days in one batch (_read_files). When a file is missing (a
    concurrent commit replaced it), day by day instead, following the new manifests."""
    files: dict[str, tuple[Table, list[tuple[dt.date, str]]]] = {}
    for day, (manifest, specs) in wanted.items():
        for spec in specs:
            url = manifests.file_url(warehouse, spec.name, day, manifest.tables[spec.name].file)
            files.setdefault(spec.name, (spec, []))[1].append((day, url))
    try:
        read = {
            name: dict(zip([day for day, _ in named], _read_files(spec, named), strict=True))
            for name, (spec, named) in files.items()
        }
    except FileNotFoundError:
        return {
            day: _read_commit(warehouse, specs, day, manifest)
            for day, (manifest, specs) in wanted.items()
        }
    return {
        day: ({spec.name: read[spec.name][day] for spec in specs}, manifest)
        for day, (manifest, specs) in wanted.items()
    }


def _read_files(spec: Table, files: list[tuple[dt.date, str]]) -> list[pl.DataFrame]:
    """The committed files ``(day, url)`` of ``spec``, each conformed with its leading
    date column, in order: from memory when read before (_FileCache), the others in one
    batch. FileNotFoundError when one is missing."""
    keys = [_FILES.key(spec, url) for _, url in files]
    frames = [_FILES.get(key) for key in keys]
    unread = [i for i, frame in enumerate(frames) if frame is None]
    if unread:
        for i, frame in zip(unread, _load(spec, [files[i] for i in unread]), strict=True):
            _FILES.put(keys[i], frame)
            frames[i] = frame.clone()
    return frames


def _load(spec: Table, files: list[tuple[dt.date, str]]) -> list[pl.DataFrame]:
    """Read ``files`` from storage: all at once and conformed once (the files of a
    table share its schema), or, when that fails, one by one, which raises what is
    wrong with the file that is."""
    if len(files) > 1:
        try:
            stacked, heights = storage.read_parquet_stack([url for _, url in files])
            frame = _with_dates(spec, spec.conform(stacked), [day for day, _ in files], heights)
        except Exception:  # a missing file, another schema: one by one, below
            pass
        else:
            starts = itertools.accumulate(heights, initial=0)
            return [frame.slice(start, n) for start, n in zip(starts, heights, strict=False)]
    return [_with_date(spec.conform(storage.read_parquet(url)), day) for day, url in files]


def read_partition(warehouse: str, table: str | Table, day: dt.date) -> pl.DataFrame:
    """One day of a table, without the date column; FileNotFoundError if never written."""
    spec = _table(table)
    return _read_commit(warehouse, [spec], day, None)[0][spec.name].drop(DATE_COLUMN)


def _with_date(frame: pl.DataFrame, day: dt.date) -> pl.DataFrame:
    return frame.select(pl.lit(day, dtype=pl.Date).alias(DATE_COLUMN), pl.all())


def _with_dates(
    spec: Table, frame: pl.DataFrame, days: list[dt.date], heights: list[int]
) -> pl.DataFrame:
    """``frame``, the files of ``days`` stacked (``heights`` rows each), with the leading
    date column of each file's rows."""
    held = [(day, n) for day, n in zip(days, heights, strict=True) if n]
    dates = (
        pl.DataFrame(
            {DATE_COLUMN: [day for day, _ in held], "rows": [n for _, n in held]},
            schema={DATE_COLUMN: pl.Date(), "rows": pl.UInt32()},
        )
        .select(pl.col(DATE_COLUMN).repeat_by("rows"))
        .explode(DATE_COLUMN)
        .get_column(DATE_COLUMN)
    )
    return frame.select(pl.lit(dates), *spec.names)


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
    days = sorted(set(days))
    found = day_manifests(warehouse, group_of(spec), days=days)
    wanted = {}
    for day in days:
        manifest = found.get(day)
        if manifest is None or spec.name not in manifest.tables:
            if missing_ok:
                continue
            raise FileNotFoundError(f"{spec.name} has no partition for {day}")
        wanted[day] = (manifest, [spec])
    read = _read_commits(warehouse, wanted)
    return _stack(spec, [frames[spec.name] for frames, _ in read.values()])


def read_range(warehouse: str, table: str | Table, start: dt.date, end: dt.date) -> pl.DataFrame:
    """All committed partitions of ``table`` from ``start`` to ``end`` inclusive."""
    spec = _table(table)
    found = day_manifests(warehouse, group_of(spec), start, end)
    wanted = {day: (m, [spec]) for day, m in found.items() if spec.name in m.tables}
    read = _read_commits(warehouse, wanted)
    return _stack(spec, [frames[spec.name] for frames, _ in read.values()])


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
    wanted = {}
    for day, manifest in found.items():
        held = [
            spec
            for spec, (start, end) in specs.items()
            if start <= day <= end and spec.name in manifest.tables
        ]
        if held:
            wanted[day] = (manifest, held)
    per_day: dict[str, list[pl.DataFrame]] = {spec.name: [] for spec in specs}
    for day, (frames, used) in _read_commits(warehouse, wanted).items():
        found[day] = used
        for name, frame in frames.items():
            per_day[name].append(frame)
    return {spec.name: _stack(spec, per_day[spec.name]) for spec in specs}, found


def data_gaps(warehouse: str, days: Iterable[dt.date]) -> dict[dt.date, str]:
    """Those of ``days`` committed as data gaps (no raw data), with the reason."""
    return {
        day: str(m.info.get("reason", "no raw data"))
        for day, m in day_manifests(warehouse, DAY_TABLES, days=days).items()
        if m.info.get("kind") == GAP
    }
