"""Where a report's numbers came from: content fingerprints of its inputs, and the tool.

A report that backs a letter must let anyone check, later, that it was computed from
these files with this tool: the SHA-256 of contracts.yaml (and of the flag reviews),
the SHA-256 of every raw file of every day it covers, one digest for the range, the
callaudit version and git commit, the Dagster runs that built the days, the warehouse.
``callaudit verify`` recomputes them (callaudit.report.verify).

Hashing is streamed: each file is read in 1 MiB chunks, so memory stays a few MiB
whatever the size of the archive, and two files are hashed at a time (hashlib and file
reads release the GIL, so two threads use both cores). Measured on this 2-core machine
(benchmarks/hashing.py, a generated archive at scale 0.1, 2.1 GB, page cache cold):
see README "Provenance" for the figures and the full-size extrapolation.

No Dagster import: the run ids are handed in by the caller.
"""

import contextlib
import datetime as dt
import hashlib
import json
import subprocess
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

from callaudit import storage

#: Bytes read per step when hashing: big enough that hashlib runs at memory speed
#: (its per-call cost vanishes above ~64 KiB), small enough to never matter for memory.
CHUNK_BYTES = 1 << 20


def sha256_file(url: str, chunk: int = CHUNK_BYTES) -> str:
    """SHA-256 of a file's content (local path or s3:// URL), read in ``chunk`` bytes."""
    digest = hashlib.sha256()
    with storage.open_binary(url) as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True)
class FileFingerprint:
    name: str
    size: int
    sha256: str

    def as_dict(self) -> dict:
        return {"name": self.name, "size": self.size, "sha256": self.sha256}


@dataclass(frozen=True)
class DayFingerprint:
    date: dt.date
    files: tuple[FileFingerprint, ...]

    @property
    def bytes(self) -> int:
        return sum(f.size for f in self.files)

    def as_dict(self) -> dict:
        return {"date": self.date.isoformat(), "files": [f.as_dict() for f in self.files]}


def range_digest(days: Iterable[DayFingerprint]) -> str:
    """One SHA-256 for a range: over ``date name size sha256`` lines in day and name
    order, so it changes when any file of any day is added, removed or altered."""
    digest = hashlib.sha256()
    for day in sorted(days, key=lambda d: d.date):
        for f in sorted(day.files, key=lambda f: f.name):
            digest.update(f"{day.date.isoformat()}\t{f.name}\t{f.size}\t{f.sha256}\n".encode())
    return digest.hexdigest()


@dataclass
class ArchiveFingerprint:
    """The content fingerprint of an archive's days, and what computing it cost."""

    archive: str
    days: list[DayFingerprint]
    seconds: float = 0.0
    #: files whose hash was recorded earlier for the same name, size and mtime
    reused_hashes: int = 0

    @property
    def sha256(self) -> str:
        return range_digest(self.days)

    @property
    def files(self) -> int:
        return sum(len(d.files) for d in self.days)

    @property
    def bytes(self) -> int:
        return sum(d.bytes for d in self.days)

    @property
    def mb_per_second(self) -> float:
        return self.bytes / 1e6 / self.seconds if self.seconds else 0.0

    def day(self, day: dt.date) -> DayFingerprint | None:
        return next((d for d in self.days if d.date == day), None)


def day_files(archive: str, day: dt.date) -> list[storage.FileInfo]:
    """The raw files of a day as ingest reads them (``*.parquet``, hidden ones skipped)."""
    return storage.list_files(storage.day_folder(archive, day))


#: Where a warehouse keeps the SHA-256 of the raw files its reports hashed, per day.
HASH_CACHE = "_manifests/raw_sha256"


def hash_cache_url(warehouse: str, day: dt.date) -> str:
    return storage.join(warehouse, HASH_CACHE, f"date={day.isoformat()}.json")


def _cached_hashes(cache_url: str) -> dict[str, dict]:
    """name -> {size, mtime, sha256} recorded for a day; empty when never recorded or
    unreadable (the files are then hashed again, never trusted)."""
    if not storage.exists(cache_url):
        return {}
    try:
        entries = json.loads(storage.read_text(cache_url))
    except (OSError, ValueError):
        return {}
    return entries if isinstance(entries, dict) else {}


def _reusable(entry: dict | None, info: storage.FileInfo) -> str | None:
    """The recorded hash, if the file still has the size and modification time it had
    when it was hashed (and the storage reports a modification time at all)."""
    if not entry or not info.mtime:
        return None
    if entry.get("size") != info.size or entry.get("mtime") != info.mtime:
        return None
    sha = entry.get("sha256")
    return sha if isinstance(sha, str) and len(sha) == 64 else None


