"""Turning days of the raw archive into the day-grain warehouse partitions.

A day is computed whole in memory (one day of raw rows is bounded) and only then
written, table by table, each partition atomically: a day that fails leaves the
previous good partitions in place, and re-running a day replaces them. Days run two at
a time, which measured fastest on two cores (one Polars query per day).
"""

import datetime as dt
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field

from callaudit import warehouse
from callaudit.aggregate import aggregate_day
from callaudit.contracts import RestrictedNetwork
from callaudit.ingest import ingest_day
from callaudit.schema import (
    INGEST_DAILY,
    NETWORK_DAILY,
    PARTNER_DAILY,
    QUARANTINE,
    USAGE_DAILY,
    Table,
)

#: Tables written by the daily pass, in the order they are written.
DAILY_TABLES: tuple[Table, ...] = (USAGE_DAILY, PARTNER_DAILY, NETWORK_DAILY, QUARANTINE, INGEST_DAILY)


@dataclass
class DayResult:
    """What one processed day produced, for metadata, progress and benchmarks."""

    day: dt.date
    ingest: dict
    rows: dict[str, int]
    top_partners: list[tuple[str, int, int]]
    skipped_files: list[str]
    seconds: dict[str, float] = field(default_factory=dict)


@dataclass
class DayFailure:
    day: dt.date
    error: str


def process_day(
    archive: str,
    warehouse_url: str,
    day: dt.date,
    networks: Sequence[RestrictedNetwork],
    *,
    skip_corrupt_files: bool = False,
) -> DayResult:
    """Ingest, aggregate and write one day; raises with the file named if it cannot."""
    ingested = ingest_day(archive, day, skip_corrupt_files=skip_corrupt_files)
    t1 = time.perf_counter()
    aggregates = aggregate_day(ingested.valid, networks)
    t2 = time.perf_counter()
    outputs = {
        USAGE_DAILY.name: aggregates.usage_daily,
        PARTNER_DAILY.name: aggregates.partner_daily,
        NETWORK_DAILY.name: aggregates.network_daily,
        QUARANTINE.name: ingested.quarantine,
        INGEST_DAILY.name: ingested.ingest,
    }
    for table in DAILY_TABLES:
        warehouse.write_partition(warehouse_url, table, day, outputs[table.name])
    t3 = time.perf_counter()
    top = (
        aggregates.partner_daily.sort("calls", descending=True)
        .head(5)
        .select("partner_id", "calls", "items")
        .rows()
    )
    return DayResult(
        day=day,
        ingest=ingested.stats,
        rows={name: frame.height for name, frame in outputs.items()},
        top_partners=top,
        skipped_files=ingested.skipped_files,
        seconds={**ingested.seconds, "aggregate": t2 - t1, "write": t3 - t2},
    )


def process_days(
    archive: str,
    warehouse_url: str,
    days: Sequence[dt.date],
    networks: Sequence[RestrictedNetwork],
    *,
    skip_corrupt_files: bool = False,
    workers: int = 2,
    on_day: Callable[[DayResult | DayFailure], None] | None = None,
) -> tuple[list[DayResult], list[DayFailure]]:
    """Process days concurrently; every day is attempted, failures are returned."""
    results: list[DayResult] = []
    failures: list[DayFailure] = []
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        futures = {
            pool.submit(
                process_day,
                archive,
                warehouse_url,
                day,
                networks,
                skip_corrupt_files=skip_corrupt_files,
            ): day
            for day in sorted(days)
        }
        for future in as_completed(futures):
            day = futures[future]
            try:
                outcome: DayResult | DayFailure = future.result()
                results.append(outcome)
            except Exception as exc:
                outcome = DayFailure(day, str(exc))
                failures.append(outcome)
            if on_day is not None:
                on_day(outcome)
    results.sort(key=lambda r: r.day)
    failures.sort(key=lambda f: f.day)
    return results, failures
