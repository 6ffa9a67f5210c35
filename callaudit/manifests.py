"""Per-day manifests: how several tables of one day become visible together.

A writer never replaces a table file in place. It writes each table of the day under a
name of its own, ``<warehouse>/<table>/date=D/part-<commit>.parquet``, then replaces one
small JSON file, the day's manifest ``<warehouse>/_manifests/<group>/date=D.json``,
naming the file of every table of that commit. Replacing one file is atomic on a local
disk (rename) and on S3 (a single PUT is visible whole), so a reader that goes through
the manifest sees every table of the old commit or every table of the new one, never a
mix: a writer killed or out of disk before the manifest is replaced leaves the previous
commit in force, and its new files are unreferenced. After the manifest is replaced, the
files no manifest names are deleted, so a folder holds one file again (a glob over the
hive folders, as DuckDB does, sees the committed day except in those few milliseconds).

A *group* is the set of tables one writer commits together: the five tables computed
from a day's raw files, the day's flags, the day's validation results. Each group has
its own manifest per day, so writers of different groups never contend for one file.

The manifest also carries what the writer wants later readers to know about the commit
(``info``): the raw files a day was computed from, or that it was a data gap; the
inputs a day's flags were computed from. Readers compare those with the present to tell
stale from fresh (callaudit.flags.freshness).

Durability: like every write here there is no fsync; a power cut (not a killed process)
right after a commit can leave a manifest naming a file that was not flushed, which
fails the read loudly, naming the file; re-running the day rebuilds it.
"""

import datetime as dt
import json
import os
import re
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from callaudit import storage

#: Format version written in every manifest; a reader refuses versions it does not know.
FORMAT = 1
#: Folder of the manifests under the warehouse (``_`` so hive readers skip it).
MANIFESTS = "_manifests"
#: Data files of a commit: ``part-<commit>.parquet``.
_PART = re.compile(r"^part-(.+)\.parquet$")
_MANIFEST_NAME = re.compile(r"^date=(\d{4}-\d{2}-\d{2})\.json$")
#: Local manifests kept parsed (_ParsedManifests): four groups of three years' days,
#: a few KB each.
_PARSED_MANIFESTS = 4 * 3 * 366
#: A file changed less than this long ago may change again without its stat changing
#: (times are as coarse as a clock tick, and some file systems' coarser): not kept.
_SETTLED_SECONDS = 2.0


class ManifestError(RuntimeError):
    """A manifest that cannot be read or names a file that is not there; says which."""


@dataclass(frozen=True)
class TableFile:
    """One table of a commit: its file (name in the day folder) and row count."""

    file: str
    rows: int


@dataclass(frozen=True)
class DayManifest:
    """What is in force for one group on one day."""

    group: str
    day: dt.date
    commit: str
    committed_at: str
    tables: dict[str, TableFile]
    info: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(
            {
                "format": FORMAT,
                "group": self.group,
                "date": self.day.isoformat(),
                "commit": self.commit,
                "committed_at": self.committed_at,
                "tables": {
                    name: {"file": t.file, "rows": t.rows}
                    for name, t in sorted(self.tables.items())
                },
                "info": self.info,
            },
            indent=1,
            sort_keys=False,
        )

    @classmethod
    def from_json(cls, text: str, url: str) -> "DayManifest":
        try:
            data = json.loads(text)
            if data.get("format") != FORMAT:
                raise ManifestError(
                    f"{url}: manifest format {data.get('format')!r} is not {FORMAT}: written by "
                    "another callaudit version"
                )
            return cls(
                group=data["group"],
                day=dt.date.fromisoformat(data["date"]),
                commit=data["commit"],
                committed_at=data["committed_at"],
                tables={
                    name: TableFile(t["file"], int(t["rows"])) for name, t in data["tables"].items()
                },
                info=data.get("info") or {},
            )
        except ManifestError:
            raise
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ManifestError(f"{url}: not a callaudit manifest ({exc})") from None


def manifest_folder(warehouse: str, group: str) -> str:
    return storage.join(warehouse, MANIFESTS, group)


def manifest_url(warehouse: str, group: str, day: dt.date) -> str:
    return storage.join(manifest_folder(warehouse, group), f"date={day.isoformat()}.json")


def table_folder(warehouse: str, table: str, day: dt.date) -> str:
    return storage.join(warehouse, table, f"date={day.isoformat()}")


def file_url(warehouse: str, table: str, day: dt.date, name: str) -> str:
    return storage.join(table_folder(warehouse, table, day), name)