def fingerprint_archive(
    archive: str,
    days: Sequence[dt.date],
    *,
    workers: int = 2,
    cache: str | None = None,
) -> ArchiveFingerprint:
    """SHA-256 of every raw file of ``days`` (days without a folder have no files),
    ``workers`` files at a time.

    With ``cache`` (a warehouse location), a file whose name, size and modification time
    are those recorded when it was last hashed keeps its recorded hash, and new hashes
    are recorded: a nightly report hashes the new day, not the year (20 GB at full
    size). ``callaudit verify`` passes no cache: it reads every byte again."""
    started = time.perf_counter()
    listed = {day: day_files(archive, day) for day in days}
    infos = [info for day in days for info in listed[day]]
    hashes: dict[str, str] = {}
    recorded: dict[dt.date, dict[str, dict]] = {}
    # One worker: no pool. Starting one per computed day cost ~0.5 ms of the 1.7 ms
    # a small day's hashing took (thread-seconds, scale 0.01).
    with (
        ThreadPoolExecutor(max_workers=workers) if workers > 1 else contextlib.nullcontext()
    ) as pool:
        each = pool.map if pool is not None else map
        if cache is not None:
            cached_days = [day for day in days if listed[day]]
            urls = [hash_cache_url(cache, day) for day in cached_days]
            recorded = dict(zip(cached_days, each(_cached_hashes, urls), strict=True))
            for day, entries in recorded.items():
                for info in listed[day]:
                    sha = _reusable(entries.get(_name(info)), info)
                    if sha is not None:
                        hashes[info.url] = sha
        reused = len(hashes)
        pending = [i.url for i in infos if i.url not in hashes]
        hashes.update(zip(pending, each(sha256_file, pending), strict=True))
    if cache is not None:
        for day, entries in recorded.items():
            now = {
                _name(i): {"size": i.size, "mtime": i.mtime, "sha256": hashes[i.url]}
                for i in listed[day]
            }
            if now != entries:
                storage.write_text_atomic(
                    hash_cache_url(cache, day), json.dumps(now, indent=1, sort_keys=True)
                )
    fingerprints = [
        DayFingerprint(
            day,
            tuple(
                FileFingerprint(_name(i), i.size, hashes[i.url])
                for i in sorted(listed[day], key=lambda i: i.url)
            ),
        )
        for day in days
    ]
    return ArchiveFingerprint(
        archive, fingerprints, time.perf_counter() - started, reused_hashes=reused
    )


def _name(info: storage.FileInfo) -> str:
    return info.url.rsplit("/", 1)[-1]


def tool_version() -> str:
    try:
        return metadata.version("callaudit")
    except metadata.PackageNotFoundError:  # pragma: no cover - run from a bare checkout
        return "unknown"


def git_commit(where: Path | None = None) -> str | None:
    """The commit of the checkout callaudit runs from, or None (an installed wheel, no
    git). Read-only: ``git rev-parse``."""
    folder = where or Path(__file__).resolve().parent
    try:
        result = subprocess.run(
            ["git", "rev-parse", "--verify", "HEAD"],
            cwd=folder,
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    commit = result.stdout.strip()
    return commit if result.returncode == 0 and len(commit) == 40 else None


@dataclass
class InputFile:
    """A small input file (contracts.yaml, the flag reviews) and its SHA-256; None when
    the file does not exist (no reviews)."""

    location: str
    sha256: str | None

    @classmethod
    def of(cls, location: str) -> "InputFile":
        return cls(location, sha256_file(location) if storage.exists(location) else None)


@dataclass
class Provenance:
    """Everything summary.json's ``provenance`` states."""

    version: str
    git_commit: str | None
    contracts: InputFile
    reviews: InputFile
    archive: ArchiveFingerprint
    warehouse: str
    runs: list[dict] = field(default_factory=list)
    report_run: str | None = None
    generated_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))

    def as_dict(self) -> dict:
        return {
            "version": self.version,
            "git_commit": self.git_commit,
            "contracts": self.contracts.location,
            "contracts_sha256": self.contracts.sha256,
            "reviews": self.reviews.location,
            "reviews_sha256": self.reviews.sha256,
            "archive": self.archive.archive,
            "archive_sha256": self.archive.sha256,
            "archive_files": self.archive.files,
            "archive_bytes": self.archive.bytes,
            "hash_seconds": round(self.archive.seconds, 3),
            "reused_hashes": self.archive.reused_hashes,
            "days": [d.as_dict() for d in self.archive.days],
            "runs": self.runs,
            "report_run": self.report_run,
            "warehouse": self.warehouse,
            "generated_at": self.generated_at.isoformat(timespec="seconds"),
        }


def collect_provenance(
    *,
    archive: str,
    contracts: str,
    reviews: str,
    warehouse: str,
    days: Sequence[dt.date],
    runs: Sequence[dict] = (),
    report_run: str | None = None,
    workers: int = 2,
) -> Provenance:
    """Fingerprint the inputs of a report over ``days``."""
    return Provenance(
        version=tool_version(),
        git_commit=git_commit(),
        contracts=InputFile.of(contracts),
        reviews=InputFile.of(reviews),
        archive=fingerprint_archive(archive, days, workers=workers, cache=warehouse),
        warehouse=warehouse,
        runs=list(runs),
        report_run=report_run,
    )
