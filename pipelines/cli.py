"""The `callaudit` command line: generate, backfill, report, evaluate, dev.

Settings come from flags, then the environment, then the defaults
(``callaudit.settings``), so the CLI, `dagster dev` and a scheduled run see the same
data. Every argument is checked before anything is written: a command that fails its
checks leaves no file behind. Exit status is 0 on success, non-zero with a one-line
reason on stderr otherwise.
"""

import argparse
import atexit
import datetime as dt
import os
import sys
import threading
import time
from collections.abc import Callable, Sequence
from typing import NoReturn

from callaudit.settings import SETTINGS, SettingError, Settings, load_settings, read_setting

_ENV = {s.name: s for s in SETTINGS}


class CliError(Exception):
    """A failure the user can act on; printed as one line."""


class _Parser(argparse.ArgumentParser):
    """Argument mistakes in one line that names the option and points at --help."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")


# --- argument types -------------------------------------------------------------------


def _day(text: str) -> dt.date:
    from callaudit.dates import parse_day

    try:
        return parse_day(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, not {value}")
    return value


def _year(text: str) -> int:
    if not (text.isdigit() and len(text) == 4):
        raise argparse.ArgumentTypeError(f"not a year in YYYY form: {text!r}")
    return int(text)


def _scale(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be above 0, not {text}")
    return value


def _add_locations(parser: argparse.ArgumentParser, *names: str) -> None:
    for name in names:
        setting = _ENV[name]
        parser.add_argument(
            f"--{name}",
            metavar="PATH" if name == "contracts" else "URL",
            help=f"{setting.meaning} (env {setting.env}, default {setting.default})",
        )


def _settings(args: argparse.Namespace, **extra: object) -> Settings:
    """Settings of this command: its flags over the environment over the defaults."""
    flags = {name: getattr(args, name, None) for name in ("archive", "contracts", "warehouse")}
    flags["reports"] = getattr(args, "reports", None)
    flags["dagster_url"] = getattr(args, "dagster_url", None)
    try:
        return load_settings(**flags, **extra).with_absolute_paths()
    except SettingError as exc:
        raise CliError(str(exc)) from None


def _range(args: argparse.Namespace) -> tuple[dt.date, dt.date]:
    if args.end < args.start:
        raise CliError(f"--end {args.end} is before --start {args.start}")
    return args.start, args.end


def _check_archive(settings: Settings, start: dt.date, end: dt.date) -> list[dt.date]:
    """The archive's days in ``start..end``; refuses a missing archive or an empty range."""
    from callaudit import storage

    if not storage.exists(settings.archive):
        raise CliError(
            f"archive {settings.archive} does not exist (--archive or CALLAUDIT_ARCHIVE; "
            "`callaudit generate` writes a sample one)"
        )
    from callaudit.archive_scan import check_folders

    for warning in check_folders(settings.archive, start, end):  # raises for odd ones inside
        print(f"warning: {warning}", file=sys.stderr)
    present = [d for d in storage.list_day_folders(settings.archive) if start <= d <= end]
    if not present:
        raise CliError(
            f"no day folders between {start} and {end} in archive {settings.archive} "
            "(expected <archive>/date=YYYY-MM-DD/*.parquet)"
        )
    return present


