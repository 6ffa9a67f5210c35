"""The bad-archive corpus: what can go wrong around the rows (days, folders, files,
agreements, re-runs), each case with what `callaudit` must answer.

A case is a few steps run through the real command line (``callaudit backfill`` and
``callaudit report``, Dagster runs recorded in a fresh instance) on a small archive of
March 2022: before each step the archive, the agreements or the warehouse are changed
the way a careless writer, a broken mount or an interrupted run would. Each step says
the exit status and what stderr must say; the case says what the warehouse holds at the
end: the calls of each day, the data gaps, the flags.

The archive starts with three good days, 2022-03-01..03, of two calls of 10 items each
by partner ``acme`` (app ``acme-search``). Its agreement allows 50 items a month, so the
month is crossed on 2022-03-03 (60 items).
"""

import datetime as dt
import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg
import pyarrow as pa
import pyarrow.parquet as pq

from callaudit import warehouse
from tests.rawlogs import call, write_raw

MARCH = [dt.date(2022, 3, d) for d in (1, 2, 3)]
D1, D2, D3 = MARCH
CONTRACTS = """\
currency: USD
partners:
  - id: acme
    name: Acme
    agreements:
      - id: acme-2022
        start: 2022-01-01
        apps: [acme-search]
        limits: {items_per_month: 50}
"""


@dataclass(frozen=True)
class Workspace:
    """The folders of one case: archive, agreements, warehouse, reports."""

    root: Path

    @property
    def archive(self) -> Path:
        return self.root / "raw"

    @property
    def contracts(self) -> Path:
        return self.root / "contracts.yaml"

    @property
    def warehouse(self) -> Path:
        return self.root / "warehouse"

    @property
    def reports(self) -> Path:
        return self.root / "reports"

    def folder(self, day: dt.date) -> Path:
        return self.archive / f"date={day.isoformat()}"

    def locations(self) -> list[str]:
        return [
            "--archive",
            str(self.archive),
            "--contracts",
            str(self.contracts),
            "--warehouse",
            str(self.warehouse),
            "--reports",
            str(self.reports),
        ]


def write_calls(ws: Workspace, day: dt.date, *, first: int = 0, name="part-0.parquet", **fields):
    ts = dt.datetime(day.year, day.month, day.day, 9, tzinfo=dt.UTC)
    rows = [call(first + i, ts=ts + dt.timedelta(seconds=i), **fields) for i in range(2)]
    write_raw(ws.archive, rows, day=day, name=name)


def good_archive(ws: Workspace, days=MARCH) -> None:
    for n, day in enumerate(days):
        write_calls(ws, day, first=100 * n)
    ws.contracts.write_text(CONTRACTS)


# --- changes a step makes before its command ------------------------------------------


def delete_files(day: dt.date) -> Callable[[Workspace], None]:
    def change(ws: Workspace) -> None:
        for path in ws.folder(day).glob("*.parquet"):
            path.unlink()

    return change


def delete_folder(day: dt.date) -> Callable[[Workspace], None]:
    return lambda ws: shutil.rmtree(ws.folder(day))


def empty_file(day: dt.date) -> Callable[[Workspace], None]:
    """A file with the right columns and no row (the shipper's empty flush)."""

    def change(ws: Workspace) -> None:
        delete_files(day)(ws)
        pq.write_table(
            pa.table({"request_id": pa.array([], pa.uint64())}), ws.folder(day) / "x.parquet"
        )

    return change


def make_folder(name: str) -> Callable[[Workspace], None]:
    """A folder at the archive's top holding one call, e.g. ``date=2022-02-30``."""

    def change(ws: Workspace) -> None:
        (ws.archive / name).mkdir(parents=True)
        pq.write_table(
            pa.table({"request_id": [1], "partner_id": ["acme"]}), ws.archive / name / "x.parquet"
        )

    return change


def list_ids(day: dt.date) -> Callable[[Workspace], None]:
    """A second file whose request_id column holds lists (a writer's schema bug)."""

    def change(ws: Workspace) -> None:
        table = pa.table(
            {"request_id": pa.array([[1, 2]], pa.list_(pa.int64())), "partner_id": ["acme"]}
        )
        pq.write_table(table, ws.folder(day) / "lists.parquet")

    return change


