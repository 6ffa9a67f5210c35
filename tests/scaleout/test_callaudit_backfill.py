"""callaudit's own backfill, spread over two Celery workers, equals a local run.

The deployment is the one kept in deploy/celery/: PostgreSQL storage, a Redis broker,
CeleryRunLauncher, the run queue, run monitoring and retries; every location an s3://
URL on a local S3 server (moto). `callaudit backfill --submit` hands two weeks to the
deployment's webserver as one backfill; the daemon splits it into runs of
CALLAUDIT_BACKFILL_RUN_DAYS days, tables first and each chunk's flags once the tables of
their history are written; the two workers run them. The warehouse it writes must equal,
row for row, what `callaudit backfill` writes in one local process from the same files.
Then a run's process is killed mid-run (as the kernel does to a run out of memory), and
the deployment recovers to the same outputs.
"""

import datetime as dt
import os
import signal
import subprocess
import time
from itertools import combinations
from pathlib import Path

import polars as pl
import pytest

from callaudit import warehouse
from callaudit.schema import (
    ANOMALY_FLAGS,
    INGEST_DAILY,
    NETWORK_DAILY,
    PARTNER_DAILY,
    QUARANTINE,
    USAGE_DAILY,
)
from callaudit.synth import generate_archive
from callaudit.validation.results import VALIDATION_RESULTS
from tests.e2e.graphql import graphql, wait_until
from tests.scaleout.conftest import WORKER_NAMES, require_services
from tests.scaleout.deployment import callaudit_deployment
from tests.scaleout.services import VENV_BIN

pytestmark = pytest.mark.e2e

START, END = dt.date(2022, 3, 1), dt.date(2022, 3, 14)
RUN_DAYS = 3  # 14 days: five chunk runs of tables, five of flags
TABLES = (USAGE_DAILY, PARTNER_DAILY, NETWORK_DAILY, INGEST_DAILY, QUARANTINE, ANOMALY_FLAGS)
RANGE = ["--start", START.isoformat(), "--end", END.isoformat()]


