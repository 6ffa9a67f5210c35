"""``generate_archive``: write a scenario's raw archive, contracts.yaml and truth.

Day by day, so memory stays flat whatever the scale: each day's rows are generated,
written and reduced to a few truth rows before the next day starts. Each day draws from
its own RNG seeded by (seed, day, partner), so a sub-range reproduces exactly the same
days as a full year, and the same seed, scale and range give byte-identical files.
"""

import datetime as dt
import math
import os
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field

from callaudit import storage
from callaudit.contracts import parse_contracts
from callaudit.progress import Progress
from callaudit.synth import catalog, truth
from callaudit.synth.day import DayResult, write_day
from callaudit.synth.plan import PLAN_VERSION, Plan, build_plan
from callaudit.synth.rows import MAX_BLOCKS, build_dictionaries
from callaudit.synth.volume import (
    SCALE_MAX,
    SCALE_MIN,
    check_scale,
    expected_calls,
    expected_items,
)

GENERATOR_VERSION = f"twitter-2022/{PLAN_VERSION}"

#: Days per worker task: big enough to amortise process hand-offs at tiny scales.
_CHUNK_DAYS = 8

#: Longest range generated above scale 1.0: such days exist to test and benchmark one
#: very large day (scale 10 is about 30 M rows and 0.5 GB a day), not to fill a disk.
BIG_SCALE_MAX_DAYS = 7


def blocks_for(scale: float) -> tuple[int, float]:
    """How a scale is drawn: (blocks per day, the plan's scale). Up to 1.0 a day is one
    block of the plan at that scale, as always; above it, ``ceil(scale)`` independent
    blocks of the plan at ``scale / blocks`` (scale 10: ten full-size draws of the day,
    with the full-size plan's contracts and limits)."""
    if not SCALE_MIN <= scale <= MAX_BLOCKS:
        raise ValueError(f"scale must be between {SCALE_MIN} and {MAX_BLOCKS}, got {scale}")
    if scale <= SCALE_MAX:
        return 1, check_scale(scale)
    blocks = math.ceil(scale)
    return blocks, scale / blocks


@dataclass
class GenerationSummary:
    """What a generation wrote, and how fast."""

    scenario: str
    seed: int
    scale: float
    start: dt.date
    end: dt.date
    days: int
    files: int
    rows: dict[str, int]  # written, valid, duplicates, quarantined_<reason>
    seconds: float
    rows_per_second: float
    paths: dict[str, str] = field(default_factory=dict)
    planted: dict[str, int] = field(default_factory=dict)  # truth flags by name


def expected_year_totals(scale: float = 1.0) -> dict[str, dict[str, float]]:
    """Expected calls and items per contracted partner over 2022 (seed-free model)."""
    check_scale(scale)
    return {
        p.id: {
            "calls": float(expected_calls(p, scale).sum()),
            "items": float(expected_items(p, scale).sum()),
        }
        for p in catalog.PARTNERS
    }


def _check(
    scenario: str, scale: float, start: dt.date | None, end: dt.date | None
) -> tuple[dt.date, dt.date]:
    if scenario not in catalog.SCENARIOS:
        raise ValueError(f"unknown scenario {scenario!r}; known: {', '.join(catalog.SCENARIOS)}")
    blocks_for(scale)
    start = start or catalog.YEAR_START
    end = end or catalog.YEAR_END
    if not catalog.YEAR_START <= start <= end <= catalog.YEAR_END:
        raise ValueError(
            f"start..end must be a range within {catalog.YEAR_START}..{catalog.YEAR_END}, got {start}..{end}"
        )
    if scale > SCALE_MAX and (end - start).days + 1 > BIG_SCALE_MAX_DAYS:
        raise ValueError(
            f"scale {scale} is above {SCALE_MAX}: give --start and --end at most "
            f"{BIG_SCALE_MAX_DAYS} days apart (got {start}..{end})"
        )
    return start, end


# Worker state: each process builds the (cheap, deterministic) plan once.
_worker: dict = {}


def _init_worker(seed: int, scale: float, raw: str) -> None:
    blocks, plan_scale = blocks_for(scale)
    plan = build_plan(seed, plan_scale)
    _worker.update(plan=plan, dicts=build_dictionaries(plan), raw=raw, blocks=blocks)


def _write_days(indices: list[int]) -> list[DayResult]:
    w = _worker
    return [write_day(w["raw"], w["plan"], w["dicts"], d, w["blocks"]) for d in indices]


