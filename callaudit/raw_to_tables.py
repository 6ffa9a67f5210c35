"""Turning days of the raw archive into the day-grain warehouse partitions.

A day is computed in memory, whole or, above ``slice_rows`` raw rows, one request_id
slice at a time (``compute_day``), and only then committed: its five tables are written under a new commit and become visible together
when the day's manifest is replaced (callaudit.manifests), so a day that fails, even
half-way through writing, leaves the previous good tables in place, and re-running a
day replaces them all at once. Days run two at a time, which measured fastest on two
cores (one Polars query per day), and small days four at a time (DayAdmission).

A day with no raw data (no day folder, no Parquet file in it, files without a row, or
every file unreadable and skipped) is a *data gap*: nothing is summed as zero; the day
is committed with no table and the gap's reason, so readers list it and the report
says its figures are a lower bound. With ``fail_on_gaps`` such a day fails instead. A
day that had data when it was last committed and now has none (a mount gone, a prefix
deleted) is refused: its tables are kept, never replaced by empty ones.
"""

import contextlib
import datetime as dt
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field

from callaudit import manifests, provenance, storage, warehouse
from callaudit.aggregate import DailyAggregates, aggregate_day, merge_slices, slice_aggregates
from callaudit.contracts import RestrictedNetwork
from callaudit.incremental import INPUTS, TableInputs
from callaudit.ingest import (
    DayIngest,
    DaySources,
    ingest_day_sliced,
    ingest_sources,
    open_day,
    slices_for,
)
from callaudit.schema import (
    INGEST_DAILY,
    NETWORK_DAILY,
    PARTNER_DAILY,
    QUARANTINE,
    USAGE_DAILY,
    Table,
)

#: Tables written by the daily pass, in the order they are written.
DAILY_TABLES: tuple[Table, ...] = (
    USAGE_DAILY,
    PARTNER_DAILY,
    NETWORK_DAILY,
    QUARANTINE,
    INGEST_DAILY,
)


@dataclass
class DayResult:
    """What one processed day produced, for metadata, progress and benchmarks."""

    day: dt.date
    ingest: dict
    rows: dict[str, int]
    top_partners: list[tuple[str, int, int]]
    skipped_files: list[str]
    seconds: dict[str, float] = field(default_factory=dict)
    #: Why the day has no data (a data gap), or None.
    gap: str | None = None
    #: request_id slices the day was computed in (1: whole, in one pass)
    slices: int = 1


class DataGapError(RuntimeError):
    """A day with no raw data while gaps are fatal (``fail_on_gaps``)."""


class VanishedDayError(RuntimeError):
    """A day that had data when last committed has none now; its tables are kept."""


@dataclass
class DayFailure:
    day: dt.date
    error: str


