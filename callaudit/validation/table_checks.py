"""Validating the day-grain tables of a range of days: suites and reconciliations.

Each function reads the days' partitions once, runs the table's GX suite over the whole
range in one batch, adds the exact Polars reconciliations, and returns one
``CheckReport`` per named check, findings split per day. No Dagster here: the asset
checks wrap these, and benchmarks call them directly.
"""

import datetime as dt
import threading
import time
from collections.abc import Callable, Iterable, Sequence

import polars as pl

from callaudit import warehouse
from callaudit.schema import DATE_COLUMN
from callaudit.validation import reconcile, worker
from callaudit.validation.frames import validation_frame
from callaudit.validation.outcome import WARNING, CheckReport, Finding
from callaudit.validation.runner import run_suite, submit
from callaudit.validation.suites import load_suite

# Check names, as they appear in Dagster and in validation_results.
USAGE_SUITE = "usage_daily_suite"
USAGE_MATCHES_INGEST = "usage_daily_matches_ingest"
PARTNER_SUITE = "partner_daily_suite"
PARTNER_MATCHES_USAGE = "partner_daily_matches_usage"
INGEST_SUITE = "ingest_daily_suite"
INGEST_ADDS_UP = "ingest_daily_adds_up"
NO_DATA_GAPS = "ingest_daily_no_data_gaps"
NETWORK_SUITE = "network_daily_suite"
QUARANTINE_SUITE = "quarantine_suite"
QUARANTINE_MATCHES_INGEST = "quarantine_matches_ingest"
FLAGS_SUITE = "anomaly_flags_suite"
UNKNOWN_PARTNERS_FLAGGED = "anomaly_flags_cover_unknown_partners"

#: Check name -> table it is about, for the daily tables.
DAILY_CHECK_TABLES: dict[str, str] = {
    USAGE_SUITE: "usage_daily",
    USAGE_MATCHES_INGEST: "usage_daily",
    PARTNER_SUITE: "partner_daily",
    PARTNER_MATCHES_USAGE: "partner_daily",
    INGEST_SUITE: "ingest_daily",
    INGEST_ADDS_UP: "ingest_daily",
    NO_DATA_GAPS: "ingest_daily",
    NETWORK_SUITE: "network_daily",
    QUARANTINE_SUITE: "quarantine",
    QUARANTINE_MATCHES_INGEST: "quarantine",
}
FLAG_CHECK_TABLES: dict[str, str] = {
    FLAGS_SUITE: "anomaly_flags",
    UNKNOWN_PARTNERS_FLAGGED: "anomaly_flags",
}


def _read(
    warehouse_url: str, table: str, days: Sequence[dt.date]
) -> tuple[pl.DataFrame, list[dt.date]]:
    present = [d for d in days if warehouse.has_partition(warehouse_url, table, d)]
    return warehouse.read_days(warehouse_url, table, present), present


def _suite_check(
    check: str,
    table: str,
    frame: pl.DataFrame,
    present: Sequence[dt.date],
    days: list[dt.date],
    *,
    min_rows: int,
    parameters: dict | None = None,
    spec: dict | None = None,
) -> CheckReport:
    started = time.perf_counter()
    result = run_suite(spec or table, validation_frame(table, frame), parameters=parameters)
    findings = [
        *reconcile.partitions_have_rows(
            frame, days, present, check=check, table=table, min_rows=min_rows
        ),
        *result.findings(check, table, days),
    ]
    return CheckReport(check, table, days, findings, time.perf_counter() - started)


def _reconciliation(
    check: str, table: str, days: list[dt.date], findings: Callable[[], list[Finding]]
) -> CheckReport:
    """Run an exact reconciliation and time it like a suite."""
    started = time.perf_counter()
    return CheckReport(check, table, days, findings(), time.perf_counter() - started)


