"""Runs queued on the instance are executed by Celery workers (CeleryRunLauncher).

The stack is real (tests/scaleout/conftest.py): PostgreSQL storage, a Redis broker,
Celery task states in PostgreSQL (in Redis with CALLAUDIT_CELERY_BACKEND=redis),
dagster-daemon dequeuing runs, two Celery workers started with the command of
deploy/celery/README.md. Runs are submitted through the run queue as ``dagster job
launch`` does, or as an asset backfill as the UI does; nothing executes in the test
process. ``pytest -s`` prints where a run's time goes.
"""

from __future__ import annotations

import json
import os
import signal
import time
from itertools import combinations

import pytest
from dagster import AssetKey, DagsterInstance, DagsterRunStatus
from dagster._core.execution.backfill import BulkActionStatus
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
)

from tests.scaleout.runs import (
    engine_messages,
    failure_summary,
    run_timeline,
    submit_asset_backfill,
    submit_job_run,
    wait_for_backfill,
    wait_for_runs,
    workspace_context,
)

pytestmark = pytest.mark.e2e


def _records(stack, run_ids) -> dict[str, dict]:
    return {
        run_id: json.loads((stack.toy_out / f"{run_id}.json").read_text()) for run_id in run_ids
    }


def _overlap(a: dict, b: dict) -> float:
    return min(a["ended"], b["ended"]) - max(a["started"], b["started"])


@pytest.fixture(scope="module")
def instance(celery_stack):
    with DagsterInstance.get() as instance:
        yield instance


@pytest.fixture(scope="module")
def workspace(celery_stack, instance):
    with workspace_context(instance, celery_stack.workspace) as context:
        yield context


def test_queued_runs_run_on_both_workers_at_the_same_time(celery_stack, instance, workspace):
    submitted = time.time()
    runs = [
        submit_job_run(instance, workspace, "toy", "sleepy_job", tags={"test": "fan-out"})
        for _ in range(4)
    ]
    assert all(run.status == DagsterRunStatus.QUEUED for run in runs)
    finished = wait_for_runs(instance, [run.run_id for run in runs], timeout=120)
    assert all(r.status == DagsterRunStatus.SUCCESS for r in finished.values()), (
        failure_summary(instance, finished) + f"\nlogs in {celery_stack.logs}"
    )

    records = _records(celery_stack, finished)
    assert {r["worker"] for r in records.values()} == {"w1", "w2"}
    across_workers = [
        _overlap(a, b) for a, b in combinations(records.values(), 2) if a["worker"] != b["worker"]
    ]
    assert max(across_workers) > 1.0, "no two runs on different workers overlapped"
    # Never two runs at once on one worker (one slot each), and a fresh process per run.
    for a, b in combinations(records.values(), 2):
        if a["worker"] == b["worker"]:
            assert _overlap(a, b) <= 0
    assert len({r["pid"] for r in records.values()}) == len(records)
    # The worker's environment reaches the run: Polars sized by POLARS_MAX_THREADS.
    assert {r["polars_threads"] for r in records.values()} == {1}
    for run_id in finished:
        messages = engine_messages(instance, run_id)
        assert "[CeleryRunLauncher] Celery task has been forwarded to the broker." in messages

    _report_overhead(instance, finished, records, submitted, celery_stack)


def _report_overhead(instance, runs, records, submitted, stack) -> None:
    """Print where a run's time goes on top of its op (shown with ``pytest -s``)."""
    startup = {k: round(v, 2) for k, v in stack.startup_seconds.items()}
    lines = [f"stack start-up (s): {json.dumps(startup)}"]
    for run_id in runs:
        t = run_timeline(instance, run_id)
        op = records[run_id]
        steps = [
            ("queued", t["enqueued"], t["launched"]),
            ("launched->process", t["launched"], t["process_started"]),
            ("process->op", t["process_started"], op["started"]),
            ("op", op["started"], op["ended"]),
            ("op->run end", op["ended"], t["run_ended"]),
        ]
        spans = ", ".join(f"{name} {end - begin:.2f}" for name, begin, end in steps)
        lines.append(f"run {run_id[:8]} on {op['worker']} (s): {spans}")
    last_end = max(run_timeline(instance, r)["run_ended"] for r in runs)
    lines.append(f"{len(runs)} runs of a 3 s op, submit to last end: {last_end - submitted:.2f}s")
    print("\n" + "\n".join(lines))