def failure_line(exc: Exception) -> str:
    """Why a day failed, in one line: callaudit's own errors as they are (they name the
    file, column or group), a library's with its type and first line (the rest of a
    Polars error is the expression it was evaluating)."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    text = lines[0] if lines else ""
    if type(exc).__module__.startswith("callaudit"):
        return text or type(exc).__name__
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def raw_info(ingested: DayIngest) -> dict:
    """What a day's commit records about its raw input: enough to tell, later, that a
    day which had data has lost it (its files vanished) rather than never had any."""
    return {
        "kind": "data",
        "rows_read": int(ingested.stats["rows_read"]),
        "files": [url.rsplit("/", 1)[-1] for url in ingested.files],
    }


def _why_no_data(ingested: DayIngest, folder: str) -> str:
    if not ingested.files:
        return f"no raw file in {folder}"
    if len(ingested.skipped_files) == len(ingested.files):
        return f"all {len(ingested.files)} raw file(s) in {folder} unreadable, skipped"
    return f"the {len(ingested.files)} raw file(s) in {folder} hold no row"


def _no_data(
    archive: str,
    warehouse_url: str,
    ingested: DayIngest,
    *,
    fail_on_gaps: bool,
    inputs: dict | None = None,
) -> DayResult:
    """A day without a raw row: refused if it had data, else a gap (or an error)."""
    day = ingested.day
    reason = _why_no_data(ingested, storage.day_folder(archive, day))
    previous = warehouse.day_manifest(warehouse_url, warehouse.DAY_TABLES, day)
    had = int(previous.info.get("rows_read", 0)) if previous else 0
    if previous is not None and previous.info.get("kind") == "data" and had > 0:
        raise VanishedDayError(
            f"{day} had {had:,} raw rows in {len(previous.info.get('files', []))} file(s) "
            f"when last committed ({previous.committed_at}) and now {reason}: refusing to "
            "replace its tables with empty ones, they are kept. Restore its files, or, if "
            "the day really is empty now, delete "
            f"{manifests.manifest_url(warehouse_url, warehouse.DAY_TABLES, day)} and re-run it"
        )
    if fail_on_gaps:
        raise DataGapError(
            f"{day} has no raw data ({reason}): a data gap, fatal with --fail-on-gaps "
            "(CALLAUDIT_FAIL_ON_GAPS=1)"
        )
    warehouse.commit_day(
        warehouse_url,
        warehouse.DAY_TABLES,
        day,
        {},
        info={**raw_info(ingested), "kind": warehouse.GAP, "reason": reason, **(inputs or {})},
    )
    return DayResult(
        day=day,
        ingest=ingested.stats,
        rows={table.name: 0 for table in DAILY_TABLES},
        top_partners=[],
        skipped_files=ingested.skipped_files,
        seconds=ingested.seconds,
        gap=reason,
    )


def compute_day(
    archive: str,
    day: dt.date,
    networks: Sequence[RestrictedNetwork],
    *,
    skip_corrupt_files: bool = False,
    slice_rows: int | None = None,
    sources: DaySources | None = None,
) -> tuple[DayIngest, DailyAggregates | None]:
    """A day's ingest and aggregates (None when it has no raw row), not yet written.

    A day of up to ``slice_rows`` raw rows (counted in the files' footers) is read and
    aggregated whole, in one pass: the fastest way, and a full-size day (2.8 M rows)
    fits. A bigger one is computed in request_id slices of about ``slice_rows`` rows
    each, aggregated one by one and merged exactly (``aggregate.merge_slices``), so its
    memory is that of one slice whatever the day's size; its tables equal one pass's.
    ``sources``: the day already opened (open_day).
    """
    if sources is None:
        sources = open_day(archive, day, skip_corrupt_files=skip_corrupt_files)
    slices = slices_for(sources.raw_rows, slice_rows)
    if slices == 1:
        ingested = ingest_sources(sources, day, skip_corrupt_files=skip_corrupt_files)
        if ingested.stats["rows_read"] == 0:
            return ingested, None
        started = time.perf_counter()
        aggregates = aggregate_day(ingested.valid, networks)
    else:
        ingested, parts = ingest_day_sliced(
            sources,
            day,
            slices,
            lambda valid: slice_aggregates(valid, networks),
            skip_corrupt_files=skip_corrupt_files,
        )
        if ingested.stats["rows_read"] == 0:
            return ingested, None
        started = time.perf_counter()
        aggregates = merge_slices(parts)
    ingested.seconds["aggregate"] = time.perf_counter() - started
    return ingested, aggregates


#: Raw rows up to which a day counts as small: half a worker's share of memory and CPU.
SMALL_DAY_ROWS = 250_000


class DayAdmission:
    """How many days are computed at once: ``workers`` days, or up to twice as many
    small ones (at most SMALL_DAY_ROWS raw rows, from the footers).

    Two days at a time measured fastest on two cores for full-size days (2-3 M rows: one
    day's Polars queries keep a core busy), and memory is about two days held whole. A
    small day's queries are too short to: much of its time is Python, one thread at a
    time, so two small days left a third of the two cores idle (a 0.01 year's days, ~30 k
    rows each, 1.4 of 2 cores busy); four at a time took 6.1-7.0 s against 8.1-9.1 s.
    Four small days hold less memory than one full-size day. A day waits here after its
    footers are read, before its rows are, so memory is bounded by the days admitted."""

    def __init__(self, workers: int) -> None:
        self.slots = 2 * workers
        self._used = 0
        self._free = threading.Condition()

    @contextlib.contextmanager
    def hold(self, raw_rows: int) -> Iterator[None]:
        """Wait for room for a day of ``raw_rows``, hold it while the block runs."""
        weight = 1 if raw_rows <= SMALL_DAY_ROWS else 2
        with self._free:
            self._free.wait_for(lambda: self._used + weight <= self.slots)
            self._used += weight
        try:
            yield
        finally:
            with self._free:
                self._used -= weight
                self._free.notify_all()


def process_day(
    archive: str,
    warehouse_url: str,
    day: dt.date,
    networks: Sequence[RestrictedNetwork],
    *,
    skip_corrupt_files: bool = False,
    fail_on_gaps: bool = False,
    inputs: TableInputs | None = None,
    slice_rows: int | None = None,
    admission: "DayAdmission | None" = None,
) -> DayResult:
    """Ingest, aggregate and commit one day; raises with the file named if it cannot.
    A day without raw data is a data gap (DataGapError when ``fail_on_gaps``), or
    VanishedDayError when it had data before. ``inputs``: recorded with the commit, their
    fingerprint taken before the files are read (callaudit.incremental). ``admission``:
    once the day's size is known from its footers, the day waits there for room among
    the days in flight (process_days)."""
    record = {INPUTS: inputs.record(day)} if inputs is not None else {}
    sources = open_day(archive, day, skip_corrupt_files=skip_corrupt_files)
    with admission.hold(sources.raw_rows) if admission else contextlib.nullcontext():
        return _compute_and_commit(
            archive,
            warehouse_url,
            day,
            networks,
            sources,
            record,
            skip_corrupt_files=skip_corrupt_files,
            fail_on_gaps=fail_on_gaps,
            slice_rows=slice_rows,
        )


def _compute_and_commit(
    archive: str,
    warehouse_url: str,
    day: dt.date,
    networks: Sequence[RestrictedNetwork],
    sources: DaySources,
    record: dict,
    *,
    skip_corrupt_files: bool,
    fail_on_gaps: bool,
    slice_rows: int | None,
) -> DayResult:
    ingested, aggregates = compute_day(
        archive,
        day,
        networks,
        skip_corrupt_files=skip_corrupt_files,
        slice_rows=slice_rows,
        sources=sources,
    )
    if aggregates is None:
        return _no_data(archive, warehouse_url, ingested, fail_on_gaps=fail_on_gaps, inputs=record)
    t2 = time.perf_counter()
    outputs = {
        USAGE_DAILY.name: aggregates.usage_daily,
        PARTNER_DAILY.name: aggregates.partner_daily,
        NETWORK_DAILY.name: aggregates.network_daily,
        QUARANTINE.name: ingested.quarantine,
        INGEST_DAILY.name: ingested.ingest,
    }
    # One commit: the five tables become visible together, replacing the day's previous
    # ones only once all are written (callaudit.manifests).
    warehouse.commit_day(
        warehouse_url,
        warehouse.DAY_TABLES,
        day,
        {table: outputs[table.name] for table in DAILY_TABLES},
        info={**raw_info(ingested), **record},
    )
    t3 = time.perf_counter()
    # The year's report records the SHA-256 of every raw file it covers. Hashed now,
    # while the day's files are in the page cache, and recorded by name, size and
    # modification time, they are not read again from disk for the report (callaudit.
    # provenance reuses a hash only while the file keeps that size and time).
    provenance.fingerprint_archive(archive, [day], workers=1, cache=warehouse_url)
    t4 = time.perf_counter()
    # The busiest five partners, ties in partner order as Polars' sort left them (the
    # same on 3,000 random frames with ties): in Python, not three queries (0.4 ms).
    partners = aggregates.partner_daily
    top = sorted(
        zip(*(partners[c].to_list() for c in ("partner_id", "calls", "items")), strict=True),
        key=lambda row: row[1],
        reverse=True,
    )[:5]
    return DayResult(
        day=day,
        ingest=ingested.stats,
        rows={name: frame.height for name, frame in outputs.items()},
        top_partners=top,
        skipped_files=ingested.skipped_files,
        seconds={**ingested.seconds, "write": t3 - t2, "hash": t4 - t3},
        slices=ingested.slices,
    )


def process_days(
    archive: str,
    warehouse_url: str,
    days: Sequence[dt.date],
    networks: Sequence[RestrictedNetwork],
    *,
    skip_corrupt_files: bool = False,
    fail_on_gaps: bool = False,
    workers: int = 2,
    on_day: Callable[[DayResult | DayFailure], None] | None = None,
    inputs: TableInputs | None = None,
    slice_rows: int | None = None,
) -> tuple[list[DayResult], list[DayFailure]]:
    """Process days concurrently, ``workers`` at a time, or twice as many small days
    (DayAdmission); every day is attempted, failures are returned."""
    results: list[DayResult] = []
    failures: list[DayFailure] = []
    admission = DayAdmission(max(1, workers))
    with ThreadPoolExecutor(max_workers=admission.slots) as pool:
        futures = {
            pool.submit(
                process_day,
                archive,
                warehouse_url,
                day,
                networks,
                skip_corrupt_files=skip_corrupt_files,
                fail_on_gaps=fail_on_gaps,
                inputs=inputs,
                slice_rows=slice_rows,
                admission=admission,
            ): day
            for day in sorted(days)
        }
        for future in as_completed(futures):
            day = futures[future]
            try:
                outcome: DayResult | DayFailure = future.result()
                results.append(outcome)
            except Exception as exc:
                outcome = DayFailure(day, failure_line(exc))
                failures.append(outcome)
            if on_day is not None:
                on_day(outcome)
    results.sort(key=lambda r: r.day)
    failures.sort(key=lambda f: f.day)
    return results, failures