def gaps_report(gaps: dict[dt.date, str], days: list[dt.date]) -> CheckReport:
    """A warning per day without raw data (a data gap): not blocking, but never silent."""
    findings = [
        Finding(
            day,
            NO_DATA_GAPS,
            "ingest_daily",
            "day_has_raw_data",
            "",
            WARNING,
            day not in gaps,
            int(day in gaps),
            (gaps[day],) if day in gaps else (),
        )
        for day in days
    ]
    return CheckReport(NO_DATA_GAPS, "ingest_daily", days, findings)


#: The tables validate_daily_tables reads, from one commit of each day.
_DAILY_TABLES = ("usage_daily", "partner_daily", "ingest_daily", "network_daily", "quarantine")


def validate_daily_tables(warehouse_url: str, days: Iterable[dt.date]) -> dict[str, CheckReport]:
    """The five day tables of ``days``: suites and reconciliations.

    The tables are read from the same commits of each day. Days committed as data
    gaps (no raw data, no tables) are not validated as tables: the NO_DATA_GAPS check
    reports them, as a warning."""
    return _validated(warehouse_url, sorted(set(days)), _daily_suites())[0]


def _daily_suites() -> dict[str, dict]:
    return {table: load_suite(table) for table in _DAILY_TABLES}


#: The validation started by :func:`start_daily_tables`: its key and pending reply.
_EARLY: dict[str, tuple[tuple, worker.Pending]] = {}
_EARLY_LOCK = threading.Lock()


def start_daily_tables(warehouse_url: str, days: Iterable[dt.date]) -> None:
    """Start validating the day tables of ``days`` in the validation worker, without
    waiting: called as soon as a run has committed its days, so the worker validates
    them while the run records its events (1.4 s of a 0.01 year, the worker idle
    otherwise). :func:`daily_tables_checked` takes that result."""
    every_day = sorted(set(days))
    with _EARLY_LOCK:
        _EARLY.clear()
    if not every_day:
        return
    try:
        suites = _daily_suites()
    except (OSError, ValueError):  # a broken suite: the check itself reports it
        return
    pending = submit(_validated, warehouse_url, every_day, suites)
    with _EARLY_LOCK:
        _EARLY.clear()
        if pending is not None:
            _EARLY["daily"] = ((warehouse_url, tuple(every_day), suites), pending)


def daily_tables_checked(warehouse_url: str, days: Iterable[dt.date]) -> dict[str, CheckReport]:
    """:func:`validate_daily_tables` of ``days``, taken from the validation
    :func:`start_daily_tables` started when it validated exactly the tables this would
    read: the same days, suites and commit of each day of their range. Otherwise (a day
    re-committed since, no early start, its worker lost) validated now. An error of the
    early validation is raised here, like one of a validation now."""
    every_day = sorted(set(days))
    suites = _daily_suites()
    with _EARLY_LOCK:
        early = _EARLY.pop("daily", None)
    if early is not None and early[0] == (warehouse_url, tuple(every_day), suites):
        try:
            reports, commits = early[1].result()
        except worker.WorkerLost:
            pass
        else:
            if commits == _commits(warehouse_url, every_day):
                return reports
    return _validated(warehouse_url, every_day, suites)[0]


def _commits(warehouse_url: str, every_day: list[dt.date]) -> dict[dt.date, str]:
    """The commit in force of each day of ``every_day``'s range (day tables)."""
    found = warehouse.day_manifests(
        warehouse_url, warehouse.DAY_TABLES, every_day[0], every_day[-1]
    )
    return {day: manifest.commit for day, manifest in found.items()}