def damaged_page(day: dt.date) -> Callable[[Workspace], None]:
    """A second file of the day whose data pages were overwritten in the middle (its footer
    is intact, so it lists fine and fails only when decoded)."""

    def change(ws: Workspace) -> None:
        ts = dt.datetime(day.year, day.month, day.day, 9, tzinfo=dt.UTC)
        rows = [call(1000 + i, ts=ts, partner_id=f"p{i % 7}") for i in range(20_000)]
        path = write_raw(ws.archive, rows, day=day, name="damaged.parquet")
        data = bytearray(path.read_bytes())
        middle = len(data) // 2
        data[middle : middle + 64] = bytes(b ^ 0x5A for b in data[middle : middle + 64])
        path.write_bytes(bytes(data))

    return change


def late_calls(day: dt.date, **fields) -> Callable[[Workspace], None]:
    return lambda ws: write_calls(ws, day, first=900, name="late.parquet", **fields)


def edit_contracts(ws: Workspace) -> None:
    with ws.contracts.open("a") as handle:
        handle.write("        pricing: {monthly_fee: 100}\n")


def tables_only(day: dt.date) -> Callable[[Workspace], None]:
    """A re-run of the day's tables killed before its flags step."""

    def change(ws: Workspace) -> None:
        from callaudit.assets.resources import AuditResource
        from callaudit.pipelines.definitions import build_assets
        from tests.graph import settings_for_test

        result = dg.materialize(
            build_assets(settings_for_test()),
            selection=[
                "usage_daily",
                "partner_daily",
                "network_daily",
                "ingest_daily",
                "quarantine",
            ],
            resources={
                "audit": AuditResource(
                    archive=str(ws.archive),
                    contracts=str(ws.contracts),
                    warehouse=str(ws.warehouse),
                    reports=str(ws.reports),
                )
            },
            partition_key=day.isoformat(),
        )
        assert result.success

    return change


def left_out_and_redelivered(day: dt.date) -> Callable[[Workspace], None]:
    """Files a day folder holds that are not its data (hidden, another suffix, in a
    sub-folder), and a re-delivery of the day's two calls with other content."""

    def change(ws: Workspace) -> None:
        data = (ws.folder(day) / "part-0.parquet").read_bytes()
        (ws.folder(day) / "sub").mkdir()
        for name in ("_x.parquet", ".x.parquet", "x.PARQUET", "sub/x.parquet"):
            (ws.folder(day) / name).write_bytes(data)
        first = 100 * MARCH.index(day)
        write_calls(ws, day, first=first, name="part-1.parquet", items=11)

    return change


def unrecorded_flags(day: dt.date) -> Callable[[Workspace], None]:
    """The day's flags as a callaudit from before flag inputs were recorded wrote them:
    the same rows, no record of what they were computed from."""

    def change(ws: Workspace) -> None:
        from callaudit.schema import ANOMALY_FLAGS

        rows = warehouse.read_partition(str(ws.warehouse), ANOMALY_FLAGS, day)
        warehouse.commit_day(str(ws.warehouse), ANOMALY_FLAGS.name, day, {ANOMALY_FLAGS: rows})

    return change


def strict_summary_suite(ws: Workspace) -> None:
    """A deployment's own suites (CALLAUDIT_EXPECTATIONS) whose report_summary suite
    allows a partner at most one call: the next report fails its blocking check."""
    write_strict_suites(ws.root / "suites")


def write_strict_suites(suites: Path) -> Path:
    """The shipped suites copied into ``suites``, with report_summary allowing a partner
    at most one call (point CALLAUDIT_EXPECTATIONS at it)."""
    from callaudit.validation.suites import expectations_dir

    suites.mkdir()
    for path in expectations_dir().iterdir():
        if path.name.endswith(".json"):
            (suites / path.name).write_text(path.read_text())
    summary = json.loads((suites / "report_summary.json").read_text())
    summary["expectations"].append(
        {
            "type": "expect_column_values_to_be_between",
            "kwargs": {"column": "calls", "max_value": 1},
            "severity": "critical",
        }
    )
    (suites / "report_summary.json").write_text(json.dumps(summary))
    return suites


def nothing(ws: Workspace) -> None:
    return None