def _check_contracts(settings: Settings) -> None:
    from callaudit.contracts import contracts_warnings, load_contracts

    contracts = load_contracts(settings.contracts)  # fail fast, naming file, line and field
    for warning in contracts_warnings(contracts, settings.contracts):
        print(f"warning: {warning}", file=sys.stderr)


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
    start, end = _range(args)
    settings = _settings(
        args,
        skip_corrupt_files=args.skip_corrupt_files or None,
        fail_on_gaps=args.fail_on_gaps or None,
    )
    chunk_days = args.chunk_days or settings.backfill_chunk_days
    present = _check_archive(settings, start, end)
    _check_contracts(settings)
    if args.submit:
        return _submit_backfill(args, settings, start, end, present)
    from callaudit.validation.runner import warm_up

    warm_up()  # GX's import, in its worker process, overlaps Dagster's start-up and the days
    from callaudit.pipelines.definitions import build_definitions
    from callaudit.pipelines.instance import get_instance

    # The partitions include the days asked for, even beyond the archive's (data gaps).
    defs = build_definitions(settings.with_partition_window(cover=(start, end)))
    instance = get_instance(settings)
    _guard_range(instance, settings, start, end)
    from callaudit.incremental import plan_range

    started = time.perf_counter()
    days = (end - start).days + 1
    print(
        f"backfill {start}..{end}: {days} days ({len(present)} in the archive) "
        f"in runs of {chunk_days} days; instance {instance.root_directory}",
        file=sys.stderr,
    )
    plan = plan_range(settings, start, end, force=args.force)
    print(f"  {plan.summary()}", file=sys.stderr)
    if plan.run and not args.no_report and start.year == end.year:
        _begin_report_early(settings, end.year, max(plan.run))
    try:
        return _backfill_and_report(args, settings, defs, instance, start, end, plan, started)
    finally:
        from callaudit.report import early

        early.cancel_all()  # a report begun and not built (refused, up to date) stops here


def _backfill_and_report(args, settings, defs, instance, start, end, plan, started) -> int:
    """The runs of ``plan`` in this process, then the reports of the range's years."""
    from callaudit.incremental import record_report, report_is_current
    from callaudit.pipelines.backfill import backfill_days, run_config_for
    from callaudit.progress import phase

    chunk_days = args.chunk_days or settings.backfill_chunk_days

    def on_run(run) -> None:
        state = "ok" if run.success else f"FAILED: {run.error}"
        print(f"  run {run.run_id[:8]} {run.label}: {state} ({run.seconds:.1f}s)", file=sys.stderr)

    outcome = backfill_days(
        defs,
        instance,
        start,
        end,
        config=run_config_for(settings, progress=not args.quiet),
        chunk_days=chunk_days,
        on_run=on_run,
        days=plan.run,
    )
    if not outcome.success:
        failed = outcome.failed[0]
        raise CliError(f"backfill run {failed.label} failed: {failed.error}")
    report_paths = []
    if not args.no_report:
        from callaudit.pipelines.reporting import build_reports

        for year in range(start.year, end.year + 1):
            if not args.force and report_is_current(settings, year):
                print(f"  report {year}: up to date, inputs unchanged", file=sys.stderr)
                continue
            with phase("report", str(year), enabled=not args.quiet):
                report_paths += build_reports(defs, instance, settings, [year])
            record_report(settings, year)
    _print_backfill_summary(
        settings.warehouse, start, end, started, report_paths, skipped=len(plan.skipped)
    )
    return 0


def _begin_report_early(settings: Settings, year: int, last_day: dt.date) -> None:
    """The year's report is begun as soon as the last run has committed the flags, while
    that run checks them (callaudit.report.early); it is built from that work only when
    nothing it read has changed since."""
    from callaudit.report import early
    from callaudit.report.figures import Period
    from callaudit.validation.table_checks import FLAG_CHECK_TABLES

    early.expect(settings, Period.of_year(year), last_day, FLAG_CHECK_TABLES)