def generate_archive(
    out: str,
    scenario: str = "twitter-2022",
    scale: float = 1.0,
    seed: int = 2022,
    start: dt.date | None = None,
    end: dt.date | None = None,
    progress: bool = True,
    workers: int | None = None,
) -> GenerationSummary:
    """Write ``out/raw/date=*/``, ``out/contracts.yaml`` and ``out/truth/`` for a scenario.

    ``start``/``end`` restrict the days written (the truth covers only them; the
    contracts cover the whole year). ``workers`` processes share the days (default: one
    per CPU, at most 2, and 1 for short ranges); the output does not depend on it.
    """
    start, end = _check(scenario, scale, start, end)
    began = time.monotonic()
    plan = build_plan(seed, blocks_for(scale)[1])
    raw = storage.join(out, "raw")
    contracts_path = storage.join(out, "contracts.yaml")
    truth_dir = storage.join(out, "truth")
    contracts_text = truth.contracts_yaml(plan)
    contracts = parse_contracts(contracts_text, source=contracts_path)
    storage.write_text_atomic(contracts_path, contracts_text)

    first = (start - catalog.YEAR_START).days
    indices = list(range(first, (end - catalog.YEAR_START).days + 1))
    if workers is None:
        workers = min(2, os.cpu_count() or 1) if len(indices) > 2 * _CHUNK_DAYS else 1
    chunks = [indices[i : i + _CHUNK_DAYS] for i in range(0, len(indices), _CHUNK_DAYS)]

    month_to_date = truth.MonthToDate(plan)
    flags: list[dict] = []
    partner_daily: list[dict] = []
    ingest: list[dict] = []
    totals: dict[str, dict[str, int]] = {}
    rows = {"written": 0, "valid": 0, "duplicates": 0}
    files = 0
    meter = Progress(len(indices), f"generate {scenario} x{scale}", enabled=progress)

    def collect(d: int, result: DayResult) -> None:
        nonlocal files
        flags.extend(truth.rule_flags(contracts, result, month_to_date, d))
        partner_daily.extend(truth.partner_daily_rows(result))
        ingest.append(truth.ingest_row(result))
        files += result.files
        rows["written"] += result.rows_written
        rows["valid"] += result.rows_valid
        rows["duplicates"] += result.duplicates
        for reason, n in result.quarantined.items():
            rows[f"quarantined_{reason}"] = rows.get(f"quarantined_{reason}", 0) + n
        for pid, stats in result.partners.items():
            entry = totals.setdefault(pid, {"calls": 0, "items": 0, "bytes": 0, "days": 0})
            entry["calls"] += stats.calls
            entry["items"] += stats.items
            entry["bytes"] += stats.bytes
            entry["days"] += 1 if stats.calls else 0
        meter.advance(1, rows=rows["written"])

    if workers <= 1:
        _init_worker(seed, scale, raw)
        for chunk in chunks:
            for d, result in zip(chunk, _write_days(chunk), strict=True):
                collect(d, result)
    else:
        with ProcessPoolExecutor(
            workers, initializer=_init_worker, initargs=(seed, scale, raw)
        ) as pool:
            for chunk, results in zip(chunks, pool.map(_write_days, chunks), strict=True):
                for d, result in zip(chunk, results, strict=True):
                    collect(d, result)
    meter.close()

    in_range = {plan.days[d] for d in indices}
    for vf in plan.volume_flags:
        if vf.day in in_range:
            flags.append(
                {
                    "date": vf.day.isoformat(),
                    "partner_id": vf.partner_id,
                    "flag": vf.flag,
                    "metric": vf.metric,
                    "detail": vf.detail,
                }
            )
    flags.sort(key=lambda f: (f["date"], f["partner_id"], f["flag"], f["metric"]))
    planted = {}
    for f in flags:
        planted[f["flag"]] = planted.get(f["flag"], 0) + 1

    storage.write_text_atomic(
        storage.join(truth_dir, "flags.csv"), truth.csv_text(truth.FLAG_COLUMNS, flags)
    )
    storage.write_text_atomic(
        storage.join(truth_dir, "ingest.csv"), truth.csv_text(truth.INGEST_COLUMNS, ingest)
    )
    storage.write_text_atomic(
        storage.join(truth_dir, "partner_daily.csv"),
        truth.csv_text(truth.PARTNER_DAILY_COLUMNS, partner_daily),
    )
    manifest = {
        "scenario": scenario,
        "generator_version": GENERATOR_VERSION,
        "seed": seed,
        "scale": scale,
        "start": start.isoformat(),
        "end": end.isoformat(),
        "days": len(indices),
        "files": files,
        "rows": rows,
        "flags": dict(sorted(planted.items())),
        "partners": {pid: totals[pid] for pid in sorted(totals)},
        "planted_events": [
            {
                "date": e.day.isoformat(),
                "partner_id": e.partner_id,
                "kind": e.kind,
                "detail": e.detail,
            }
            for e in plan.events
            if e.day in in_range
        ],
    }
    storage.write_text_atomic(
        storage.join(truth_dir, "manifest.json"), truth.manifest_json(manifest)
    )

    seconds = time.monotonic() - began
    return GenerationSummary(
        scenario=scenario,
        seed=seed,
        scale=scale,
        start=start,
        end=end,
        days=len(indices),
        files=files,
        rows=rows,
        seconds=seconds,
        rows_per_second=rows["written"] / seconds if seconds > 0 else 0.0,
        paths={"raw": raw, "contracts": contracts_path, "truth": truth_dir},
        planted=dict(sorted(planted.items())),
    )


__all__ = ["GenerationSummary", "Plan", "expected_year_totals", "generate_archive"]
