"""Submitting runs through the instance's run queue, as ``dagster job launch`` does.

A run is created from the code location's *remote* job (served by the workspace's code
server), so it carries the origins a run launcher needs (which location, which module),
then handed to the instance's run coordinator: queued, dequeued by the daemon, launched
by the instance's run launcher (Celery here). The submitting process never executes it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

from dagster import AssetKey, DagsterEventType, DagsterInstance, DagsterRun, DagsterRunStatus
from dagster._core.definitions.selector import JobSubsetSelector
from dagster._core.workspace.context import WorkspaceProcessContext, WorkspaceRequestContext
from dagster._core.workspace.load_target import WorkspaceFileTarget

TERMINAL = {DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED}


@contextmanager
def workspace_context(
    instance: DagsterInstance, workspace_file: Path
) -> Iterator[WorkspaceRequestContext]:
    """The code locations of ``workspace_file``, each served by its own code server."""
    with WorkspaceProcessContext(
        instance, WorkspaceFileTarget(paths=[str(workspace_file)])
    ) as process_context:
        request = process_context.create_request_context()
        errors = {
            name: entry.load_error
            for name, entry in request.get_code_location_entries().items()
            if entry.load_error is not None
        }
        if errors:
            raise RuntimeError(f"code locations failed to load: {errors}")
        yield request


def submit_job_run(
    instance: DagsterInstance,
    workspace: WorkspaceRequestContext,
    location: str,
    job_name: str,
    *,
    run_config: Mapping | None = None,
    tags: Mapping[str, str] | None = None,
) -> DagsterRun:
    """Create a run of ``job_name`` and put it on the instance's run queue."""
    code_location = workspace.get_code_location(location)
    (repository,) = code_location.get_repositories().values()
    remote_job = code_location.get_job(
        JobSubsetSelector(
            location_name=location,
            repository_name=repository.name,
            job_name=job_name,
            op_selection=None,
        )
    )
    plan = code_location.get_execution_plan(
        remote_job,
        dict(run_config or {}),
        step_keys_to_execute=None,
        known_state=None,
        instance=instance,
    ).execution_plan_snapshot
    run = instance.create_run(
        job_name=job_name,
        run_id=None,
        run_config=dict(run_config or {}),
        resolved_op_selection=None,
        step_keys_to_execute=plan.step_keys_to_execute,
        op_selection=None,
        status=None,
        root_run_id=None,
        parent_run_id=None,
        tags=dict(tags or {}),
        job_snapshot=remote_job.job_snapshot,
        execution_plan_snapshot=plan,
        parent_job_snapshot=remote_job.parent_job_snapshot,
        remote_job_origin=remote_job.get_remote_origin(),
        job_code_origin=remote_job.get_python_origin(),
        asset_selection=None,
        asset_check_selection=None,
        asset_graph=repository.asset_graph,
    )
    return instance.submit_run(run.run_id, workspace)


def wait_for_runs(
    instance: DagsterInstance, run_ids: Sequence[str], timeout: float = 180
) -> dict[str, DagsterRun]:
    """Wait until every run is finished; returns them by id. Raises on timeout, naming
    the runs still going and their status."""
    deadline = time.monotonic() + timeout
    while True:
        runs = {run_id: instance.get_run_by_id(run_id) for run_id in run_ids}
        pending = {k: r.status.value for k, r in runs.items() if r.status not in TERMINAL}
        if not pending:
            return runs
        if time.monotonic() > deadline:
            raise TimeoutError(f"runs not finished after {timeout:.0f}s: {pending}")
        time.sleep(0.5)


def engine_messages(instance: DagsterInstance, run_id: str) -> list[str]:
    return [record.message or "" for record in instance.all_logs(run_id)]