def _submit_backfill(args, settings: Settings, start, end, present: list) -> int:
    """Hand the range to the deployment's webserver as one backfill and follow it."""
    from callaudit import storage
    from callaudit.pipelines import submit
    from callaudit.pipelines.backfill import run_config_for
    from callaudit.pipelines.definitions import build_definitions
    from callaudit.pipelines.jobs import DAILY_JOB, REPORT_JOB
    from callaudit.pipelines.tags import KIND_TAG, PARTITION_TAG

    if args.chunk_days:
        raise CliError(
            "--chunk-days applies to local runs; with --submit the deployment's "
            "CALLAUDIT_BACKFILL_RUN_DAYS sets the days per run"
        )
    daily = build_definitions(settings).resolve_job_def(DAILY_JOB)
    assets = sorted(k.to_user_string() for k in daily.asset_layer.executable_asset_keys)
    years = [] if args.no_report else list(range(start.year, end.year + 1))
    run_config = run_config_for(settings)
    params = submit.backfill_params(assets, start, end, run_config)
    url = settings.dagster_url
    try:
        backfill = submit.launch_backfill(url, params)
    except submit.SubmitError as exc:
        raise CliError(str(exc)) from None
    days = (end - start).days + 1
    print(
        f"backfill {start}..{end}: {days} days ({len(present)} in the archive) submitted "
        f"to {url} as backfill {backfill.backfill_id}: {backfill.page}",
        file=sys.stderr,
    )
    started = time.perf_counter()

    def on_run(run) -> None:
        state = "ok" if run.success else f"{run.status}: {run.error}"
        took = f" ({run.seconds:.1f}s)" if run.seconds is not None else ""
        print(f"  run {run.run_id[:8]} {run.label}: {state}{took}", file=sys.stderr)

    try:
        backfill = submit.follow(backfill, on_run=on_run)
    except submit.SubmitError as exc:
        raise CliError(str(exc)) from None
    if not backfill.success:
        failed = [r for r in backfill.runs if not r.success]
        reason = f"run {failed[0].label} {failed[0].error}" if failed else backfill.error
        raise CliError(
            f"backfill {backfill.backfill_id} ended {backfill.status}: {reason or 'see the UI'} "
            f"({backfill.page})"
        )
    for year in years:
        tags = {PARTITION_TAG: str(year), KIND_TAG: "report"}
        try:
            run_id = submit.launch_job_run(url, REPORT_JOB, run_config, tags)
            report = submit.follow_run(url, run_id)
        except submit.SubmitError as exc:
            raise CliError(str(exc)) from None
        on_run(report)
        if not report.success:
            raise CliError(f"report {year} failed: {report.error}")
    _print_backfill_summary(settings.warehouse, start, end, started, [])
    for year in years:
        print(f"report: {storage.join(settings.reports, str(year), 'report.html')}")
    return 0


def _close_abandoned_runs(instance) -> None:
    """Mark failed, with a warning line each, the runs a killed callaudit process of this
    host left STARTED (they would block later runs of their days)."""
    from callaudit.assets.run_guard import close_abandoned_runs

    for closed in close_abandoned_runs(instance):
        print(f"warning: {closed}", file=sys.stderr)


def _guard_range(instance, settings: Settings, start, end) -> None:
    """Close runs a killed process left STARTED; refuse a range another run is writing,
    seen in this instance or by its lock objects in the warehouse (another instance)."""
    from callaudit import writer_lock
    from callaudit.assets.run_guard import overlapping_runs, run_ended
    from callaudit.dates import days_between

    _close_abandoned_runs(instance)
    others = overlapping_runs(instance, days_between(start, end), settings.warehouse)
    if others:
        raise CliError(
            f"another run is writing days of {start}..{end} into {settings.warehouse}: "
            f"{'; '.join(others)}; wait for it to finish or cancel it, then run again"
        )
    locked = writer_lock.held(
        settings.warehouse,
        days_between(start, end),
        stale_after=settings.writer_lock_stale_seconds,
        ended=run_ended(instance),
    )
    if locked:
        first = min(locked)
        holder = locked[first]
        raise CliError(
            f"another writer holds {len(locked)} day(s) of {start}..{end} in "
            f"{settings.warehouse} (from {first}): {holder.describe()}, lock "
            f"{writer_lock.lock_url(settings.warehouse, first)}; wait for it to finish, then "
            "run again"
        )


def _first(items: list[str], limit: int) -> str:
    """ "a; b; and 3 more": the first ``limit`` of ``items``, for a warning that stays short."""
    more = f"; and {len(items) - limit} more" if len(items) > limit else ""
    return "; ".join(items[:limit]) + more


