"""validation_results: what every check found, per day, kept in the warehouse.

A backfill validates a range of days in one run; Dagster records one check result per
run, so the per-day answer lives here too: one partition per day, one row per
expectation judged that day. Several checks share a day's partition: each one replaces
only its own rows.
"""

import datetime as dt
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import polars as pl

from callaudit import warehouse
from callaudit.schema import DATE_COLUMN, Column, Table
from callaudit.validation.outcome import CRITICAL, WARNING, Finding

VALIDATION_RESULTS = Table(
    name="validation_results",
    description="One row per expectation or reconciliation judged on a day, by the asset checks.",
    grain=("check", "expectation", "column"),
    columns=(
        Column("check", pl.String(), "Asset check that judged it."),
        Column("table", pl.String(), "Table validated."),
        Column("expectation", pl.String(), "GX expectation type or reconciliation name."),
        Column("column", pl.String(), "Column(s) it is about, if any."),
        Column("severity", pl.String(), "critical, warning or info."),
        Column("success", pl.Boolean(), "Whether the day met it."),
        Column("unexpected_count", pl.Int64(), "Rows of the day that did not."),
        Column("sample", pl.String(), "A few offending values, newline separated."),
    ),
)


#: Days committed at once by :func:`record_findings`.
_WRITERS = 4


def findings_frame(findings: Iterable[Finding]) -> pl.DataFrame:
    """Findings as rows of validation_results, with their ``date``: built by column (a
    0.01 year's daily checks have 60,000 findings; a dict per row cost 1.2-2x the CPU)."""
    findings = list(findings)
    schema = {DATE_COLUMN: pl.Date(), **VALIDATION_RESULTS.schema}
    return pl.DataFrame(
        {
            DATE_COLUMN: [f.day for f in findings],
            "check": [f.check for f in findings],
            "table": [f.table for f in findings],
            "expectation": [f.expectation for f in findings],
            "column": [f.column for f in findings],
            "severity": [f.severity for f in findings],
            "success": [f.success for f in findings],
            "unexpected_count": [f.unexpected_count for f in findings],
            "sample": ["\n".join(f.sample) for f in findings],
        },
        schema=schema,
    )


def record_findings(warehouse_url: str, findings: Sequence[Finding], checks: Iterable[str]) -> int:
    """Replace the rows of ``checks`` in each day's partition; returns days written.

    The days' earlier rows are read in one batch and each day is committed once with
    the info its manifest had: a year's checks rewrite 365 partitions, and reading them
    one by one (four manifest reads and a file per day) took 1.5-1.8 s of the 2.6 s
    daily checks of a 0.01 year."""
    checks = sorted(set(checks))
    frame = findings_frame(findings)
    days = sorted({f.day for f in findings})
    if not days:
        _note_recorded(checks)
        return 0
    earlier, manifests = warehouse.read_snapshot(
        warehouse_url, {VALIDATION_RESULTS: (days[0], days[-1])}
    )
    kept = earlier[VALIDATION_RESULTS.name].filter(
        pl.col(DATE_COLUMN).is_in(days) & ~pl.col("check").is_in(checks)
    )
    kept_by_day = kept.partition_by(DATE_COLUMN, as_dict=True, include_key=False)
    new_by_day = frame.partition_by(DATE_COLUMN, as_dict=True, include_key=False)

    def commit(day: dt.date) -> None:
        manifest = manifests.get(day)
        kept_rows = kept_by_day.get((day,))
        rows = new_by_day[(day,)]
        warehouse.commit_day(
            warehouse_url,
            VALIDATION_RESULTS.name,
            day,
            {VALIDATION_RESULTS: rows if kept_rows is None else pl.concat([kept_rows, rows])},
            info=dict(manifest.info) if manifest else {},
        )

    # Days are independent commits, mostly file writes that release the GIL.
    with ThreadPoolExecutor(_WRITERS) as pool:
        for _ in pool.map(commit, days):
            pass
    _note_recorded(checks)
    return len(days)