def test_partition_range_chunks_run_as_ranged_runs_on_the_workers(
    celery_stack, instance, workspace
):
    days = [f"2022-01-{d:02d}" for d in range(1, 16)]
    chunks = [days[i : i + 4] for i in range(0, len(days), 4)]
    runs = [
        submit_job_run(
            instance,
            workspace,
            "toy",
            "toy_daily_job",
            tags={
                ASSET_PARTITION_RANGE_START_TAG: chunk[0],
                ASSET_PARTITION_RANGE_END_TAG: chunk[-1],
            },
        )
        for chunk in chunks
    ]
    finished = wait_for_runs(instance, [run.run_id for run in runs], timeout=120)
    assert all(r.status == DagsterRunStatus.SUCCESS for r in finished.values()), (
        failure_summary(instance, finished) + f"\nlogs in {celery_stack.logs}"
    )
    records = _records(celery_stack, finished)
    assert [records[run.run_id]["partition_keys"] for run in runs] == chunks
    assert {r["worker"] for r in records.values()} == {"w1", "w2"}
    materialized = instance.get_materialized_partitions(AssetKey("toy_daily"))
    assert set(days) <= materialized


def test_a_run_whose_process_is_killed_fails_and_is_retried_on_a_worker(
    celery_stack, instance, workspace
):
    run = submit_job_run(
        instance,
        workspace,
        "toy",
        "sleepy_job",
        run_config={"ops": {"sleep_and_record": {"config": {"seconds": 8.0}}}},
    )
    pid = _run_process_pid(instance, run.run_id, timeout=60)
    time.sleep(1.0)  # inside the op's sleep
    os.kill(pid, signal.SIGKILL)

    # The worker marks the task FAILURE (WorkerLostError), run monitoring fails the run,
    # run_retries re-executes it as a new run in the same group.
    failed = wait_for_runs(instance, [run.run_id], timeout=60)[run.run_id]
    assert failed.status == DagsterRunStatus.FAILURE
    assert any(
        "Detected run worker status FAILED" in m for m in engine_messages(instance, run.run_id)
    )
    retry = _retry_of(instance, run.run_id, timeout=60)
    assert retry.tags.get("dagster/retry_number") == "1"
    finished = wait_for_runs(instance, [retry.run_id], timeout=60)
    assert finished[retry.run_id].status == DagsterRunStatus.SUCCESS, failure_summary(
        instance, finished
    )
    record = _records(celery_stack, [retry.run_id])[retry.run_id]
    assert record["pid"] != pid
    assert not (celery_stack.toy_out / f"{run.run_id}.json").exists()


def _retry_of(instance, run_id: str, timeout: float):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        _, group = instance.get_run_group(run_id)
        children = [r for r in group if r.parent_run_id == run_id]
        if children:
            return children[0]
        time.sleep(0.5)
    raise TimeoutError(f"no retry of run {run_id} within {timeout}s")


def _run_process_pid(instance, run_id: str, timeout: float) -> int:
    """The pid of the process executing ``run_id``, once its op has started."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pid = None
        started = False
        for record in instance.all_logs(run_id):
            message = record.message or ""
            if message.startswith("Started process for run (pid: "):
                pid = int(message.split("pid: ")[1].rstrip(")."))
            if record.dagster_event and record.dagster_event.event_type_value == "STEP_START":
                started = True
        if pid and started:
            return pid
        time.sleep(0.2)
    raise TimeoutError(f"run {run_id} did not start its step within {timeout}s")


def test_an_asset_backfill_runs_its_chunks_on_the_workers_after_their_history(
    celery_stack, instance, workspace
):
    days = [f"2022-01-{d:02d}" for d in range(1, 16)]
    backfill_id = submit_asset_backfill(
        instance,
        workspace,
        [AssetKey("toy_daily"), AssetKey("toy_history")],
        days,
        tags={"test": "asset-backfill"},
        title="toy: 15 days",
    )
    backfill, runs = wait_for_backfill(instance, backfill_id, timeout=240)
    by_id = {run.run_id: run for run in runs}
    assert backfill.status == BulkActionStatus.COMPLETED_SUCCESS, failure_summary(instance, by_id)
    records = _records(celery_stack, by_id)
    assert {r["worker"] for r in records.values()} == {"w1", "w2"}
    # One run per chunk of four days (the assets' backfill policy), per asset.
    ended_day = {}  # when toy_daily of each day was written
    history_runs = []
    for run in runs:
        (asset,) = run.asset_selection
        record = records[run.run_id]
        assert len(record["partition_keys"]) <= 4
        if asset == AssetKey("toy_daily"):
            ended_day.update(dict.fromkeys(record["partition_keys"], record["ended"]))
        else:
            history_runs.append(record)
    assert sorted(ended_day) == days
    assert sorted(day for r in history_runs for day in r["partition_keys"]) == days
    # Each history chunk started after the three days before each of its days existed.
    for record in history_runs:
        first = days.index(record["partition_keys"][0])
        needed = days[max(0, first - 3) : days.index(record["partition_keys"][-1]) + 1]
        assert all(ended_day[day] < record["started"] for day in needed)