def _print_backfill_summary(
    warehouse: str, start, end, started: float, reports: list, *, skipped: int = 0
) -> None:
    import polars as pl

    from callaudit import warehouse as wh
    from callaudit.dates import days_between
    from callaudit.schema import ANOMALY_FLAGS, INGEST_DAILY
    from callaudit.validation.outcome import WARNING
    from callaudit.validation.results import failed_days
    from callaudit.validation.table_checks import NO_DATA_GAPS

    ingest = wh.read_range(warehouse, INGEST_DAILY, start, end)
    seconds = time.perf_counter() - started
    totals = ingest.select(
        pl.col("rows_read", "rows_valid", "duplicates", "quarantined", "skipped_files").sum()
    ).row(0, named=True)
    rate = totals["rows_read"] / seconds if seconds else 0.0
    # A rate over days that were not read this time would not be one.
    days = f"{ingest.height} days ({ingest.height - skipped} computed, {skipped} up to date)"
    print(
        f"done: {days if skipped else f'{ingest.height} days'}, {totals['rows_read']:,} rows "
        f"read, {totals['rows_valid']:,} valid, {totals['duplicates']:,} duplicates, "
        f"{totals['quarantined']:,} quarantined, {totals['skipped_files']} files skipped "
        f"in {seconds:.1f}s" + ("" if skipped else f" ({rate:,.0f} rows/s)")
    )
    gaps = wh.data_gaps(warehouse, days_between(start, end))
    if gaps:
        listed = _first([f"{d} ({why})" for d, why in sorted(gaps.items())], 10)
        print(
            f"warning: data gaps: {len(gaps)} day(s) had no raw data, figures over them are "
            f"a lower bound: {listed}",
            file=sys.stderr,
        )
    warned = {
        day: [label for label in labels if not label.startswith(NO_DATA_GAPS)]
        for day, labels in failed_days(warehouse, days_between(start, end), WARNING).items()
    }
    warned = {day: labels for day, labels in warned.items() if labels}
    if warned:
        listed = _first([f"{d}: {', '.join(labels)}" for d, labels in sorted(warned.items())], 5)
        print(
            f"warning: plausibility checks warned on {len(warned)} day(s) (not blocking, "
            f"shown in the report): {listed}",
            file=sys.stderr,
        )
    flags = wh.read_range(warehouse, ANOMALY_FLAGS, start, end)
    if flags.height:
        by_kind = flags.group_by("flag").len().sort("len", descending=True)
        listed = ", ".join(f"{f} {n}" for f, n in by_kind.iter_rows())
        flag_days = flags.select("date", "partner_id", "flag").unique().height
        print(
            f"flags: {flags.height} ({listed}) on {flag_days:,} flag days "
            "(a volume flag has a row per metric, calls and items)"
        )
    for built in reports:
        _print_report(built, indent="  ", label="report: ")


def _report_period(args: argparse.Namespace):
    """The period of `report` and `verify`: --year, or --start and --end together."""
    from callaudit.report.figures import Period

    if args.year is not None:
        if args.start or args.end:
            raise CliError("give --year or --start/--end, not both")
        return Period.of_year(args.year)
    if not (args.start and args.end):
        raise CliError("give --year YYYY, or --start DAY and --end DAY")
    if args.end < args.start:
        raise CliError(f"--end {args.end} is before --start {args.start}")
    return Period.between(args.start, args.end)


def _print_report(built, *, indent: str = "", label: str = "") -> None:
    print(f"{label}{built.path}")
    if built.headline:
        print(f"{indent}{built.headline}")
    if built.pdf_note:
        print(f"{indent}{built.pdf_note}")


