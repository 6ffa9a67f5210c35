"""One writer per day of a warehouse: runs that overlap are refused, abandoned ones closed.

Two backfills of overlapping days into one warehouse would race: each day's commit is
atomic, but the flags and checks of one could read the other's half-finished range. So
a run that writes days first looks in the Dagster instance for another run in progress
whose days overlap its own and that writes the same warehouse, and refuses, naming it.

A run executed in a process that was killed (``kill -9``, a closed laptop) stays
STARTED in the instance forever and would block every later run. callaudit tags the
runs it executes in its own process with the host and process id; a STARTED run of this
host whose process is gone is marked failed, with that reason, before the check. Runs
launched by a daemon or on workers are Dagster's run monitoring's to close.

The instance sees only its own runs: across instances and machines, the day tables'
step also holds a lock object per day in the warehouse while it writes
(callaudit.writer_lock, :func:`holding_days`), and is refused, naming the holder, when
another live writer holds one of its days.
"""

import datetime as dt
import os
import socket
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

import dagster as dg

from callaudit import writer_lock
from callaudit.settings import Settings

#: Tags of a run executed in the process of a callaudit command.
HOST_TAG = "callaudit/host"
PID_TAG = "callaudit/pid"
# Dagster's own tags (see pipelines/tags.py, which checks them against Dagster).
_PARTITION = "dagster/partition"
_RANGE_START = "dagster/asset_partition_range_start"
_RANGE_END = "dagster/asset_partition_range_end"

_IN_PROGRESS = [dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.STARTING]


def process_tags() -> dict[str, str]:
    """Tags that say which process executes a run (for runs executed in process)."""
    return {HOST_TAG: socket.gethostname(), PID_TAG: str(os.getpid())}


def close_abandoned_runs(instance: dg.DagsterInstance) -> list[str]:
    """Mark failed the runs of this host left STARTED by a process that no longer exists;
    returns one line per run closed."""
    closed = []
    host = socket.gethostname()
    for run in instance.get_runs(filters=dg.RunsFilter(statuses=_IN_PROGRESS)):
        pid = run.tags.get(PID_TAG, "")
        if (
            run.tags.get(HOST_TAG) != host
            or not pid.isdigit()
            or writer_lock.process_alive(int(pid))
        ):
            continue
        reason = (
            f"the process that executed it (pid {pid} on {host}) is gone: killed or crashed; "
            "its committed days are whole, re-run the rest"
        )
        instance.report_run_failed(run, message=f"callaudit: {reason}")
        closed.append(f"run {run.run_id[:8]} ({_span_text(run)}) was left STARTED: {reason}")
    return closed


def run_days(tags: dict[str, str]) -> tuple[dt.date, dt.date] | None:
    """First and last day a run covers, from its partition tags (None: not a daily run)."""
    try:
        if _PARTITION in tags:
            day = dt.date.fromisoformat(tags[_PARTITION])
            return day, day
        if _RANGE_START in tags and _RANGE_END in tags:
            return dt.date.fromisoformat(tags[_RANGE_START]), dt.date.fromisoformat(
                tags[_RANGE_END]
            )
    except ValueError:  # a yearly partition ("2022") or another key
        return None
    return None


def _span_text(run: dg.DagsterRun) -> str:
    span = run_days(run.tags)
    return f"{span[0]}..{span[1]}" if span else run.job_name


def _warehouse_of(run: dg.DagsterRun) -> str | None:
    """The warehouse a run's config names (None: it reads CALLAUDIT_WAREHOUSE)."""
    config = (run.run_config or {}).get("resources", {}).get("audit", {}).get("config", {})
    return config.get("warehouse")


def _same(a: str | None, b: str) -> bool:
    if a is None:  # resolved from its environment: assume the same, to be safe
        return True
    norm = lambda u: u.rstrip("/") if "://" in u else os.path.abspath(u)  # noqa: E731
    return norm(a) == norm(b)


def overlapping_runs(
    instance: dg.DagsterInstance,
    days: Iterable[dt.date],
    warehouse: str,
    *,
    this_run: str | None = None,
) -> list[str]:
    """Runs in progress, other than ``this_run``, that write any of ``days`` into
    ``warehouse``: one line each, naming the run, its days, its age and its process."""
    days = sorted(days)
    if not days:
        return []
    found = []
    for run in instance.get_runs(filters=dg.RunsFilter(statuses=_IN_PROGRESS)):
        span = run_days(run.tags)
        if run.run_id == this_run or span is None or not _same(_warehouse_of(run), warehouse):
            continue
        if span[1] < days[0] or span[0] > days[-1]:
            continue
        where = (
            f", pid {run.tags[PID_TAG]} on {run.tags.get(HOST_TAG, '?')}"
            if PID_TAG in run.tags
            else ""
        )
        found.append(f"run {run.run_id[:8]} of {span[0]}..{span[1]}{where}")
    return found


def run_ended(instance: dg.DagsterInstance) -> writer_lock.Ended:
    """Why a lock holder's run is over, as ``instance`` knows it: a run of this instance
    that failed, succeeded or was canceled holds nothing any more (a worker killed on
    another host, its run failed by run monitoring and retried elsewhere)."""

    def ended(holder: writer_lock.Holder) -> str | None:
        run = instance.get_run_by_id(holder.run_id) if holder.run_id else None
        if run is None or not run.is_finished:
            return None  # running, or another instance's: only its age can tell
        return f"its run {run.run_id[:8]} ended {run.status.value}"

    return ended


@contextmanager
def holding_days(
    context: dg.AssetExecutionContext, settings: Settings, days: list[dt.date]
) -> Iterator[None]:
    """Hold the warehouse's writer lock of ``days`` while the block writes them; a day
    another live writer holds (from any instance or machine) fails the step, naming it."""
    if PID_TAG not in context.run.tags:
        # A run a daemon launched (DefaultRunLauncher: a subprocess of the code server)
        # carries no process tags, and Dagster 1.13's run monitoring cannot tell that
        # launcher's dead workers (it has no check_run_worker_health): tag it here, so a
        # killed one is closed like the CLI's. The step runs in the run's own process
        # (the code location's executor is in-process), so this pid is the run's.
        context.instance.add_run_tags(context.run.run_id, process_tags())
    notes: list[str] = []
    try:
        with writer_lock.holding(
            settings.warehouse,
            days,
            f"run {context.run.run_id[:8]}",
            stale_after=settings.writer_lock_stale_seconds,
            notes=notes,
            run_id=context.run.run_id,
            ended=run_ended(context.instance),
        ):
            for note in notes:
                context.log.warning(note)
            yield
    except writer_lock.DaysLocked as exc:
        raise dg.Failure(
            description=f"refusing to write days {days[0]}..{days[-1]}: {exc}"
        ) from None