#: How many times this process has recorded findings, and the number of each check's
#: last recording (callaudit.report.early waits for a run's flag checks to have recorded
#: theirs). One entry a check, however long the process lives.
_RECORDINGS = [0]
_LAST_RECORDED: dict[str, int] = {}
_RECORDED_CHANGED = threading.Condition()


def _note_recorded(checks: Iterable[str]) -> None:
    with _RECORDED_CHANGED:
        _RECORDINGS[0] += 1
        for check in checks:
            _LAST_RECORDED[check] = _RECORDINGS[0]
        _RECORDED_CHANGED.notify_all()


def recorded_count() -> int:
    """How many times this process has recorded findings so far."""
    with _RECORDED_CHANGED:
        return _RECORDINGS[0]


def wait_recorded(
    checks: Iterable[str],
    since: int,
    timeout: float,
    cancelled: threading.Event | None = None,
) -> bool:
    """Wait until each of ``checks`` has recorded its findings in this process after its
    first ``since`` recordings; False after ``timeout`` seconds or once ``cancelled``."""
    wanted = set(checks)
    deadline = time.monotonic() + timeout
    with _RECORDED_CHANGED:
        while any(_LAST_RECORDED.get(check, 0) <= since for check in wanted):
            left = deadline - time.monotonic()
            if left <= 0 or (cancelled is not None and cancelled.is_set()):
                return False
            _RECORDED_CHANGED.wait(min(left, 0.1))
    return True


def failed_days(
    warehouse_url: str, days: Iterable[dt.date], severity: str = CRITICAL
) -> dict[dt.date, list[str]]:
    """Days whose recorded validation failed, with the failed ``check: expectation`` labels.

    For the CLI after a backfill and for the report, which must not state numbers from a
    day that failed its checks.
    """
    results = warehouse.read_days(warehouse_url, VALIDATION_RESULTS, days)
    failed = results.filter(~pl.col("success") & (pl.col("severity") == severity))
    out: dict[dt.date, list[str]] = {}
    for day, check, expectation, column in failed.select(
        DATE_COLUMN, "check", "expectation", "column"
    ).iter_rows():
        label = f"{check}: {expectation}" + (f"({column})" if column else "")
        out.setdefault(day, []).append(label)
    return out


@dataclass(frozen=True)
class CheckDays:
    """One check over a range: the days it judged, failed (critical) and warned."""

    check: str
    table: str
    days: int
    failed_days: tuple[dt.date, ...]
    warned_days: tuple[dt.date, ...]


@dataclass(frozen=True)
class RangeValidation:
    """What validation_results says about every day of a range: the report's account of
    its data's validation, over the whole range rather than the last run's days."""

    days_in_range: int
    validated_days: tuple[dt.date, ...]  # every daily check recorded its findings
    not_validated_days: tuple[dt.date, ...]  # a day with data and no (or partial) record
    failed_days: dict[dt.date, list[str]]  # critical failures: check: expectation(column)
    warned_days: dict[dt.date, list[str]]  # warning failures
    checks: tuple[CheckDays, ...]

    @property
    def days_validated(self) -> int:
        return len(self.validated_days)

    @property
    def passed(self) -> bool:
        return not self.failed_days and not self.not_validated_days

    def as_dict(self) -> dict:
        """summary.json ``validation``."""
        return {
            "days_in_range": self.days_in_range,
            "days_validated": self.days_validated,
            "failed_days": [d.isoformat() for d in sorted(self.failed_days)],
            "warned_days": [d.isoformat() for d in sorted(self.warned_days)],
            # What failed or warned on each of those days: "check: expectation(column)".
            "failures": {d.isoformat(): v for d, v in sorted(self.failed_days.items())},
            "warnings": {d.isoformat(): v for d, v in sorted(self.warned_days.items())},
            "not_validated_days": [d.isoformat() for d in self.not_validated_days],
            "checks": [
                {
                    "check": c.check,
                    "table": c.table,
                    "days": c.days,
                    "failed_days": len(c.failed_days),
                    "warned_days": len(c.warned_days),
                }
                for c in self.checks
            ],
        }


