"""The `callaudit` command line: generate, backfill, report, evaluate, dev.

Locations come from flags or the environment (CALLAUDIT_ARCHIVE, CALLAUDIT_CONTRACTS,
CALLAUDIT_WAREHOUSE, CALLAUDIT_REPORTS), so the CLI, `dagster dev` and a scheduled run
see the same data. Exit status is 0 on success, non-zero with a one-line reason on
stderr otherwise.
"""

import argparse
import datetime as dt
import os
import sys
import time
from pathlib import Path

DEFAULTS = {
    "archive": ("CALLAUDIT_ARCHIVE", "data/raw"),
    "contracts": ("CALLAUDIT_CONTRACTS", "data/contracts.yaml"),
    "warehouse": ("CALLAUDIT_WAREHOUSE", "data/warehouse"),
    "reports": ("CALLAUDIT_REPORTS", "data/reports"),
}


class CliError(Exception):
    """A failure the user can act on; printed as one line."""


def _location(args: argparse.Namespace, name: str) -> str:
    value = getattr(args, name, None)
    env, default = DEFAULTS[name]
    return value or os.environ.get(env) or default


def _export_locations(args: argparse.Namespace) -> dict[str, str]:
    """Resolve every location and export it, so Dagster definitions see the same."""
    resolved = {}
    for name, (env, _) in DEFAULTS.items():
        value = _location(args, name)
        os.environ[env] = value
        resolved[name] = value
    return resolved


def _add_locations(parser: argparse.ArgumentParser, *names: str) -> None:
    for name in names:
        env, default = DEFAULTS[name]
        parser.add_argument(
            f"--{name}", metavar="URL", help=f"{name} location (env {env}, default {default})"
        )


