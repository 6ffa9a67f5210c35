"""Backfills through Dagster: a range of days as a few ranged runs, then the reports.

Each chunk is one Dagster run over a partition range (recorded in the instance, so the
UI shows it and its partitions), which processes its days two at a time and writes one
partition file per day. Chunks run in date order, so the flags of a chunk find the
history written by the chunks before it. Re-running is safe: partitions are replaced.
"""

import datetime as dt
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import dagster as dg

from callaudit.assets.flags import BACKFILL_END_TAG
from callaudit.assets.resources import AUDIT_RESOURCE_KEY
from callaudit.assets.run_guard import process_tags
from callaudit.dates import days_between
from callaudit.incremental import runs_of
from callaudit.pipelines.jobs import DAILY_JOB
from callaudit.pipelines.tags import (
    KIND_TAG,
    PARTITION_RANGE_END_TAG,
    PARTITION_RANGE_START_TAG,
)
from callaudit.settings import Settings


@dataclass
class RunOutcome:
    """One Dagster run launched by a backfill."""

    run_id: str
    label: str
    success: bool
    seconds: float
    error: str = ""


@dataclass
class BackfillOutcome:
    runs: list[RunOutcome] = field(default_factory=list)

    @property
    def success(self) -> bool:
        return all(r.success for r in self.runs)

    @property
    def failed(self) -> list[RunOutcome]:
        return [r for r in self.runs if not r.success]


def run_config_for(settings: Settings, *, progress: bool = False) -> dict:
    """Run config that pins every run-time setting of the audit resource, so a run reads
    exactly the locations its submitter resolved, wherever it executes. The reviews are
    pinned where the submitter finds them (CALLAUDIT_REVIEWS, or the file beside
    contracts.yaml), so a worker with another environment reads the same file."""
    fields = {
        "archive": settings.archive,
        "contracts": settings.contracts,
        "reviews": settings.reviews_location,
        "warehouse": settings.warehouse,
        "reports": settings.reports,
        "skip_corrupt_files": settings.skip_corrupt_files,
        "fail_on_gaps": settings.fail_on_gaps,
        "workers": settings.workers,
        "progress": progress,
    }
    return {"resources": {AUDIT_RESOURCE_KEY: {"config": fields}}}


def _quiet_logging() -> dict:
    """Nothing of the run's log on the console: the command says what a run did or why
    it failed in one line of its own (``RunOutcome.error``), and Dagster's ERROR lines
    (a stack trace, the same reason twice) would bury it. The full log stays in the
    run's event log in the instance (the UI's Runs page)."""
    return {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}


def _failed_checks(result: dg.ExecuteInProcessResult) -> list[str]:
    """What the blocking checks that failed with ERROR said: the check, the first day,
    expectation, column and offending value (see CheckReport.summary)."""
    said = []
    for evaluation in result.get_asset_check_evaluations():
        severity = getattr(evaluation.severity, "value", evaluation.severity)
        if not evaluation.passed and severity == "ERROR":
            said.append(
                f"{evaluation.asset_key.to_user_string()}: "
                f"{evaluation.description or evaluation.check_name}"
            )
    return said


def _one_line(message: str) -> str:
    """The reason in a message, on one line: a Dagster ``Failure``'s class path dropped,
    the first line of a multi-line library error (the others show the expression)."""
    message = message.strip()
    for prefix in ("dagster._core.definitions.events.Failure: ", "dagster.Failure: "):
        message = message.removeprefix(prefix)
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    return lines[0] if lines else ""


def _first_error(result: dg.ExecuteInProcessResult) -> str:
    checks = _failed_checks(result)
    if checks:
        return "blocking check failed: " + "; ".join(checks)
    for event in result.all_events:
        if event.is_step_failure or event.event_type_value == "RUN_FAILURE":
            data = event.event_specific_data
            error = getattr(data, "error", None)
            if error is not None:
                message = error.message
                cause = error.cause
                while cause is not None:  # the deepest cause is the user's error
                    message = cause.message or message
                    cause = cause.cause
                return _one_line(message) or "run failed"
            if event.message:
                return _one_line(event.message)
    return "run failed"


def run_job(
    defs: dg.Definitions,
    job_name: str,
    instance: dg.DagsterInstance,
    *,
    config: dict,
    tags: dict[str, str] | None = None,
    partition_key: str | None = None,
    label: str = "",
    quiet: bool = True,
) -> RunOutcome:
    """Execute a job of the code location in this process, recorded in ``instance``."""
    job = defs.resolve_job_def(job_name)
    run_config = {**config, **(_quiet_logging() if quiet else {})}
    started = time.perf_counter()
    result = job.execute_in_process(
        run_config=run_config,
        instance=instance,
        # which process executes it: a run left STARTED by a killed process is closed later
        tags={**(tags or {}), **process_tags()},
        partition_key=partition_key,
        raise_on_error=False,
    )
    return RunOutcome(
        run_id=result.run_id,
        label=label or job_name,
        success=result.success,
        seconds=time.perf_counter() - started,
        error="" if result.success else _first_error(result),
    )


def backfill_days(
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    start: dt.date,
    end: dt.date,
    *,
    config: dict,
    chunk_days: int,
    job_name: str = DAILY_JOB,
    on_run: Callable[[RunOutcome], None] | None = None,
    stop_on_failure: bool = True,
    days: Sequence[dt.date] | None = None,
) -> BackfillOutcome:
    """Materialise the daily job over ``start..end`` in ranged runs of ``chunk_days``;
    ``days``: only those of the range (an incremental run, callaudit.incremental), in
    runs of consecutive days."""
    outcome = BackfillOutcome()
    todo = days_between(start, end) if days is None else [d for d in days if start <= d <= end]
    for chunk, block_end in runs_of(todo, chunk_days):
        first, last = chunk[0].isoformat(), chunk[-1].isoformat()
        tags = {
            PARTITION_RANGE_START_TAG: first,
            PARTITION_RANGE_END_TAG: last,
            KIND_TAG: "backfill",
            # Flag days after a chunk that depend on it are left to the later chunks of
            # its block of consecutive days; those after the block it recomputes itself.
            BACKFILL_END_TAG: block_end.isoformat(),
        }
        run = run_job(defs, job_name, instance, config=config, tags=tags, label=f"{first}..{last}")
        outcome.runs.append(run)
        if on_run is not None:
            on_run(run)
        if not run.success and stop_on_failure:
            break
    return outcome