class _ParsedManifests:
    """Local manifests already parsed in this process, each with the stat it was read
    at (storage.file_version: inode, size, modification and change times).

    A manifest is replaced on every commit, so it is never answered from memory
    unseen: each read stats the file (~3 us, against ~50 us to read and parse it) and
    uses the parsed manifest only when the stat is unchanged. A commit replaces the file
    by a rename, so the path gets a new inode with fresh times; a rewrite in place
    changes the change time, which nothing can set back. The one blind spot, a change
    within the same clock tick as the stat, is closed like git's racily clean index
    entries: a manifest whose file changed in the last ``_SETTLED_SECONDS`` is not kept.
    On an object store a stat costs a request like the read, so nothing is kept there.
    Callers treat a DayManifest as read-only (its dicts are shared)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._held: OrderedDict[str, tuple[tuple, DayManifest]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, path: str, version: tuple) -> DayManifest | None:
        with self._lock:
            held = self._held.get(path)
            if held is None or held[0] != version:
                return None
            self._held.move_to_end(path)
            return held[1]

    def put(self, path: str, version: tuple, manifest: DayManifest) -> None:
        if time.time_ns() - max(version[2], version[3]) < _SETTLED_SECONDS * 1e9:
            return
        with self._lock:
            self._held[path] = (version, manifest)
            self._held.move_to_end(path)
            while len(self._held) > self.size:
                self._held.popitem(last=False)


_PARSED = _ParsedManifests(_PARSED_MANIFESTS)


def read_manifest(warehouse: str, group: str, day: dt.date) -> DayManifest | None:
    """The manifest in force for ``group`` on ``day``, or None when nothing was committed."""
    url = manifest_url(warehouse, group, day)
    try:
        version = storage.file_version(url)  # before the read: see _ParsedManifests
        if version is not None:
            path = os.path.abspath(url)
            parsed = _PARSED.get(path, version)
            if parsed is not None:
                return parsed
        text = storage.read_bytes(url).decode("utf-8")
    except FileNotFoundError:
        return None
    manifest = DayManifest.from_json(text, url)
    if version is not None:
        _PARSED.put(path, version, manifest)
    return manifest


def manifest_days(warehouse: str, group: str) -> list[dt.date]:
    """Days with a manifest of ``group``: one listing of the group's folder."""
    days = []
    for name in storage.list_names(manifest_folder(warehouse, group), suffix=".json"):
        match = _MANIFEST_NAME.match(name)
        if match:
            days.append(dt.date.fromisoformat(match.group(1)))
    return sorted(days)


def new_commit_id(now: dt.datetime | None = None) -> str:
    """A unique, time-ordered commit id: ``20220315T020312123456Z-3f9a2c1b``."""
    now = now or dt.datetime.now(dt.UTC)
    return f"{now:%Y%m%dT%H%M%S%fZ}-{uuid.uuid4().hex[:8]}"


def commit(
    warehouse: str,
    group: str,
    day: dt.date,
    files: Mapping[str, tuple[bytes, int]],
    *,
    info: Mapping[str, Any] | None = None,
    keep: bool = False,
) -> DayManifest:
    """Commit ``files`` (table -> (Parquet bytes, rows)) as ``group``'s tables of ``day``.

    Every file is written under the new commit's name first; only then is the manifest
    replaced, in one atomic write. With ``keep`` the tables of the previous commit that
    ``files`` does not name stay in force (one table of a group replaced alone);
    otherwise the new commit holds exactly ``files``. Files no longer named are deleted
    afterwards.
    """
    previous = read_manifest(warehouse, group, day)
    commit_id = new_commit_id()
    name = f"part-{commit_id}.parquet"
    tables: dict[str, TableFile] = dict(previous.tables) if (keep and previous) else {}
    for table, (data, rows) in files.items():
        storage.write_bytes_atomic(file_url(warehouse, table, day, name), data)
        tables[table] = TableFile(name, rows)
    manifest = DayManifest(
        group=group,
        day=day,
        commit=commit_id,
        committed_at=dt.datetime.now(dt.UTC).isoformat(timespec="microseconds"),
        tables=tables,
        info=dict(info or {}),
    )
    storage.write_text_atomic(manifest_url(warehouse, group, day), manifest.to_json())
    touched = set(files) | (set(previous.tables) if previous else set())
    _delete_unreferenced(warehouse, day, touched, manifest)
    return manifest


def _delete_unreferenced(
    warehouse: str, day: dt.date, tables: set[str], manifest: DayManifest
) -> None:
    """Remove the data files of ``tables`` on ``day`` that ``manifest`` does not name:
    the replaced commit's, and those of a writer that died before its manifest. Runs that
    write overlapping days are refused (callaudit.assets.run_guard in one Dagster
    instance, the days' lock objects of callaudit.writer_lock across instances), so none
    of them is still being written; a reader that loses a file this way follows the new manifest."""
    for table in sorted(tables):
        live = manifest.tables.get(table)
        folder = table_folder(warehouse, table, day)
        # Names only (locally one directory read, no stat per file), not fsspec's
        # listing with details: 0.05 thread-ms for a day's five folders against 0.16.
        for name in storage.list_names(folder):
            if _PART.match(name) and (live is None or name != live.file):
                storage.remove(file_url(warehouse, table, day, name))