def _validated(
    warehouse_url: str, every_day: list[dt.date], suites: dict[str, dict]
) -> tuple[dict[str, CheckReport], dict[dt.date, str]]:
    """validate_daily_tables with the suites given, and the commit each day was read from."""
    frames, found = warehouse.read_snapshot(
        warehouse_url, {t: (every_day[0], every_day[-1]) for t in _DAILY_TABLES}
    )
    gaps = {
        d: str(m.info.get("reason", "no raw data"))
        for d, m in found.items()
        if d in set(every_day) and m.info.get("kind") == warehouse.GAP
    }
    days = [d for d in every_day if d not in gaps]

    def present(table: str) -> tuple[pl.DataFrame, list[dt.date]]:
        held = [d for d in days if d in found and table in found[d].tables]
        frame = frames[table].filter(pl.col(DATE_COLUMN).is_in(held))
        return frame, held

    usage, usage_days = present("usage_daily")
    partner, partner_days = present("partner_daily")
    ingest, ingest_days = present("ingest_daily")
    network, network_days = present("network_daily")
    quarantine, quarantine_days = present("quarantine")
    reports = {
        NO_DATA_GAPS: gaps_report(gaps, every_day),
        USAGE_SUITE: _suite_check(
            USAGE_SUITE,
            "usage_daily",
            usage,
            usage_days,
            days,
            min_rows=1,
            spec=suites["usage_daily"],
        ),
        PARTNER_SUITE: _suite_check(
            PARTNER_SUITE,
            "partner_daily",
            partner,
            partner_days,
            days,
            min_rows=1,
            spec=suites["partner_daily"],
        ),
        INGEST_SUITE: _suite_check(
            INGEST_SUITE,
            "ingest_daily",
            ingest,
            ingest_days,
            days,
            min_rows=1,
            spec=suites["ingest_daily"],
        ),
        # Most days reach no restricted network and reject no row: zero rows is normal.
        NETWORK_SUITE: _suite_check(
            NETWORK_SUITE,
            "network_daily",
            network,
            network_days,
            days,
            min_rows=0,
            spec=suites["network_daily"],
        ),
        QUARANTINE_SUITE: _suite_check(
            QUARANTINE_SUITE,
            "quarantine",
            quarantine,
            quarantine_days,
            days,
            min_rows=0,
            spec=suites["quarantine"],
        ),
    }
    reports[QUARANTINE_MATCHES_INGEST] = _reconciliation(
        QUARANTINE_MATCHES_INGEST,
        "quarantine",
        days,
        lambda: reconcile.quarantine_matches_ingest(
            quarantine, ingest, days, check=QUARANTINE_MATCHES_INGEST
        ),
    )
    reports[INGEST_ADDS_UP] = _reconciliation(
        INGEST_ADDS_UP,
        "ingest_daily",
        days,
        lambda: reconcile.ingest_adds_up(ingest, days, check=INGEST_ADDS_UP),
    )
    reports[USAGE_MATCHES_INGEST] = _reconciliation(
        USAGE_MATCHES_INGEST,
        "usage_daily",
        days,
        lambda: reconcile.usage_matches_ingest(usage, ingest, days, check=USAGE_MATCHES_INGEST),
    )
    reports[PARTNER_MATCHES_USAGE] = _reconciliation(
        PARTNER_MATCHES_USAGE,
        "partner_daily",
        days,
        lambda: reconcile.partner_matches_usage(partner, usage, days, check=PARTNER_MATCHES_USAGE),
    )
    return reports, {day: manifest.commit for day, manifest in found.items()}


def validate_flags(
    warehouse_url: str, days: Iterable[dt.date], known_partners: Iterable[str]
) -> dict[str, CheckReport]:
    """anomaly_flags of ``days``: its suite, and unknown partners covered by a flag."""
    days = sorted(set(days))
    flags, flag_days = _read(warehouse_url, "anomaly_flags", days)
    usage, _ = _read(warehouse_url, "usage_daily", days)
    reports = {
        FLAGS_SUITE: _suite_check(FLAGS_SUITE, "anomaly_flags", flags, flag_days, days, min_rows=0)
    }
    reports[UNKNOWN_PARTNERS_FLAGGED] = _reconciliation(
        UNKNOWN_PARTNERS_FLAGGED,
        "anomaly_flags",
        days,
        lambda: reconcile.unknown_partners_flagged(
            usage, flags, known_partners, days, check=UNKNOWN_PARTNERS_FLAGGED
        ),
    )
    return reports
