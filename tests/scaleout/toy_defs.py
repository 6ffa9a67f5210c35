"""A small, self-contained code location for the scale-out tests.

Its runs record where and when they ran, so a test can tell which Celery worker ran
them and whether runs overlapped. Every run also does real Polars work, so a worker
that forks after Polars' thread pool started would hang here instead of in production.
Records go to ``$CALLAUDIT_TOY_OUT/<run_id>.json`` (set on the workers).
"""

import json
import os
import socket
import time
from pathlib import Path

import dagster as dg
import polars as pl

daily = dg.DailyPartitionsDefinition(
    start_date="2022-01-01", end_date="2022-01-16"
)  # end is exclusive: 15 days


def _polars_work() -> int:
    frame = pl.DataFrame({"key": [i % 97 for i in range(200_000)], "value": range(200_000)})
    return frame.lazy().group_by("key").agg(pl.col("value").sum()).collect().height


def _record(context, seconds: float, **extra) -> dict:
    started = time.time()
    groups = _polars_work()
    time.sleep(seconds)
    record = {
        "run_id": context.run_id,
        "worker": os.environ.get("CALLAUDIT_WORKER_NAME", ""),
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "started": started,
        "ended": time.time(),
        "polars_groups": groups,
        "polars_threads": pl.thread_pool_size(),
        **extra,
    }
    out = Path(os.environ["CALLAUDIT_TOY_OUT"])
    out.mkdir(parents=True, exist_ok=True)
    tmp = out / f".{context.run_id}.json"
    tmp.write_text(json.dumps(record))
    tmp.rename(out / f"{context.run_id}.json")
    return record


@dg.op(config_schema={"seconds": dg.Field(float, default_value=3.0)})
def sleep_and_record(context: dg.OpExecutionContext) -> None:
    _record(context, context.op_config["seconds"])


@dg.job(executor_def=dg.in_process_executor)
def sleepy_job():
    sleep_and_record()


@dg.asset(
    partitions_def=daily,
    backfill_policy=dg.BackfillPolicy.multi_run(max_partitions_per_run=4),
)
def toy_daily(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    """One record per run over a range of days, like a callaudit backfill chunk."""
    keys = context.partition_keys
    _record(context, 1.0, partition_keys=keys)
    return dg.MaterializeResult(metadata={"days": len(keys)})


@dg.asset(
    partitions_def=daily,
    backfill_policy=dg.BackfillPolicy.multi_run(max_partitions_per_run=4),
    ins={
        "toy_daily": dg.AssetIn(
            partition_mapping=dg.TimeWindowPartitionMapping(start_offset=-3),
            dagster_type=dg.Nothing,
        )
    },
)
def toy_history(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    """Needs the three days before each of its days, like callaudit's flags need the
    112 days of history before theirs: a backfill must run it after those days."""
    keys = context.partition_keys
    _record(context, 1.0, partition_keys=keys)
    return dg.MaterializeResult(metadata={"days": len(keys)})


toy_daily_job = dg.define_asset_job("toy_daily_job", selection=[toy_daily], partitions_def=daily)

defs = dg.Definitions(
    assets=[toy_daily, toy_history],
    jobs=[sleepy_job, toy_daily_job],
    # As in callaudit: every job, the implicit asset job of a backfill included, runs its
    # steps in the run's process. A prefork pool process is daemonic and may not start
    # children, so the multiprocess executor fails there ("daemonic processes are not
    # allowed to have children").
    executor=dg.in_process_executor,
)
