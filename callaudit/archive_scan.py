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


class OddFolderError(ValueError):
    """A folder of the archive inside the requested range that is not a real day."""


#: What a day folder's name looks like; anything else at the archive's top is odd.
_DAY_NAME = "date=YYYY-MM-DD"


def odd_folders(archive: str) -> list[str]:
    """Folders at the top of the archive that are not ``date=YYYY-MM-DD`` of a real day
    (``date=2022-13-45``, ``date=2022-02-30``, ``backup``), by name. Hidden ones
    (``.``, ``_``: tools' work folders, by the Hive convention) are not listed."""
    return [
        name
        for name in storage.list_folders(archive)
        if not name.startswith((".", "_")) and storage.day_of_folder(name) is None
    ]


def _inside(name: str, start: dt.date, end: dt.date) -> bool:
    """An odd ``date=...`` folder is inside a range when its text sorts within it, as
    ISO days do: ``date=2022-02-30`` is inside February 2022, ``date=2022-13-45`` after
    December 2022. A folder that names no date at all is inside no range."""
    if not name.startswith(_DAY_PART):
        return False
    text = name[len(_DAY_PART) :]
    return start.isoformat() <= text <= end.isoformat()


def check_folders(archive: str, start: dt.date, end: dt.date) -> list[str]:
    """Warnings naming the odd folders of the archive outside ``start..end``, which are
    ignored; OddFolderError naming those inside it, which could be days of the range."""
    odd = odd_folders(archive)
    inside = [name for name in odd if _inside(name, start, end)]
    if inside:
        raise OddFolderError(
            f"archive {archive}: folder(s) {', '.join(inside)} inside {start}..{end} are "
            f"not {_DAY_NAME} of a real day: rename or remove them, their files would be "
            "left out of the days they belong to"
        )
    return [
        f"ignoring folder {storage.join(archive, name)}: not {_DAY_NAME} of a real day, "
        f"outside {start}..{end}"
        for name in odd
    ]


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


#: An archive whose last day folder is at most this many days before today is still
#: being written (the log shipper delivers yesterday, late files follow for a few days):
#: its partitions stay open up to today, so the nightly schedule has a day to run.
OPEN_ARCHIVE_DAYS = 7


@dataclass(frozen=True)
class ArchiveWindow:
    """The days an archive holds, as its ``date=`` folders name them."""

    first: dt.date | None  # None: no day folder yet
    last: dt.date | None  # None: open, the archive is still being written (or empty)


def archive_window(archive: str, today: dt.date) -> ArchiveWindow:
    """The first and last day folder of the archive, from one listing of its top level
    (one LIST on an object store, however many days): cheap enough to run each time the
    definitions load. The end is open when the last day is within OPEN_ARCHIVE_DAYS of
    ``today``; folders that name no real day are left out."""
    days = storage.list_day_folders(archive)
    if not days:
        return ArchiveWindow(None, None)
    first, last = min(days), max(days)
    if (today - last).days <= OPEN_ARCHIVE_DAYS:
        return ArchiveWindow(first, None)
    return ArchiveWindow(first, last)


def content_hash(url: str) -> str:
    """A short hash of a small file's content (the agreements file)."""
    return hashlib.sha256(storage.read_bytes(url)).hexdigest()[:16]
