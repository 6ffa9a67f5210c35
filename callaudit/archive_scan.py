"""Fingerprints of an archive's day folders, to notice late and changed files cheaply.

A day's fingerprint is a short hash of its files' names, sizes and modification times:
it changes when a file is added, replaced or removed, without reading any data. The
whole archive is listed once per scan, which matters on an object store with thousands
of day folders. The late-data sensor compares fingerprints between ticks, and they are
the raw archive's data version per partition in Dagster.
"""

import datetime as dt
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass

from callaudit import storage

_DAY_PART = "date="


def _day_of(url: str) -> dt.date | None:
    """The day of a file's enclosing ``date=YYYY-MM-DD`` folder, if it has one."""
    parts = url.rstrip("/").split("/")
    for part in reversed(parts[:-1]):
        if part.startswith(_DAY_PART):
            try:
                return dt.date.fromisoformat(part[len(_DAY_PART) :])
            except ValueError:
                return None
    return None


def _digest(lines: list[str]) -> str:
    return hashlib.sha256("\n".join(lines).encode("utf-8")).hexdigest()[:16]


#: The fingerprint of a day with no files (never delivered, or every file removed).
NO_FILES = "no-files"


@dataclass(frozen=True)
class DayFiles:
    """What one scan saw in a day folder."""

    fingerprint: str
    files: int
    bytes: int


def scan_days(archive: str) -> dict[dt.date, DayFiles]:
    """Day -> its Parquet files' fingerprint, count and size, in day order.

    Days without a Parquet file are absent: an empty folder holds no data yet.
    """
    infos_by_day: dict[dt.date, list[storage.FileInfo]] = {}
    for info in storage.list_tree(archive):
        day = _day_of(info.url)
        if day is not None:
            infos_by_day.setdefault(day, []).append(info)
    scanned = {}
    for day, infos in sorted(infos_by_day.items()):
        lines = sorted(f"{i.url.rsplit('/', 1)[-1]}\t{i.size}\t{i.mtime:.6f}" for i in infos)
        scanned[day] = DayFiles(_digest(lines), len(infos), sum(i.size for i in infos))
    return scanned


def fingerprint_days(archive: str) -> dict[dt.date, str]:
    """Day -> fingerprint of the Parquet files in that day's folder, in day order."""
    return {day: seen.fingerprint for day, seen in scan_days(archive).items()}


def changed_days(previous: Mapping[dt.date, str], current: Mapping[dt.date, str]) -> list[dt.date]:
    """Days whose files were added, changed or removed between two scans, in day order."""
    days = set(previous) | set(current)
    return sorted(d for d in days if previous.get(d) != current.get(d))


def content_hash(url: str) -> str:
    """A short hash of a small file's content (the agreements file)."""
    return hashlib.sha256(storage.read_bytes(url)).hexdigest()[:16]