def callaudit(*args: str, env: dict, cwd: Path, timeout: float = 900):
    return subprocess.run(
        [str(VENV_BIN / "callaudit"), *args],
        env={**os.environ, **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture(scope="module")
def archive(tmp_path_factory, s3_bucket_module):
    """Two weeks generated locally and copied to the S3 server, byte for byte."""
    import s3fs

    local = tmp_path_factory.mktemp("archive")
    generate_archive(str(local), scale=0.001, seed=11, start=START, end=END, progress=False)
    fs = s3fs.S3FileSystem()
    bucket = s3_bucket_module.removeprefix("s3://")
    fs.put(str(local / "raw"), f"{bucket}/raw", recursive=True)
    fs.put(str(local / "contracts.yaml"), f"{bucket}/contracts.yaml")
    return local


@pytest.fixture(scope="module")
def s3_bucket_module(s3_server):
    import boto3

    boto3.client("s3", endpoint_url=s3_server).create_bucket(Bucket="scaleout")
    return "s3://scaleout"


@pytest.fixture(scope="module")
def local_run(archive, tmp_path_factory):
    """The reference: the same range in one local process (`callaudit backfill`)."""
    folder = tmp_path_factory.mktemp("local")
    env = {
        "CALLAUDIT_ARCHIVE": str(archive / "raw"),
        "CALLAUDIT_CONTRACTS": str(archive / "contracts.yaml"),
        "CALLAUDIT_WAREHOUSE": str(folder / "warehouse"),
        "CALLAUDIT_REPORTS": str(folder / "reports"),
        "DAGSTER_HOME": str(folder / "dagster_home"),
    }
    result = callaudit("backfill", *RANGE, "--quiet", env=env, cwd=folder)
    assert result.returncode == 0, result.stderr[-3000:]
    return str(folder / "warehouse")


@pytest.fixture(scope="module")
def deployment(archive, s3_bucket_module, tmp_path_factory):
    """The deploy/celery stack serving callaudit with two workers, every location on S3."""
    require_services()
    base = tmp_path_factory.mktemp("deployment")
    with callaudit_deployment(base, s3_bucket_module, WORKER_NAMES, run_days=RUN_DAYS) as stack:
        yield {
            "url": stack.url,
            "env": stack.env,
            "workers": stack.workers,
            "logs": stack.logs,
            "home": stack.home,
        }


def submit(deployment, cwd: Path) -> subprocess.CompletedProcess:
    env = {**deployment["env"], "CALLAUDIT_DAGSTER_URL": deployment["url"]}
    env.pop("DAGSTER_HOME")  # the submitter needs no instance of its own
    return callaudit("backfill", *RANGE, "--submit", env=env, cwd=cwd)


RUNS = """{ runsOrError { ... on Runs { results {
  runId status startTime endTime jobName tags { key value } } } } }"""


def deployment_runs(url: str) -> list[dict]:
    runs = graphql(url, RUNS)["runsOrError"]["results"]
    for run in runs:
        run["tags"] = {t["key"]: t["value"] for t in run["tags"]}
    return runs


def worker_of(run: dict, workers) -> str | None:
    """Which worker executed the run: its Celery task id appears in that worker's log."""
    task = run["tags"].get("dagster-celery/task_id")
    for worker in workers:
        if task and task in worker.log.read_text(errors="replace"):
            return worker.name
    return None


def assert_same_tables(ours: str, reference: str) -> None:
    for table in TABLES:
        got = warehouse.read_range(ours, table, START, END)
        want = warehouse.read_range(reference, table, START, END)
        if "source_file" in got.columns:  # the same file, one on S3 and one on disk
            got = got.with_columns(pl.col("source_file").str.split("/").list.last())
            want = want.with_columns(pl.col("source_file").str.split("/").list.last())
        columns = sorted(want.columns)
        got, want = got.select(columns).sort(columns), want.select(columns).sort(columns)
        assert got.height == want.height, table.name
        assert got.equals(want), table.name


@pytest.fixture(scope="module")
def submitted(deployment, archive, tmp_path_factory):
    cwd = tmp_path_factory.mktemp("submitter")
    started = time.monotonic()
    result = submit(deployment, cwd)
    return result, time.monotonic() - started


def test_the_backfill_succeeds_as_one_backfill_of_chunk_runs(submitted, deployment):
    result, seconds = submitted
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    assert "submitted to" in result.stderr and "/runs/b/" in result.stderr
    runs = deployment_runs(deployment["url"])
    backfills = {r["tags"].get("dagster/backfill") for r in runs if r["jobName"] != "report_job"}
    assert len(backfills) == 1 and None not in backfills
    chunks = [r for r in runs if "dagster/asset_partition_range_start" in r["tags"]]
    assert len(chunks) >= 4
    assert all(r["status"] == "SUCCESS" for r in runs)
    print(f"\ntwo weeks through the deployment: {seconds:.1f}s, {len(runs)} runs")


def test_both_workers_ran_runs_and_their_runs_overlapped(submitted, deployment):
    runs = [r for r in deployment_runs(deployment["url"]) if r["startTime"]]
    by_worker = {r["runId"]: worker_of(r, deployment["workers"]) for r in runs}
    assert set(by_worker.values()) == set(WORKER_NAMES)
    overlaps = [
        min(a["endTime"], b["endTime"]) - max(a["startTime"], b["startTime"])
        for a, b in combinations(runs, 2)
        if by_worker[a["runId"]] != by_worker[b["runId"]]
    ]
    assert max(overlaps) > 0.5, "no two runs on different workers ran at the same time"


def test_the_s3_warehouse_equals_a_single_process_local_run(submitted, local_run, deployment):
    assert_same_tables(deployment["env"]["CALLAUDIT_WAREHOUSE"], local_run)


def test_every_check_passed_on_every_day(submitted, deployment):
    results = warehouse.read_range(
        deployment["env"]["CALLAUDIT_WAREHOUSE"], VALIDATION_RESULTS, START, END
    )
    assert sorted(results["date"].unique().to_list()) == [
        START + dt.timedelta(days=i) for i in range((END - START).days + 1)
    ]
    failed = results.filter(~pl.col("success") & (pl.col("severity") == "critical"))
    assert failed.is_empty(), failed.head(5)


def test_a_run_killed_mid_run_is_recovered_to_the_same_outputs(
    submitted, deployment, local_run, tmp_path_factory
):
    cwd = tmp_path_factory.mktemp("again")
    env = {**deployment["env"], "CALLAUDIT_DAGSTER_URL": deployment["url"]}
    env.pop("DAGSTER_HOME")
    process = subprocess.Popen(
        [str(VENV_BIN / "callaudit"), "backfill", *RANGE, "--submit"],
        env={**os.environ, **env},
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    before = {r["runId"] for r in deployment_runs(deployment["url"])}

    def a_started_run():
        for run in deployment_runs(deployment["url"]):
            if run["runId"] not in before and run["status"] == "STARTED":
                return run
        return None

    victim = wait_until(a_started_run, timeout=300, interval=0.5, what="a started run")
    time.sleep(1.0)  # well inside the run: loading the code location takes ~3 s
    worker = next(
        w for w in deployment["workers"] if w.name == worker_of(victim, deployment["workers"])
    )
    killed = worker.pool_pids()
    assert killed, "the worker had no run process to kill"
    for pid in killed:
        os.kill(pid, signal.SIGKILL)
    process.communicate(timeout=900)
    runs = {r["runId"]: r for r in deployment_runs(deployment["url"])}
    assert runs[victim["runId"]]["status"] == "FAILURE"
    if process.returncode != 0:
        # The deployment retried the run (run_retries); a backfill that still ended
        # failed is recovered by submitting the range again: days are replaced whole.
        again = submit(deployment, cwd)
        assert again.returncode == 0, again.stderr[-3000:]
    assert_same_tables(deployment["env"]["CALLAUDIT_WAREHOUSE"], local_run)
    print(
        f"\nkilled {victim['runId'][:8]} on {worker.name}; first attempt exit {process.returncode}"
    )