def _day(text: str) -> dt.date:
    from callaudit.dates import parse_day

    try:
        return parse_day(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


# --- commands -------------------------------------------------------------------------


def cmd_generate(args: argparse.Namespace) -> int:
    from callaudit.synth import generate_archive

    summary = generate_archive(
        args.out,
        scenario=args.scenario,
        scale=args.scale,
        seed=args.seed,
        start=args.start,
        end=args.end,
        progress=not args.quiet,
    )
    rows = summary.rows
    quarantined = sum(v for k, v in rows.items() if k.startswith("quarantined_"))
    print(
        f"{summary.scenario} seed {summary.seed} scale {summary.scale}: {summary.days} days "
        f"{summary.start}..{summary.end}, {summary.files:,} files, {rows['written']:,} rows "
        f"({rows['valid']:,} valid, {rows['duplicates']:,} duplicates, {quarantined:,} bad) "
        f"in {summary.seconds:.1f}s ({summary.rows_per_second:,.0f} rows/s)"
    )
    planted = ", ".join(f"{k} {v}" for k, v in sorted(summary.planted.items()))
    print(f"planted (truth/flags.csv): {planted or 'none'}")
    for name, path in summary.paths.items():
        print(f"{name}: {path}")
    return 0


def cmd_backfill(args: argparse.Namespace) -> int:
    from callaudit.contracts import load_contracts
    from callaudit.storage import list_day_folders
    from pipelines.backfill import backfill_days, resource_config
    from pipelines.instance import get_instance

    if args.end < args.start:
        raise CliError(f"--end {args.end} is before --start {args.start}")
    locations = _export_locations(args)
    load_contracts(locations["contracts"])  # fail fast on a bad agreements file
    present = [d for d in list_day_folders(locations["archive"]) if args.start <= d <= args.end]
    if not present:
        raise CliError(
            f"no day folders between {args.start} and {args.end} in archive {locations['archive']}"
        )
    instance = get_instance()
    from pipelines.definitions import defs

    config = resource_config(
        **locations,
        skip_corrupt_files=args.skip_corrupt_files or None,
        progress=not args.quiet,
    )
    days = (args.end - args.start).days + 1
    print(
        f"backfill {args.start}..{args.end}: {days} days ({len(present)} in the archive) "
        f"in runs of {args.chunk_days} days; instance {instance.root_directory}",
        file=sys.stderr,
    )
    started = time.perf_counter()

    def on_run(run) -> None:
        state = "ok" if run.success else f"FAILED: {run.error}"
        print(f"  run {run.run_id[:8]} {run.label}: {state} ({run.seconds:.1f}s)", file=sys.stderr)

    outcome = backfill_days(
        defs,
        instance,
        args.start,
        args.end,
        config=config,
        chunk_days=args.chunk_days,
        on_run=on_run,
    )
    if not outcome.success:
        failed = outcome.failed[0]
        raise CliError(f"backfill run {failed.label} failed: {failed.error}")
    report_paths = []
    if not args.no_report:
        from pipelines.reporting import build_reports

        report_paths = build_reports(defs, instance, config, args.start, args.end)
    _print_backfill_summary(locations["warehouse"], args.start, args.end, started, report_paths)
    return 0


def _print_backfill_summary(warehouse: str, start, end, started: float, reports: list) -> None:
    import polars as pl

    from callaudit import warehouse as wh

    ingest = wh.read_range(warehouse, "ingest_daily", start, end)
    seconds = time.perf_counter() - started
    totals = ingest.select(
        pl.col("rows_read", "rows_valid", "duplicates", "quarantined", "skipped_files").sum()
    ).row(0, named=True)
    rate = totals["rows_read"] / seconds if seconds else 0.0
    print(
        f"done: {ingest.height} days, {totals['rows_read']:,} rows read, "
        f"{totals['rows_valid']:,} valid, {totals['duplicates']:,} duplicates, "
        f"{totals['quarantined']:,} quarantined, {totals['skipped_files']} files skipped "
        f"in {seconds:.1f}s ({rate:,.0f} rows/s)"
    )
    flags = wh.read_range(warehouse, "anomaly_flags", start, end)
    if flags.height:
        by_kind = flags.group_by("flag").len().sort("len", descending=True)
        listed = ", ".join(f"{f} {n}" for f, n in by_kind.iter_rows())
        print(f"flags: {flags.height} ({listed})")
    for path, headline in reports:
        print(f"report: {path}")
        if headline:
            print(f"  {headline}")


def cmd_report(args: argparse.Namespace) -> int:
    from pipelines.backfill import resource_config
    from pipelines.instance import get_instance
    from pipelines.reporting import build_reports

    locations = _export_locations(args)
    instance = get_instance()
    from pipelines.definitions import defs

    config = resource_config(**locations)
    start, end = dt.date(args.year, 1, 1), dt.date(args.year, 12, 31)
    for path, headline in build_reports(defs, instance, config, start, end):
        print(path)
        if headline:
            print(headline)
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from callaudit import warehouse as wh
    from callaudit.flags.evaluate import evaluate, format_evaluation, read_truth

    locations = _export_locations(args)
    truth_path = args.truth
    if not truth_path.endswith(".csv"):
        truth_path = truth_path.rstrip("/") + "/flags.csv"
    truth = read_truth(truth_path)
    if truth.is_empty():
        raise CliError(f"no ground truth rows in {args.truth}")
    start = args.start or truth["date"].min()
    end = args.end or truth["date"].max()
    flags = wh.read_range(locations["warehouse"], "anomaly_flags", start, end)
    print(format_evaluation(evaluate(flags, truth, start=start, end=end)))
    return 0


def cmd_dev(args: argparse.Namespace) -> int:
    from pipelines.instance import ensure_dagster_home

    _export_locations(args)
    ensure_dagster_home()
    root = Path(__file__).resolve().parent.parent
    command = [
        sys.executable,
        "-m",
        "dagster",
        "dev",
        "-w",
        str(root / "workspace.yaml"),
        "-h",
        args.host,
        "-p",
        str(args.port),
    ]
    os.chdir(root)
    os.execv(sys.executable, command)
    return 0  # pragma: no cover


def _quiet_library_warnings() -> None:
    """Dagster's beta/preview notices are for library authors, not for CLI users."""
    import warnings

    import dagster as dg

    for category in ("BetaWarning", "PreviewWarning", "SupersessionWarning"):
        if hasattr(dg, category):
            warnings.filterwarnings("ignore", category=getattr(dg, category))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="callaudit",
        description="Audit partner API usage from call-log archives (Dagster pipeline).",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    gen = sub.add_parser("generate", help="write a realistic synthetic archive with ground truth")
    gen.add_argument("--scenario", default="twitter-2022")
    gen.add_argument("--scale", type=float, default=0.01, help="1.0 = full size (default 0.01)")
    gen.add_argument("--seed", type=int, default=2022)
    gen.add_argument("--out", default="data", help="output folder (default data)")
    gen.add_argument("--start", type=_day, help="first day (default: the scenario's year)")
    gen.add_argument("--end", type=_day, help="last day")
    gen.add_argument("--quiet", action="store_true", help="no progress bar")
    gen.set_defaults(func=cmd_generate)

    back = sub.add_parser(
        "backfill", help="materialise the graph for a range of days, then reports"
    )
    back.add_argument("--start", type=_day, required=True)
    back.add_argument("--end", type=_day, required=True)
    _add_locations(back, "archive", "contracts", "warehouse", "reports")
    back.add_argument(
        "--chunk-days", type=int, default=92, help="days per Dagster run (default 92)"
    )
    back.add_argument(
        "--skip-corrupt-files",
        action="store_true",
        help="skip unreadable raw files and report them as data gaps instead of failing the day",
    )
    back.add_argument("--no-report", action="store_true", help="do not build yearly reports")
    back.add_argument("--quiet", action="store_true", help="no progress bar")
    back.set_defaults(func=cmd_backfill)

    rep = sub.add_parser("report", help="rebuild one yearly report")
    rep.add_argument("--year", type=int, required=True)
    _add_locations(rep, "archive", "contracts", "warehouse", "reports")
    rep.set_defaults(func=cmd_report)

    ev = sub.add_parser("evaluate", help="compare flags with a generator's ground truth")
    ev.add_argument("--truth", default="data/truth", help="truth folder or flags.csv")
    ev.add_argument("--start", type=_day)
    ev.add_argument("--end", type=_day)
    _add_locations(ev, "warehouse")
    ev.set_defaults(func=cmd_evaluate)

    dev = sub.add_parser("dev", help="open the Dagster UI on 127.0.0.1")
    dev.add_argument("--host", default="127.0.0.1")
    dev.add_argument("--port", type=int, default=3000)
    _add_locations(dev, "archive", "contracts", "warehouse", "reports")
    dev.set_defaults(func=cmd_dev)
    return parser


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    _quiet_library_warnings()
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print("callaudit: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # one line, as promised; the type helps when it is a bug
        reason = str(exc).strip().splitlines()
        message = reason[0] if reason else type(exc).__name__
        if not isinstance(exc, CliError | ValueError | FileNotFoundError | OSError):
            message = f"{type(exc).__name__}: {message}"
        print(f"callaudit: {message}", file=sys.stderr)
        if os.environ.get("CALLAUDIT_DEBUG"):
            raise
        return 1


if __name__ == "__main__":
    sys.exit(main())