def failure_summary(instance: DagsterInstance, runs: Mapping[str, DagsterRun]) -> str:
    """For each run that did not succeed: its status and its error events, one line each."""
    lines = []
    for run_id, run in runs.items():
        if run.status == DagsterRunStatus.SUCCESS:
            continue
        lines.append(f"run {run_id} {run.status.value}:")
        for record in instance.all_logs(run_id):
            event = record.dagster_event
            if event is None or event.event_type not in {
                DagsterEventType.STEP_FAILURE,
                DagsterEventType.RUN_FAILURE,
                DagsterEventType.ENGINE_EVENT,
            }:
                continue
            error = getattr(event.event_specific_data, "error", None)
            detail = error.message.strip() if error else ""
            lines.append(f"  {event.event_type.name}: {record.message} {detail}".rstrip())
    return "\n".join(lines)


#: Milestones of a run through the queue and the launcher, in order.
MILESTONES: dict[str, DagsterEventType | str] = {
    "enqueued": DagsterEventType.RUN_ENQUEUED,
    "launched": DagsterEventType.RUN_STARTING,
    "process_started": "Started process for run",  # engine event written by the worker
    "run_started": DagsterEventType.RUN_START,
    "step_started": DagsterEventType.STEP_START,
    "step_ended": DagsterEventType.STEP_SUCCESS,
    "run_ended": DagsterEventType.RUN_SUCCESS,
}


def run_timeline(instance: DagsterInstance, run_id: str) -> dict[str, float]:
    """Timestamp (epoch seconds) of each milestone of ``run_id`` found in its event log."""
    found: dict[str, float] = {}
    for record in instance.all_logs(run_id):
        event = record.dagster_event
        if event is None:
            continue
        for name, marker in MILESTONES.items():
            if name in found:
                continue
            if isinstance(marker, DagsterEventType):  # (a str Enum: test it first)
                hit = event.event_type == marker
            else:
                hit = event.event_type == DagsterEventType.ENGINE_EVENT and (
                    record.message or ""
                ).startswith(marker)
            if hit:
                found[name] = record.timestamp
    return found


def submit_asset_backfill(
    instance: DagsterInstance,
    workspace: WorkspaceRequestContext,
    asset_keys: Sequence[AssetKey],
    partition_names: Sequence[str],
    *,
    tags: Mapping[str, str] | None = None,
    title: str | None = None,
) -> str:
    """Request an asset backfill, as the UI's "Materialize > backfill" does; returns its id.

    The daemon's backfill loop (every 30 s, fixed in Dagster 1.13) splits it into runs
    by each asset's backfill policy, submits them to the run queue once their upstream
    partitions are materialised, and shows them in the UI as one backfill.
    """
    from dagster._core.execution.backfill import PartitionBackfill
    from dagster._core.utils import make_new_backfill_id
    from dagster._time import get_current_timestamp

    backfill = PartitionBackfill.from_asset_partitions(
        backfill_id=make_new_backfill_id(),
        asset_graph=workspace.asset_graph,
        partition_names=list(partition_names),
        asset_selection=list(asset_keys),
        backfill_timestamp=get_current_timestamp(),
        tags=dict(tags or {}),
        dynamic_partitions_store=instance,
        all_partitions=False,
        title=title,
        description=None,
        run_config=None,
    )
    instance.add_backfill(backfill)
    return backfill.backfill_id


def wait_for_backfill(instance: DagsterInstance, backfill_id: str, timeout: float = 300):
    """Wait until the backfill leaves REQUESTED; returns it with its runs."""
    from dagster._core.execution.backfill import BulkActionStatus
    from dagster._core.storage.dagster_run import RunsFilter

    deadline = time.monotonic() + timeout
    while True:
        backfill = instance.get_backfill(backfill_id)
        if backfill.status != BulkActionStatus.REQUESTED:
            runs = instance.get_runs(filters=RunsFilter.for_backfill(backfill_id))
            return backfill, runs
        if time.monotonic() > deadline:
            raise TimeoutError(f"backfill {backfill_id} still {backfill.status} after {timeout}s")
        time.sleep(1)
