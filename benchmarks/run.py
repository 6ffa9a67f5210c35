"""Benchmark: the pipeline's year backfill against the bare queries on the same files.

    .venv/bin/python -m benchmarks.run --scale 0.01 [--seed 2022] [--nightly-day 2022-12-31]

Generates the scenario once per scale and seed (reused afterwards), then in the same
session measures, each in its own process: the pipeline's year backfill through Dagster
(raw archive to report), the bare DuckDB query and the bare Polars query computing
usage_daily and partner_daily, and one nightly day. Prints rows, wall seconds, rows/s,
peak RSS and the ratio to the fastest reference, with the pipeline's time split, and
appends the figures to benchmarks/RESULTS.md with the machine, date and command.
"""

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import sys
from pathlib import Path

from benchmarks.measure import Measurement, measure

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable


#: Reference engines (benchmarks.references) and how the table names them.
_ENGINES = {
    "duckdb-range": "duckdb query, whole range at once",
    "duckdb": "duckdb query, day by day",
    "polars": "polars query, day by day",
}


def _cli(*args: str) -> list[str]:
    return [PY, "-m", "callaudit.pipelines.cli", *args]


def ensure_archive(data: Path, scale: float, seed: int, log) -> Measurement | None:
    manifest = data / "truth" / "manifest.json"
    if manifest.exists():
        info = json.loads(manifest.read_text())
        if (
            info.get("scale") == scale
            and info.get("seed") == seed
            and info.get("end") == "2022-12-31"
        ):
            return None
    shutil.rmtree(data, ignore_errors=True)
    gen = measure(
        "generate",
        _cli("generate", "--scale", str(scale), "--seed", str(seed), "--out", str(data), "--quiet"),
        log=log,
    )
    if gen.returncode != 0:
        raise SystemExit(f"generation failed:\n{gen.output}")
    return gen


def _rows(data: Path) -> int:
    info = json.loads((data / "truth" / "manifest.json").read_text())
    rows = info.get("rows")
    return int(rows["written"] if isinstance(rows, dict) else rows)


#: Per-day timings recorded by the daily step, and what each covers.
_DAY_PARTS = {
    "read": "read + normalise + filter + dedup (one scan)",
    "dedup": "quarantine bookkeeping",
    "aggregate": "aggregate (usage, partner, network)",
    "write": "write partitions",
    "hash": "hash the raw files for the report's provenance",
}


