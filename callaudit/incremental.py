"""Incremental runs: which days of a range must be computed again, and why.

A day's tables are a function of its raw files, the agreements (restricted networks),
the code and the settings that change outputs; its flags also of the earlier days'
tables, the detection thresholds and the analysts' dismissals. Every daily_tables
commit records a fingerprint of the first group (:class:`TableInputs`, in the manifest's
``info["inputs"]``), taken *before* the day's files are read, so a file that changes
while it is read makes the next run compute the day again rather than trust it. The
flags commit records the second (callaudit.flags.freshness).

:func:`plan_days` compares both records with the present and keeps only the days whose
inputs changed, whose flags are missing or stale, or whose checks failed or never ran:
re-running an unchanged year costs one listing and three manifest reads per day. A day
that is computed again makes the flags of the later days depending on it stale; the
flags run recomputes those itself (callaudit.flags.flag_range), so they are not planned
here. Nothing in the skipped days is touched: no file, no manifest, no Dagster event,
so their data versions, and the UI's "up to date", stay as they were.

The raw files' fingerprint is their names, sizes and modification times (the late-data
sensor's), plus the names of the entries the day leaves out (they are listed in
``ingest_daily``): it costs one listing, no read. A rewrite that keeps a file's name,
size and modification time is not seen; ``callaudit backfill --force`` recomputes.
"""

import datetime as dt
import functools
import hashlib
import importlib.resources
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from callaudit import manifests, storage, warehouse
from callaudit.dates import days_between
from callaudit.flags import freshness
from callaudit.validation.results import VALIDATION_RESULTS, failed_days
from callaudit.validation.suites import SHIPPED_SUITES

#: Key of the inputs fingerprint in a daily_tables commit's manifest ``info``.
INPUTS = "inputs"
#: Day folders listed at once (each is one LIST request on an object store).
_LISTERS = 8


#: callaudit's modules a day's tables, flags and checks are computed by (paths under the
#: package, a folder meaning every module in it). Their source is the code version of a
#: day: a change to one computes every day again; the report, CLI and generator are not
#: part of it (the report has its own record, :func:`report_fingerprint`).
DAY_CODE = (
    "aggregate.py",
    "contracts.py",
    "exact_casts.py",
    "ingest.py",
    "manifests.py",
    "networks.py",
    "raw_to_tables.py",
    "reviews.py",
    "schema.py",
    "storage.py",
    "warehouse.py",
    "flags",
    "validation",
)