def cmd_report(args: argparse.Namespace) -> int:
    period = _report_period(args)
    settings = _settings(args, fail_on_gaps=args.fail_on_gaps or None)
    _check_contracts(settings)
    from callaudit.reviews import load_reviews_for

    load_reviews_for(settings)  # fail fast, naming the file, line and field
    from callaudit.report.figures import NoDataError, coverage, no_data_message

    if coverage(settings.warehouse, period) is None:
        raise NoDataError(no_data_message(settings.warehouse, period))
    from callaudit.validation.runner import warm_up

    warm_up()  # GX's import overlaps reading the period's tables; the summary checks use it
    from callaudit.pipelines.definitions import build_definitions
    from callaudit.pipelines.instance import get_instance
    from callaudit.pipelines.reporting import build_period_report, build_reports

    defs = build_definitions(settings)
    instance = get_instance(settings)
    _close_abandoned_runs(instance)
    if period.year is not None:
        built = build_reports(defs, instance, settings, [period.year])[0]
    else:
        built = build_period_report(defs, instance, settings, period.start, period.end)
    _print_report(built)
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    period = _report_period(args)
    settings = _settings(args)
    from callaudit.report.verify import verify_report

    result = verify_report(settings, period, archive=args.archive, warehouse=args.warehouse)
    for line in result.checked:
        print(f"ok: {line}")
    for line in result.differences:
        print(f"CHANGED: {line}")
    if not result.ok:
        more = len(result.differences) - 1
        raise CliError(
            f"report {period.title} no longer matches its inputs: {result.differences[0]}"
            + (f" (and {more} more difference{'s' if more > 1 else ''} above)" if more else "")
        )
    print(
        f"report {period.title} verified: {result.files:,} raw files "
        f"({result.bytes / 1e6:,.1f} MB) hashed, inputs and totals match, in "
        f"{result.seconds:.1f}s"
    )
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from callaudit import storage
    from callaudit import warehouse as wh
    from callaudit.flags.evaluate import (
        evaluate,
        evaluation_title,
        format_evaluation,
        read_truth,
    )
    from callaudit.schema import ANOMALY_FLAGS

    settings = _settings(args)
    truth_path = args.truth
    if not truth_path.endswith(".csv"):
        truth_path = truth_path.rstrip("/") + "/flags.csv"
    if not storage.exists(truth_path):
        raise CliError(f"no ground truth at {truth_path} (`callaudit generate` writes one)")
    truth = read_truth(truth_path)
    if truth.is_empty():
        raise CliError(f"no ground truth rows in {truth_path}")
    start = args.start or truth["date"].min()
    end = args.end or truth["date"].max()
    if end < start:
        raise CliError(f"--end {end} is before --start {start}")
    flags = wh.read_range(settings.warehouse, ANOMALY_FLAGS, start, end)
    print(evaluation_title(flags, truth_path, start, end))
    print(format_evaluation(evaluate(flags, truth, start=start, end=end)))
    return 0


def cmd_dev(args: argparse.Namespace) -> int:
    from callaudit.pipelines.definitions import CODE_LOCATION, DEFINITIONS_MODULE
    from callaudit.pipelines.instance import ensure_dagster_home

    settings = _settings(args)
    # The UI's processes read their settings from the environment: hand them the flags.
    for name in ("archive", "contracts", "warehouse", "reports"):
        os.environ[_ENV[name].env] = getattr(settings, name)
    home = ensure_dagster_home(settings)
    from callaudit.pipelines.instance import get_instance

    with get_instance(settings) as instance:  # the UI would show them running forever
        _close_abandoned_runs(instance)
    workspace = home / "workspace.yaml"
    workspace.write_text(workspace_yaml(DEFINITIONS_MODULE, CODE_LOCATION))
    command = [sys.executable, "-m", "dagster", "dev", "-w", str(workspace)]
    command += ["-h", args.host, "-p", str(args.port)]
    os.execv(sys.executable, command)
    return 0  # pragma: no cover


def workspace_yaml(module: str, location: str) -> str:
    """A Dagster workspace that loads the code location from the installed package."""
    return (
        "load_from:\n"
        "  - python_module:\n"
        f"      module_name: {module}\n"
        f"      location_name: {location}\n"
    )


