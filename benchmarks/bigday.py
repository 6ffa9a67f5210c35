"""One very large day: the pipeline's day computation against the bare DuckDB query.

Issue 14, target 4: a day ten times full size (about 28 M rows, `callaudit generate
--scale 10` over one day) must be processed exactly with a peak RSS under 4 GiB that
does not grow with the day. Each measurement runs in its own process and its peak RSS
is that process's own (``wait4``, benchmarks.measure):

- ``pipeline``: ``raw_to_tables.process_day`` (ingest, quarantine, de-duplication, the
  three aggregates, the day's commit to a fresh warehouse), sliced by request_id when
  the day has more raw rows than ``--slice-rows`` (the ``CALLAUDIT_DAY_SLICE_ROWS``
  setting; 0 holds the day whole, as before slicing existed);
- ``duckdb``: the bare DuckDB reference query on the same files
  (``benchmarks.references.duckdb_day``: usage_daily and partner_daily, nothing else).

Run: ``.venv/bin/python -m benchmarks.bigday --scale 10 [--day 2022-03-01] [--seed 11]
[--slice-rows N] [--whole] [--no-duckdb] [--results benchmarks/RESULTS.md]``. The archive is generated
once into ``benchmarks/data/bigday-scale-S/`` and reused.
"""

import argparse
import datetime as dt
import os
import platform
import shutil
import sys
import tempfile
import time

from benchmarks.measure import Measurement, measure

HERE = os.path.dirname(os.path.abspath(__file__))


def _pipeline_child(
    archive: str, contracts: str, day: dt.date, warehouse: str, slice_rows: int
) -> None:
    from callaudit.contracts import load_contracts
    from callaudit.raw_to_tables import process_day

    networks = load_contracts(contracts).restricted_networks
    started = time.perf_counter()
    result = process_day(archive, warehouse, day, networks, slice_rows=slice_rows or None)
    seconds = time.perf_counter() - started
    print(
        f"rows_read={result.ingest['rows_read']} rows_valid={result.ingest['rows_valid']} "
        f"duplicates={result.ingest['duplicates']} quarantined={result.ingest['quarantined']} "
        f"slices={result.slices} seconds={seconds:.2f}"
    )


def _archive(scale: float, seed: int, day: dt.date) -> str:
    out = os.path.join(HERE, "data", f"bigday-scale-{scale:g}-seed-{seed}")
    if not os.path.isdir(os.path.join(out, "raw", f"date={day.isoformat()}")):
        started = time.perf_counter()
        done = measure(
            "generate",
            [
                os.path.join(os.path.dirname(sys.executable), "callaudit"),
                "generate",
                "--scale",
                str(scale),
                "--seed",
                str(seed),
                "--start",
                day.isoformat(),
                "--end",
                day.isoformat(),
                "--out",
                out,
            ],
        )
        if done.returncode:
            raise SystemExit(done.output)
        print(
            f"generated {out} in {time.perf_counter() - started:.1f} s, "
            f"peak RSS {done.peak_rss_mb:.0f} MB"
        )
    return out