def _source_sha256(paths: Sequence[Path], root: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(paths):
        digest.update(path.relative_to(root).as_posix().encode("utf-8") + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


@functools.cache
def code_sha256() -> str:
    """A hash of the source of :data:`DAY_CODE`, read once per process (a run computes
    its days with the code it imported): over-computing after a change is safe, missing
    one is not. The shipped expectation suites count as code (a changed suite judges the
    days again); a suites folder named by CALLAUDIT_EXPECTATIONS does not."""
    root = Path(__file__).resolve().parent
    paths = [
        path
        for name in DAY_CODE
        for path in ((root / name).rglob("*.py") if (root / name).is_dir() else [root / name])
    ]
    suites = Path(str(importlib.resources.files(SHIPPED_SUITES)))
    both = _source_sha256(paths, root) + _source_sha256(sorted(suites.glob("*.json")), suites)
    return hashlib.sha256(both.encode("ascii")).hexdigest()


@functools.cache
def package_sha256() -> str:
    """A hash of all of callaudit's source: the report's code version."""
    root = Path(__file__).resolve().parent
    return _source_sha256(list(root.rglob("*.py")), root)


def raw_fingerprint(archive: str, day: dt.date) -> str:
    """The day folder's Parquet files (name, size, modification time) and the names of
    the entries it leaves out, hashed: one listing, no data read."""
    files, ignored = storage.scan_folder(storage.day_folder(archive, day))
    lines = [f"{f.url.rsplit('/', 1)[-1]}\t{f.size}\t{f.mtime:.6f}" for f in files]
    lines += [f"ignored\t{name}" for name in ignored]
    return hashlib.sha256("\n".join(lines).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class TableInputs:
    """What a day's tables are computed from besides its raw files, as it is now."""

    archive: str
    contracts_sha256: str
    skip_corrupt_files: bool
    fail_on_gaps: bool
    code_sha256: str = field(default_factory=code_sha256)

    def record(self, day: dt.date, raw: str | None = None) -> dict:
        """The fingerprint of ``day``'s inputs, for its daily_tables manifest (``raw``:
        the raw fingerprint if already taken)."""
        return {
            "raw": raw if raw is not None else raw_fingerprint(self.archive, day),
            "contracts_sha256": self.contracts_sha256,
            "code_sha256": self.code_sha256,
            "skip_corrupt_files": self.skip_corrupt_files,
            "fail_on_gaps": self.fail_on_gaps,
        }


#: What changed, by the first differing field of the fingerprint, in plain words.
_CHANGED = {
    "raw": "raw files changed",
    "contracts_sha256": "contracts.yaml changed",
    "code_sha256": "callaudit's code changed",
    "skip_corrupt_files": "--skip-corrupt-files changed",
    "fail_on_gaps": "--fail-on-gaps changed",
}


def why_tables_changed(recorded: dict | None, now: dict) -> str | None:
    """Why a day's tables, committed with the fingerprint ``recorded``, must be computed
    again with the inputs ``now``; None when they are current."""
    if not recorded:
        return "no record of its inputs"
    for key, reason in _CHANGED.items():
        if recorded.get(key) != now.get(key):
            return reason
    return None


@dataclass(frozen=True)
class Plan:
    """The days of a range to compute, each with why, and the days left as they are."""

    run: list[dt.date]
    skipped: list[dt.date]
    reasons: dict[dt.date, str]

    def summary(self, limit: int = 5) -> str:
        """One line: how many days run and why (the first few), how many are skipped."""
        listed = "; ".join(f"{d} ({self.reasons[d]})" for d in self.run[:limit])
        more = f"; and {len(self.run) - limit} more" if len(self.run) > limit else ""
        ran = (
            f"{len(self.run)} day(s) to compute: {listed}{more}" if self.run else "none to compute"
        )
        return f"{ran}; {len(self.skipped)} day(s) up to date, skipped"


def plan_days(
    warehouse_url: str,
    days: Sequence[dt.date],
    tables: TableInputs,
    flags: freshness.FlagInputs,
    *,
    force: bool = False,
) -> Plan:
    """Which of ``days`` to compute, comparing what each day's commits recorded with the
    inputs as they are now. ``force``: every day, whatever they say."""
    days = sorted(set(days))
    if force or not days:
        return Plan(list(days), [], {d: "--force" for d in days})
    with ThreadPoolExecutor(max_workers=_LISTERS) as pool:
        raw = dict(
            zip(days, pool.map(lambda d: raw_fingerprint(tables.archive, d), days), strict=True)
        )
    flag_manifests = warehouse.day_manifests(warehouse_url, freshness.FLAGS, days=days)
    widest = max(
        (
            int((m.info.get(freshness.INPUTS) or {}).get("history_days", 0))
            for m in flag_manifests.values()
        ),
        default=0,
    )
    daily = warehouse.day_manifests(
        warehouse_url, warehouse.DAY_TABLES, days[0] - dt.timedelta(days=widest), days[-1]
    )
    validated = warehouse.day_manifests(warehouse_url, VALIDATION_RESULTS.name, days=days)
    failed = failed_days(warehouse_url, [d for d in days if d in validated])
    reasons: dict[dt.date, str] = {}
    for day in days:
        manifest = daily.get(day)
        flagged = flag_manifests.get(day)
        if manifest is None:
            reasons[day] = "never computed"
        elif why := why_tables_changed(manifest.info.get(INPUTS), tables.record(day, raw[day])):
            reasons[day] = why
        elif flagged is None:
            reasons[day] = "no flags"
        elif why := freshness.why_stale(flagged.info.get(freshness.INPUTS), day, flags, daily):
            reasons[day] = f"flags stale: {why}"
        elif day not in validated:
            reasons[day] = "not validated"
        elif day in failed:
            reasons[day] = "failed validation"
    run = [d for d in days if d in reasons]
    return Plan(run, [d for d in days if d not in reasons], reasons)


def runs_of(days: Sequence[dt.date], chunk_days: int) -> list[tuple[list[dt.date], dt.date]]:
    """``days`` as runs of at most ``chunk_days`` consecutive days, each with the last
    day of its block of consecutive days: a run leaves the flag days up to there to the
    runs after it (they recompute them), and recomputes those after it that depend on
    it, skipped days included."""
    blocks: list[list[dt.date]] = []
    for day in sorted(days):
        if blocks and day - blocks[-1][-1] == dt.timedelta(days=1):
            blocks[-1].append(day)
        else:
            blocks.append([day])
    return [
        (block[i : i + chunk_days], block[-1])
        for block in blocks
        for i in range(0, len(block), chunk_days)
    ]


def plan_range(settings: Any, start: dt.date, end: dt.date, *, force: bool = False) -> Plan:
    """:func:`plan_days` for ``start..end`` with the inputs ``settings`` (a
    callaudit.settings.Settings) name: contracts.yaml, the reviews, detection thresholds."""
    from callaudit.contracts import load_contracts_hashed
    from callaudit.report.build import flag_inputs
    from callaudit.reviews import load_reviews_for

    _, contracts_sha256 = load_contracts_hashed(settings.contracts)
    tables = TableInputs(
        settings.archive, contracts_sha256, settings.skip_corrupt_files, settings.fail_on_gaps
    )
    flags = flag_inputs(settings, contracts_sha256, load_reviews_for(settings))
    return plan_days(settings.warehouse, days_between(start, end), tables, flags, force=force)


#: Where the inputs of the last report the CLI built for a year are recorded.
_REPORT_RECORDS = "reports"


def _report_record_url(warehouse_url: str, year: int) -> str:
    return storage.join(manifests.manifest_folder(warehouse_url, _REPORT_RECORDS), f"{year}.json")


def report_fingerprint(settings: Any, year: int) -> str | None:
    """A hash of everything a year's report is built from: the commit of every day of
    the year in each group (tables, flags, validation), contracts.yaml, the reviews, the
    code and where the report goes, and the published summary.json itself (a report
    rebuilt or removed by another process no longer matches). None without a report."""
    from callaudit.provenance import InputFile, sha256_file

    summary = storage.join(settings.reports, str(year), "summary.json")
    if not storage.exists(summary):
        return None
    first, last = dt.date(year, 1, 1), dt.date(year, 12, 31)
    lines = [
        f"code\t{package_sha256()}",
        f"contracts\t{InputFile.of(settings.contracts).sha256}",
        f"reviews\t{InputFile.of(settings.reviews_location).sha256}",
        f"archive\t{settings.archive}",
        f"summary\t{summary}\t{sha256_file(summary)}",
    ]
    for group in (warehouse.DAY_TABLES, freshness.FLAGS, VALIDATION_RESULTS.name):
        for day, manifest in warehouse.day_manifests(
            settings.warehouse, group, first, last
        ).items():
            lines.append(f"{group}\t{day}\t{manifest.commit}")
    return hashlib.sha256("\n".join(lines).encode("utf-8")).hexdigest()


def report_is_current(settings: Any, year: int) -> bool:
    """Whether the year's published report was built by the CLI from exactly the
    inputs in force now (:func:`record_report`), so building it again changes nothing."""
    try:
        recorded = storage.read_bytes(_report_record_url(settings.warehouse, year))
    except FileNotFoundError:
        return False
    now = report_fingerprint(settings, year)
    return now is not None and recorded.decode("utf-8").strip() == now


def record_report(settings: Any, year: int) -> None:
    """Record the inputs of the report of ``year`` just built (see report_is_current)."""
    fingerprint = report_fingerprint(settings, year)
    if fingerprint is not None:
        storage.write_text_atomic(_report_record_url(settings.warehouse, year), fingerprint)