def _quiet_library_warnings() -> None:
    """Dagster's beta/preview notices are for library authors, not for CLI users."""
    import warnings

    import dagster as dg

    for category in ("BetaWarning", "PreviewWarning", "SupersessionWarning"):
        if hasattr(dg, category):
            warnings.filterwarnings("ignore", category=getattr(dg, category))


DAY_HELP = "a UTC day, YYYY-MM-DD"
FAIL_ON_GAPS_HELP = (
    "a day with no raw data fails the run (or the report) instead of being reported as "
    "a data gap (env CALLAUDIT_FAIL_ON_GAPS)"
)


def _command(
    sub: argparse._SubParsersAction,
    name: str,
    func: Callable[[argparse.Namespace], int],
    help: str,
    description: str,
) -> argparse.ArgumentParser:
    """A subcommand that runs ``func``; its options are added by the caller."""
    parser = sub.add_parser(name, help=help, description=description)
    parser.set_defaults(func=func)
    return parser


def _add_days(
    parser: argparse.ArgumentParser,
    first: str,
    last: str,
    *,
    required: bool = False,
    defaults: tuple[str, str] = ("", ""),
) -> None:
    """--start and --end, UTC days; ``first`` and ``last`` say what each one is."""
    for flag, what, default in (("--start", first, defaults[0]), ("--end", last, defaults[1])):
        parser.add_argument(
            flag,
            type=_day,
            metavar="DAY",
            required=required,
            help=f"{what}, {DAY_HELP}{default}",
        )