# --- cases ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    command: tuple[str, ...]
    status: int
    #: fragments of what the command prints (stdout and stderr)
    says: tuple[str, ...] = ()
    change: Callable[[Workspace], None] = nothing
    #: environment of the command (relative paths are under the case's folder)
    env: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ArchiveCase:
    id: str
    steps: tuple[Step, ...]
    #: usage_daily calls of each day at the end; None: the day has no tables
    calls: dict[dt.date, int | None]
    #: day -> fragment of the recorded data-gap reason
    gaps: dict[dt.date, str] = field(default_factory=dict)
    #: flag -> days that carry it at the end
    flags: dict[str, tuple[dt.date, ...]] = field(default_factory=dict)
    #: the archive before the first step
    archive: Callable[[Workspace], None] = good_archive
    #: start from the good archive already backfilled (`callaudit backfill` of 2022-03-01..03)
    backfilled: bool = False
    #: fragments the year's report.md must contain at the end, and its data_gaps
    report_says: tuple[str, ...] = ()
    report_gaps: tuple[str, ...] = ()
    #: the report files at the end are, byte for byte, those of the last report that passed
    report_kept: bool = False


BACKFILL = ("backfill", "--start", "2022-03-01", "--end", "2022-03-03", "--no-report")
BACKFILL_D1 = ("backfill", "--start", "2022-03-01", "--end", "2022-03-01", "--no-report")
REPORT = ("report", "--year", "2022")
ALL_GOOD = {D1: 2, D2: 2, D3: 2}


def without(day: dt.date) -> Callable[[Workspace], None]:
    """The good archive with no folder for ``day``."""

    def build(ws: Workspace) -> None:
        good_archive(ws)
        shutil.rmtree(ws.folder(day))

    return build