def daily_check_names() -> tuple[str, ...]:
    """The checks that judge every day (assets/checks.py's daily and flag checks)."""
    from callaudit.validation import table_checks as t

    return (
        t.INGEST_SUITE,
        t.INGEST_ADDS_UP,
        t.USAGE_SUITE,
        t.USAGE_MATCHES_INGEST,
        t.PARTNER_SUITE,
        t.PARTNER_MATCHES_USAGE,
        t.NETWORK_SUITE,
        t.QUARANTINE_SUITE,
        t.QUARANTINE_MATCHES_INGEST,
        t.FLAGS_SUITE,
        t.UNKNOWN_PARTNERS_FLAGGED,
    )


def _labels(frame: pl.DataFrame) -> dict[dt.date, list[str]]:
    out: dict[dt.date, list[str]] = {}
    for day, check, expectation, column in frame.select(
        DATE_COLUMN, "check", "expectation", "column"
    ).iter_rows():
        out.setdefault(day, []).append(
            f"{check}: {expectation}" + (f"({column})" if column else "")
        )
    return out


def range_validation(
    warehouse_url: str,
    days: Sequence[dt.date],
    expected: Sequence[str] | None = None,
    *,
    assume_passed: Mapping[str, str] | None = None,
) -> RangeValidation:
    """Read validation_results for ``days`` (the days of a report that have data): a day
    is validated when every one of the ``expected`` checks (default: the daily ones)
    recorded its findings for it.

    ``assume_passed`` (check -> table): checks taken to have met everything on every
    day, whatever they recorded. Only a guess, of the validation once checks still
    running have recorded, for laying out a report before they have
    (callaudit.report.early); never what a report says."""
    expected = tuple(expected if expected is not None else daily_check_names())
    results = warehouse.read_days(warehouse_url, VALIDATION_RESULTS, days)
    if assume_passed:
        passed = pl.DataFrame(
            {
                DATE_COLUMN: [d for d in days for _ in assume_passed],
                "check": [c for _ in days for c in assume_passed],
                "table": [t for _ in days for t in assume_passed.values()],
                "success": [True] * (len(days) * len(assume_passed)),
            },
            schema={
                DATE_COLUMN: pl.Date(),
                "check": pl.String(),
                "table": pl.String(),
                "success": pl.Boolean(),
            },
        )
        results = pl.concat(
            [results.filter(~pl.col("check").is_in(list(assume_passed))), passed],
            how="diagonal",
        )
    recorded = results.group_by(DATE_COLUMN).agg(pl.col("check").unique())
    checks_by_day = {d: set(c) for d, c in recorded.iter_rows()}
    validated = tuple(d for d in sorted(days) if set(expected) <= checks_by_day.get(d, set()))
    failures = results.filter(~pl.col("success"))
    per_check = []
    for (check, table), rows in results.sort(DATE_COLUMN).group_by(
        ["check", "table"], maintain_order=True
    ):
        failed = rows.filter(~pl.col("success"))
        per_check.append(
            CheckDays(
                check=check,
                table=table,
                days=rows[DATE_COLUMN].n_unique(),
                failed_days=tuple(
                    sorted(set(failed.filter(pl.col("severity") == CRITICAL)[DATE_COLUMN]))
                ),
                warned_days=tuple(
                    sorted(set(failed.filter(pl.col("severity") == WARNING)[DATE_COLUMN]))
                ),
            )
        )
    return RangeValidation(
        days_in_range=len(set(days)),
        validated_days=validated,
        not_validated_days=tuple(d for d in sorted(set(days)) if d not in set(validated)),
        failed_days=_labels(failures.filter(pl.col("severity") == CRITICAL)),
        warned_days=_labels(failures.filter(pl.col("severity") == WARNING)),
        checks=tuple(sorted(per_check, key=lambda c: (c.table, c.check))),
    )