def _add_period(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--year", type=_year, help="a calendar year, YYYY")
    _add_days(parser, "first day of another period", "last day of that period (inclusive)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="callaudit",
        description=(
            "Audit partner API usage from call-log archives (a Dagster pipeline). "
            "Settings come from flags, then CALLAUDIT_* environment variables, then defaults."
        ),
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    gen = _command(
        sub,
        "generate",
        cmd_generate,
        help="write a realistic synthetic archive with its ground truth",
        description="Write DIR/raw/ (the archive), DIR/contracts.yaml and DIR/truth/.",
    )
    gen.add_argument("--scenario", default="twitter-2022", help="default twitter-2022")
    gen.add_argument(
        "--scale",
        type=_scale,
        default=0.01,
        help="1.0 = full size (default 0.01); up to 30 for a range of at most 7 days",
    )
    gen.add_argument("--seed", type=int, default=2022, help="random seed (default 2022)")
    gen.add_argument("--out", default="data", metavar="DIR", help="output folder (default data)")
    _add_days(
        gen,
        "first day to write",
        "last day to write",
        defaults=(" (default: Jan 1)", " (default: Dec 31)"),
    )
    gen.add_argument("--quiet", action="store_true", help="no progress bar")

    back = _command(
        sub,
        "backfill",
        cmd_backfill,
        help="materialise the graph for a range of days, then the reports",
        description=(
            "Materialise every daily table, check and flag of START..END through Dagster, "
            "in ranged runs recorded in the instance (DAGSTER_HOME), then the yearly report "
            "of each year the range touches."
        ),
    )
    _add_days(back, "first day to process", "last day to process (inclusive)", required=True)
    _add_locations(back, "archive", "contracts", "warehouse", "reports")
    back.add_argument(
        "--chunk-days",
        type=_positive_int,
        metavar="N",
        help="days per Dagster run (env CALLAUDIT_BACKFILL_CHUNK_DAYS, default 366: a year in one run)",
    )
    back.add_argument(
        "--skip-corrupt-files",
        action="store_true",
        help="skip unreadable raw files and report them as data gaps instead of failing the day",
    )
    back.add_argument("--fail-on-gaps", action="store_true", help=FAIL_ON_GAPS_HELP)
    back.add_argument("--no-report", action="store_true", help="do not build the yearly reports")
    back.add_argument(
        "--force",
        action="store_true",
        help=(
            "compute every day of the range again; without it, days whose raw files, "
            "contracts, reviews, code and settings are unchanged since they were computed "
            "are skipped, and a report whose inputs are unchanged is not rebuilt"
        ),
    )
    back.add_argument(
        "--submit",
        action="store_true",
        help=(
            "hand the range to a Dagster deployment as one backfill, run by its daemon, "
            "run queue and workers, instead of running it here"
        ),
    )
    back.add_argument(
        "--dagster-url",
        metavar="URL",
        help="the deployment's webserver for --submit (env CALLAUDIT_DAGSTER_URL, "
        "default http://127.0.0.1:3000)",
    )
    back.add_argument("--quiet", action="store_true", help="no progress bar")

    rep = _command(
        sub,
        "report",
        cmd_report,
        help="rebuild the report of a year or of any period from the warehouse",
        description=(
            "Rebuild <reports>/<year>/ (--year) or <reports>/<start>_<end>/ (--start/--end) "
            "from the warehouse through Dagster; prints its path and headline. Refuses, "
            "naming the days, a period with a day that failed validation or has missing or "
            "stale flags."
        ),
    )
    _add_period(rep)
    _add_locations(rep, "archive", "contracts", "warehouse", "reports")
    rep.add_argument("--fail-on-gaps", action="store_true", help=FAIL_ON_GAPS_HELP)

    ver = _command(
        sub,
        "verify",
        cmd_verify,
        help="check a written report still matches its inputs and totals",
        description=(
            "Recompute the SHA-256 of contracts.yaml, of the flag reviews and of every raw "
            "file of the report's days, and its totals from the warehouse; exit 0 when all "
            "match, 1 naming the day and file (or input, or figure) that changed."
        ),
    )
    _add_period(ver)
    for name in ("archive", "warehouse"):
        ver.add_argument(
            f"--{name}",
            metavar="URL",
            help=f"where the {name} is now (default: the one the report names)",
        )
    _add_locations(ver, "reports")

    ev = _command(
        sub,
        "evaluate",
        cmd_evaluate,
        help="compare the flags with a generator's ground truth",
        description="Precision, recall and F1 per flag kind against truth/flags.csv.",
    )
    ev.add_argument("--truth", default="data/truth", help="truth folder or flags.csv")
    _add_days(ev, "first day", "last day", defaults=(" (default: the truth's)",) * 2)
    _add_locations(ev, "warehouse")

    dev = _command(
        sub,
        "dev",
        cmd_dev,
        help="open the Dagster UI on 127.0.0.1",
        description="Start `dagster dev` on the instance the CLI records its runs in.",
    )
    dev.add_argument("--host", default="127.0.0.1", help="default 127.0.0.1")
    dev.add_argument("--port", type=_positive_int, default=3000, help="default 3000")
    _add_locations(dev, "archive", "contracts", "warehouse", "reports")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "func", None) in (cmd_backfill, cmd_report) and not getattr(
        args, "submit", False
    ):
        from callaudit.validation.runner import warm_up

        warm_up()  # GX's import, in its worker process, overlaps all that comes before a check
    _quiet_library_warnings()
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
        if _debug():
            raise
        return 1


def _debug() -> bool:
    try:
        return bool(read_setting("debug"))
    except SettingError:
        return False


def command() -> NoReturn:
    """The `callaudit` command: :func:`main`, then the process ends as soon as its output
    and exit handlers are done. Python's own teardown would then free every object one by
    one in a final garbage collection (0.6 s after a nightly run, measured) and write
    nothing; :func:`main` stays an ordinary function for callers in a process."""
    code = main()
    for thread in threading.enumerate():  # as the interpreter does first at exit
        if thread is not threading.current_thread() and not thread.daemon:
            thread.join()
    atexit._run_exitfuncs()  # then what it runs at exit: worker stop, temp files, logs
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    command()