def pipeline_split(dagster_home: Path) -> dict[str, float]:
    """Seconds by part, from the runs recorded in the benchmark's own instance."""
    os.environ["DAGSTER_HOME"] = str(dagster_home.resolve())
    import dagster as dg

    instance = dg.DagsterInstance.get()
    split: dict[str, float] = {}
    run_seconds = 0.0
    for run in instance.get_runs():
        stats = instance.get_run_stats(run.run_id)
        if stats.start_time and stats.end_time:
            run_seconds += stats.end_time - stats.start_time
        for step in instance.get_run_step_stats(run.run_id):
            if step.start_time and step.end_time:
                key = step.step_key
                part = (
                    "checks"
                    if "check" in key or "validation" in key
                    else {"daily_tables": "daily tables", "anomaly_flags": "flags"}.get(
                        key, "report" if "report" in key else key
                    )
                )
                split[part] = split.get(part, 0.0) + step.end_time - step.start_time
        # A ranged run records one materialization per partition, each carrying the
        # run's summed timings: count one per run.
        for record in instance.get_records_for_run(run.run_id, limit=100_000).records:
            event = record.event_log_entry.dagster_event
            if event is None or not event.is_step_materialization:
                continue
            materialization = event.event_specific_data.materialization
            if materialization.asset_key.path[-1] != "usage_daily":
                continue
            for part, label in _DAY_PARTS.items():
                value = materialization.metadata.get(f"seconds_{part}")
                if value is not None:
                    key = f"  {label} (thread-seconds)"
                    split[key] = split.get(key, 0.0) + float(value.value)
            break
    split["runs (start to end)"] = run_seconds
    return split


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=0.01)
    parser.add_argument("--seed", type=int, default=2022)
    parser.add_argument("--start", default="2022-01-01")
    parser.add_argument("--end", default="2022-12-31")
    parser.add_argument(
        "--nightly-day",
        default=None,
        help="the day computed again as a night's new day (default: the range's last day, "
        "which, like a real new day, has no later days whose flags depend on it)",
    )
    parser.add_argument("--skip-references", action="store_true")
    parser.add_argument(
        "--skip-range-reference",
        action="store_true",
        help="leave out DuckDB's whole-range query (its memory grows with the range)",
    )
    parser.add_argument(
        "--reference",
        action="append",
        choices=sorted(_ENGINES),
        help="run only these references (repeatable; default: all)",
    )
    parser.add_argument("--results", default=str(ROOT / "benchmarks" / "RESULTS.md"))
    args = parser.parse_args(argv)
    args.nightly_day = args.nightly_day or args.end

    base = ROOT / "benchmarks" / "data" / f"scale-{args.scale}"
    out = ROOT / "benchmarks" / "out" / f"scale-{args.scale}"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    log = open(out / "benchmark.log", "w")  # noqa: SIM115 - kept open for the whole run
    env = {"GX_ANALYTICS_ENABLED": "false", "PYTHONPATH": str(ROOT)}

    load_at_start = tuple(round(x, 1) for x in os.getloadavg())
    generated = ensure_archive(base, args.scale, args.seed, log)
    rows = _rows(base)
    locations = [
        "--archive", str(base / "raw"),
        "--contracts", str(base / "contracts.yaml"),
        "--warehouse", str(out / "warehouse"),
        "--reports", str(out / "reports"),
    ]  # fmt: skip
    results: list[tuple[Measurement, int]] = []
    if generated:
        results.append((generated, rows))

    home = out / "dagster_home"

    def backfill(label: str) -> Measurement:
        done = measure(
            label,
            _cli("backfill", "--start", args.start, "--end", args.end, *locations, "--quiet"),
            env={**env, "DAGSTER_HOME": str(home)},
            log=log,
        )
        if done.returncode != 0:
            raise SystemExit(f"{label} failed:\n{done.output[-3000:]}")
        return done

    pipeline = backfill("pipeline: year backfill through Dagster, raw to report")
    results.append((pipeline, rows))
    # The same year again, nothing changed: every day and the report are skipped.
    results.append(
        (backfill("pipeline: the same backfill again, inputs unchanged (incremental)"), 0)
    )

    references = []
    if not args.skip_references:
        for engine in ("duckdb-range", "duckdb", "polars"):
            if engine == "duckdb-range" and args.skip_range_reference:
                continue
            if args.reference and engine not in args.reference:
                continue
            reference = measure(
                f"reference: bare {_ENGINES[engine]} (usage_daily + partner_daily)",
                [
                    PY,
                    "-m",
                    "benchmarks.references",
                    engine,
                    str(base / "raw"),
                    str(out / f"reference-{engine}"),
                    args.start,
                    args.end,
                ],
                env=env,
                log=log,
            )
            if reference.returncode != 0:
                raise SystemExit(f"{engine} reference failed:\n{reference.output[-3000:]}")
            references.append(reference)
            results.append((reference, rows))

    nightly_home = out / "dagster_home_nightly"
    shutil.copytree(home, nightly_home)
    nightly = measure(
        f"nightly: one day ({args.nightly_day}) + the year's report, through Dagster",
        # --force: the day is computed again, as a new night's day would be, not skipped
        _cli(
            "backfill",
            "--start",
            args.nightly_day,
            "--end",
            args.nightly_day,
            *locations,
            "--quiet",
            "--force",
        ),
        env={**env, "DAGSTER_HOME": str(nightly_home)},
        log=log,
    )
    from callaudit import warehouse
    from callaudit.schema import INGEST_DAILY

    day = dt.date.fromisoformat(args.nightly_day)
    ingest = warehouse.read_range(str(out / "warehouse"), INGEST_DAILY, day, day)
    results.append((nightly, int(ingest["rows_read"].sum() or 0)))

    split = pipeline_split(home)
    fastest = min((r.seconds for r in references), default=None)
    lines = [
        f"## scale {args.scale}, seed {args.seed}, {args.start}..{args.end}",
        "",
        f"- date: {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC",
        f"- machine: {platform.machine()}, {os.cpu_count()} cores, "
        f"{_memory_gib():.0f} GiB, Python {platform.python_version()}, {platform.platform()}",
        f"- command: `.venv/bin/python -m benchmarks.run --scale {args.scale} --seed {args.seed}`",
        f"- load average at the start and the end (1, 5, 15 min; 2 cores): {load_at_start} "
        f"-> {tuple(round(x, 1) for x in os.getloadavg())}",
        "",
        "| what | rows | wall s | rows/s | peak RSS MB | ratio to fastest reference |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for m, n in results:
        ratio = (
            f"{m.seconds / fastest:.2f}"
            if fastest and not m.label.startswith(("generate", "nightly", "pipeline: the same"))
            else ""
        )
        rate = f"{n / m.seconds:,.0f}" if n else ""
        lines.append(
            f"| {m.label} | {n:,} | {m.seconds:.1f} | {rate} | {m.peak_rss_mb:,.0f} | {ratio} |"
        )
    lines += ["", "Pipeline time split (seconds):", ""]
    steps = sum(v for k, v in split.items() if not k.startswith(" ") and k != "runs (start to end)")
    for part, seconds in split.items():
        lines.append(f"- {part}: {seconds:.1f}")
    lines.append(
        f"- Dagster overhead (wall minus steps): {pipeline.seconds - steps:.1f} "
        f"({(pipeline.seconds - steps) / pipeline.seconds:.0%} of wall)"
    )
    text = "\n".join(lines) + "\n"
    print(text)
    results_path = Path(args.results)
    previous = results_path.read_text() if results_path.exists() else "# Benchmark results\n\n"
    results_path.write_text(previous.rstrip("\n") + "\n\n" + text)
    log.close()
    return 0


def _memory_gib() -> float:
    with open("/proc/meminfo") as handle:
        for line in handle:
            if line.startswith("MemTotal"):
                return int(line.split()[1]) / 1024 / 1024
    return 0.0


if __name__ == "__main__":
    sys.exit(main())