def _row(m: Measurement, rows: int, fastest: float) -> str:
    return (
        f"| {m.label} | {m.seconds:.1f} | {m.seconds / fastest:.2f}x | "
        f"{rows / m.seconds / 1e6:.2f} M | {m.peak_rss_mb / 1024:.2f} GiB |"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", type=float, default=10.0)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--day", type=dt.date.fromisoformat, default=dt.date(2022, 3, 1))
    parser.add_argument(
        "--slice-rows", type=int, default=None, help="default: CALLAUDIT_DAY_SLICE_ROWS"
    )
    parser.add_argument("--whole", action="store_true", help="also hold the day whole")
    parser.add_argument(
        "--no-duckdb", action="store_true", help="leave the DuckDB reference out (big days)"
    )
    parser.add_argument("--results", help="append the figures to this Markdown file")
    args = parser.parse_args(argv)
    args.load_start = os.getloadavg()[0]

    from callaudit.raw_to_tables import DAILY_TABLES  # noqa: F401  (fail early if broken)
    from callaudit.settings import load_settings

    slice_rows = args.slice_rows
    if slice_rows is None:
        slice_rows = load_settings().day_slice_rows
    out = _archive(args.scale, args.seed, args.day)
    archive, contracts = os.path.join(out, "raw"), os.path.join(out, "contracts.yaml")
    scratch = tempfile.mkdtemp(prefix="bigday-")
    try:
        runs: list[tuple[Measurement, str]] = []
        variants = [("pipeline, sliced", slice_rows)]
        if args.whole:
            variants.append(("pipeline, day held whole", 0))
        for label, rows_per_slice in variants:
            warehouse = os.path.join(scratch, f"warehouse-{rows_per_slice}")
            m = measure(
                f"{label} (`process_day`, slice rows {rows_per_slice or 'none'})",
                [
                    sys.executable,
                    "-m",
                    "benchmarks.bigday",
                    "--child",
                    archive,
                    contracts,
                    args.day.isoformat(),
                    warehouse,
                    str(rows_per_slice),
                ],
            )
            if m.returncode:
                raise SystemExit(m.output)
            runs.append((m, m.output.strip().splitlines()[-1]))
        if args.whole:
            same = _same_tables(scratch, slice_rows, args.day)
            runs[0] = (runs[0][0], f"{runs[0][1]} tables_equal_to_whole={same}")
        if args.no_duckdb:
            return _report(args, runs)
        m = measure(
            "bare DuckDB query (`references.duckdb_day`)",
            [
                sys.executable,
                "-m",
                "benchmarks.references",
                "duckdb",
                archive,
                os.path.join(scratch, "duckdb"),
                args.day.isoformat(),
                args.day.isoformat(),
            ],
        )
        if m.returncode:
            raise SystemExit(m.output)
        runs.append((m, f"calls={m.output.strip().splitlines()[-1]}"))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return _report(args, runs)


def _same_tables(scratch: str, slice_rows: int, day: dt.date) -> str:
    """Whether the sliced and the whole day's written tables are equal, row for row."""
    import glob

    import polars as pl

    from callaudit.raw_to_tables import DAILY_TABLES

    def table(rows: int, name: str) -> pl.DataFrame:
        (path,) = glob.glob(
            os.path.join(scratch, f"warehouse-{rows}", name, f"date={day}", "*.parquet")
        )
        return pl.read_parquet(path)

    differ = [
        t.name for t in DAILY_TABLES if not table(slice_rows, t.name).equals(table(0, t.name))
    ]
    return "all" if not differ else "no:" + ",".join(differ)


def _report(args: argparse.Namespace, runs: list[tuple[Measurement, str]]) -> int:
    facts = dict(part.split("=", 1) for part in runs[0][1].split())
    rows = int(facts["rows_read"])
    duckdb = [m for m, _ in runs if "DuckDB" in m.label]
    fastest = duckdb[0].seconds if duckdb else min(m.seconds for m, _ in runs)
    load = os.getloadavg()
    lines = [
        f"## One day at scale {args.scale:g} (seed {args.seed}, {args.day}): {rows:,} raw rows",
        "",
        f"- date: {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC; machine: "
        f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
        f"1-minute load average {args.load_start:.1f} at the start, {load[0]:.1f} at the end "
        "(the machine is shared with other engineers' runs)",
        f"- command: `.venv/bin/python -m benchmarks.bigday --scale {args.scale:g} "
        f"--seed {args.seed} --day {args.day}"
        + (f" --slice-rows {args.slice_rows}" if args.slice_rows is not None else "")
        + (" --whole" if args.whole else "")
        + (" --no-duckdb" if args.no_duckdb else "")
        + "`",
        "",
        f"| what | wall s | vs {'DuckDB' if duckdb else 'fastest'} | rows/s | peak RSS |",
        "|---|---:|---:|---:|---:|",
        *(_row(m, rows, fastest) for m, _ in runs),
        "",
        *(f"- {m.label}: {said}" for m, said in runs),
        "",
    ]
    text = "\n".join(lines)
    print(text)
    if args.results:
        with open(args.results, "a", encoding="utf-8") as handle:
            handle.write("\n" + text)
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        a, c, d, w, s = sys.argv[2:7]
        _pipeline_child(a, c, dt.date.fromisoformat(d), w, int(s))
    else:
        raise SystemExit(main())