ARCHIVE_CASES: tuple[ArchiveCase, ...] = (
    # --- vanished days (item 6) -------------------------------------------------------
    ArchiveCase(
        "a day whose files vanished is refused and its tables kept",
        (
            Step(
                BACKFILL,
                1,
                ("2022-03-02 had 2 raw rows in 1 file(s)", "refusing to replace its tables"),
                change=delete_files(D2),
            ),
        ),
        calls=ALL_GOOD,
        backfilled=True,
    ),
    ArchiveCase(
        "a day whose folder was deleted is refused and its tables kept",
        (
            Step(
                BACKFILL,
                1,
                ("2022-03-02 had 2 raw rows", "no raw file in"),
                change=delete_folder(D2),
            ),
        ),
        calls=ALL_GOOD,
        backfilled=True,
    ),
    ArchiveCase(
        "a day whose files were emptied is refused and its tables kept",
        (Step(BACKFILL, 1, ("2022-03-02 had 2 raw rows", "hold no row"), change=empty_file(D2)),),
        calls=ALL_GOOD,
        backfilled=True,
    ),
    # --- data gaps (item 7) -----------------------------------------------------------
    ArchiveCase(
        "an empty day folder is a data gap: loud, and the other days get tables and flags",
        (Step(BACKFILL, 0, ("warning: data gaps: 1 day(s)", "2022-03-02 (no raw file in")),),
        archive=lambda ws: (good_archive(ws), delete_files(D2)(ws)),
        calls={D1: 2, D2: None, D3: 2},
        gaps={D2: "no raw file in"},
        flags={"monthly_item_limit": ()},
    ),
    ArchiveCase(
        "a day missing inside the range is a data gap",
        (Step(BACKFILL, 0, ("warning: data gaps: 1 day(s)", "2022-03-02 (no raw file in")),),
        archive=without(D2),
        calls={D1: 2, D2: None, D3: 2},
        gaps={D2: "no raw file in"},
    ),
    ArchiveCase(
        "a day whose files hold no row is a data gap",
        (Step(BACKFILL, 0, ("2022-03-02 (the 1 raw file(s) in",)),),
        archive=lambda ws: (good_archive(ws), empty_file(D2)(ws)),
        calls={D1: 2, D2: None, D3: 2},
        gaps={D2: "hold no row"},
    ),
    ArchiveCase(
        "with --fail-on-gaps a day without data fails the backfill naming it",
        (
            Step(
                (*BACKFILL, "--fail-on-gaps"),
                1,
                ("2022-03-02 has no raw data", "fatal with --fail-on-gaps"),
            ),
        ),
        archive=without(D2),
        calls={D1: 2, D2: None, D3: 2},
    ),
    ArchiveCase(
        "the report of a year with a gap says its figures are a lower bound, naming the day",
        (Step(BACKFILL, 0), Step(REPORT, 0)),
        archive=without(D2),
        calls={D1: 2, D2: None, D3: 2},
        gaps={D2: "no raw file in"},
        report_says=("Its figures are a lower bound: 1 day in it had no data (2022-03-02",),
        report_gaps=("2022-03-02",),
    ),
    ArchiveCase(
        "with --fail-on-gaps the report refuses a year with a gap",
        (
            Step(BACKFILL, 0),
            Step((*REPORT, "--fail-on-gaps"), 1, ("2022-03-02", "data gaps are fatal")),
        ),
        archive=without(D2),
        calls={D1: 2, D2: None, D3: 2},
        gaps={D2: "no raw file in"},
    ),
    # --- odd folders (item 8) ---------------------------------------------------------
    ArchiveCase(
        "an impossible day folder outside the range is ignored with a warning naming it",
        (
            Step(
                BACKFILL,
                0,
                ("warning: ignoring folder", "date=2022-13-45", "outside 2022-03-01..2022-03-03"),
            ),
        ),
        archive=lambda ws: (good_archive(ws), make_folder("date=2022-13-45")(ws)),
        calls=ALL_GOOD,
    ),
    ArchiveCase(
        "day zero and stray folders are ignored with a warning naming them",
        (Step(BACKFILL, 0, ("date=0000-01-01", "backup")),),
        archive=lambda ws: (
            good_archive(ws),
            make_folder("date=0000-01-01")(ws),
            make_folder("backup")(ws),
        ),
        calls=ALL_GOOD,
    ),
    ArchiveCase(
        "a folder of a day that does not exist inside the range is an error naming it",
        (
            Step(
                ("backfill", "--start", "2022-02-27", "--end", "2022-03-03", "--no-report"),
                1,
                ("folder(s) date=2022-02-30 inside 2022-02-27..2022-03-03 are not",),
            ),
        ),
        archive=lambda ws: (good_archive(ws), make_folder("date=2022-02-30")(ws)),
        calls={D1: None, D2: None, D3: None},
    ),
    # --- errors that name the file, day, column and value (item 9) --------------------
    ArchiveCase(
        "a file whose request_id holds lists fails its day naming the file, column and a value",
        (
            Step(
                BACKFILL,
                1,
                (
                    "2022-03-02: unreadable raw file",
                    "date=2022-03-02/lists.parquet: column request_id is list<element: int64>, "
                    "not an exact uint64 (first value [1, 2])",
                ),
            ),
        ),
        archive=lambda ws: (good_archive(ws), list_ids(D2)(ws)),
        calls={D1: 2, D2: None, D3: 2},
    ),
    ArchiveCase(
        "with --skip-corrupt-files that file is skipped and the day keeps its other files",
        (Step((*BACKFILL, "--skip-corrupt-files"), 0, ("1 files skipped",)),),
        archive=lambda ws: (good_archive(ws), list_ids(D2)(ws)),
        calls=ALL_GOOD,
    ),
    ArchiveCase(
        "a damaged data page fails its day naming the file",
        (
            Step(
                BACKFILL,
                1,
                ("2022-03-02: unreadable raw file", "date=2022-03-02/damaged.parquet: "),
            ),
        ),
        archive=lambda ws: (good_archive(ws), damaged_page(D2)(ws)),
        calls={D1: 2, D2: None, D3: 2},
    ),
    # --- files left out and re-deliveries are counted and named (item 12) -------------
    ArchiveCase(
        "files left out of a day and re-deliveries with other content are named in the report",
        (Step(BACKFILL, 0), Step(REPORT, 0)),
        archive=lambda ws: (good_archive(ws), left_out_and_redelivered(D2)(ws)),
        calls=ALL_GOOD,
        report_says=(
            "| Re-delivered with other content (first copy kept) | 2 |",
            "| Files left out (hidden, other suffix, sub-folder) | 4 |",
            "- left out `2022-03-02: sub/`",
        ),
    ),
    # --- plausibility warns, integrity blocks (item 10) -------------------------------
    ArchiveCase(
        "a partner whose p95 latency is 150 s is warned about, and still flagged and reported",
        (
            Step(
                BACKFILL,
                0,
                (
                    "warning: plausibility checks warned on 1 day(s)",
                    "2022-03-02: usage_daily_suite: expect_column_values_to_be_between"
                    "(latency_p95_ms)",
                ),
            ),
            Step(REPORT, 0),
        ),
        archive=lambda ws: (good_archive(ws), late_calls(D2, latency_ms=150_000)(ws)),
        calls={D1: 2, D2: 4, D3: 2},
        flags={"monthly_item_limit": (D2, D3)},
        report_says=("1 day with warnings", "(latency\\_p95\\_ms)"),
    ),
    ArchiveCase(
        "calls without a caller address are warned about, not blocked",
        (Step(BACKFILL, 0, ("expect_column_values_to_be_between(distinct_client_ips)",)),),
        archive=lambda ws: (
            good_archive(ws),
            delete_files(D2)(ws),
            write_calls(ws, D2, first=100, client_ip=None),
        ),
        calls=ALL_GOOD,
    ),
    # --- agreements (item 11) -----------------------------------------------------------
    ArchiveCase(
        "an empty agreements file: the backfill warns, and every call is no_agreement",
        (
            Step(
                BACKFILL,
                0,
                ("warning: ", "contracts.yaml: no partner agreement at all"),
                change=lambda ws: ws.contracts.write_text(""),
            ),
        ),
        calls=ALL_GOOD,
        flags={"no_agreement": tuple(MARCH), "monthly_item_limit": ()},
    ),
    ArchiveCase(
        "an agreements key given twice stops the backfill before anything is written",
        (
            Step(
                BACKFILL,
                1,
                ("contracts.yaml: line 10: key 'limits' is given twice",),
                change=lambda ws: ws.contracts.write_text(CONTRACTS + "        limits: {}\n"),
            ),
        ),
        calls={D1: None, D2: None, D3: None},
    ),
    # --- a report that fails its checks replaces nothing (item 4) ---------------------
    ArchiveCase(
        "a report whose summary fails a blocking check keeps the published one whole",
        (
            Step(REPORT, 0),
            Step(
                REPORT,
                1,
                ("not publishing the 2022 report, the previous one is kept",),
                change=strict_summary_suite,
                env={"CALLAUDIT_EXPECTATIONS": "suites"},
            ),
        ),
        calls=ALL_GOOD,
        backfilled=True,
        report_kept=True,
    ),
    # --- stale flags (item 3) ---------------------------------------------------------
    ArchiveCase(
        "a re-run killed before its flags: the report refuses naming the day",
        (
            Step(
                REPORT,
                1,
                ("2 day(s) have stale flags", "tables of 2022-03-02 re-run after them"),
                change=lambda ws: (late_calls(D2, app_id="rogue-app")(ws), tables_only(D2)(ws)),
            ),
            Step(BACKFILL, 0),
            Step(REPORT, 0),
        ),
        calls={D1: 2, D2: 4, D3: 2},
        backfilled=True,
        flags={"unauthorized_app": (D2,), "monthly_item_limit": (D2, D3)},
    ),
    ArchiveCase(
        "flags that recorded no inputs (an older callaudit) are refused like stale ones",
        (
            Step(
                REPORT,
                1,
                (
                    "1 day(s) have stale flags, no record of what they were computed from "
                    "(2022-03-02)",
                    "callaudit backfill --start 2022-03-02 --end 2022-03-02",
                ),
                change=unrecorded_flags(D2),
            ),
            Step(BACKFILL, 0),
            Step(REPORT, 0),
        ),
        calls=ALL_GOOD,
        backfilled=True,
    ),
    ArchiveCase(
        "a day inside the report's range that no run processed is refused naming it",
        (
            Step(BACKFILL_D1, 0),
            Step(("backfill", "--start", "2022-03-03", "--end", "2022-03-03", "--no-report"), 0),
            Step(REPORT, 1, ("1 day(s) were never processed (2022-03-02)",)),
        ),
        calls={D1: 2, D2: None, D3: 2},
    ),
    ArchiveCase(
        "agreements edited after the backfill: the report refuses the stale flags",
        (
            Step(
                REPORT,
                1,
                ("3 day(s) have stale flags", "computed with another contracts.yaml"),
                change=edit_contracts,
            ),
        ),
        calls=ALL_GOOD,
        backfilled=True,
    ),
    ArchiveCase(
        "re-running one late day recomputes the month-to-date flags of the days after it",
        (Step(BACKFILL_D1, 0, change=late_calls(D1)),),
        calls={D1: 4, D2: 2, D3: 2},
        backfilled=True,
        flags={"monthly_item_limit": (D2, D3)},
    ),
)
