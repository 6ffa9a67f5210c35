"""callaudit deployed as deploy/celery/ describes, on this machine, for tests and benchmarks.

PostgreSQL (instance storage and Celery task states), Redis (broker), dagster-webserver
(the GraphQL API `callaudit backfill --submit` talks to), dagster-daemon (run queue,
backfills, monitoring) and N Celery workers, all on 127.0.0.1, every callaudit location
under one s3:// prefix. Everything is stopped by PID when the block ends.
"""

import os
import shutil
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import yaml

from tests.conftest import REPO
from tests.e2e.graphql import code_location_loaded, wait_until
from tests.scaleout.conftest import TEST_OVERRIDES, instance_env
from tests.scaleout.services import (
    VENV_BIN,
    CeleryWorker,
    celery_worker,
    dagster_daemon,
    postgres_server,
    redis_server,
)
from tests.services import free_port, running, wait_for_http

DEPLOY = REPO / "deploy" / "celery"


@dataclass
class Deployment:
    url: str
    env: dict[str, str]
    workers: list[CeleryWorker]
    logs: Path
    home: Path


def render_home(home: Path) -> Path:
    """DAGSTER_HOME with deploy/celery's dagster.yaml and workspace.yaml; the workspace."""
    config = yaml.safe_load((DEPLOY / "dagster.yaml").read_text())
    for key, value in TEST_OVERRIDES.items():
        config[key] = {**config.get(key, {}), **value}
    home.mkdir(parents=True, exist_ok=True)
    (home / "dagster.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    workspace = home / "workspace.yaml"
    shutil.copy(DEPLOY / "workspace.yaml", workspace)
    return workspace


@contextmanager
def callaudit_deployment(
    base: Path, bucket: str, worker_names: Sequence[str], *, run_days: int
) -> Iterator[Deployment]:
    """The stack, with the S3 credentials of the current environment; the test process
    gets the instance's variables too while it runs (to read runs and heartbeats)."""
    logs, home = base / "logs", base / "dagster_home"
    logs.mkdir(parents=True, exist_ok=True)
    workspace = render_home(home)
    with ExitStack() as stack:
        postgres = stack.enter_context(postgres_server("dagster", log_dir=logs))
        redis = stack.enter_context(redis_server(log_dir=logs))
        env = instance_env(
            postgres,
            redis,
            DAGSTER_HOME=str(home),
            CALLAUDIT_ARCHIVE=f"{bucket}/raw",
            CALLAUDIT_CONTRACTS=f"{bucket}/contracts.yaml",
            CALLAUDIT_WAREHOUSE=f"{bucket}/warehouse",
            CALLAUDIT_REPORTS=f"{bucket}/reports",
            CALLAUDIT_BACKFILL_RUN_DAYS=str(run_days),
            CALLAUDIT_MAX_CONCURRENT_RUNS=str(len(worker_names)),
            GX_ANALYTICS_ENABLED="false",
            POLARS_MAX_THREADS="1",
        )
        saved = {key: os.environ.get(key) for key in env}
        stack.callback(_restore, saved)
        os.environ.update(env)
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        command = [str(VENV_BIN / "dagster-webserver"), "-w", str(workspace)]
        command += ["-h", "127.0.0.1", "-p", str(port)]
        webserver = stack.enter_context(
            running(command, env=env, log_path=logs / "webserver.log", cwd=home)
        )
        daemon = stack.enter_context(
            dagster_daemon(
                dagster_home=home, workspace=workspace, env=env, log_dir=logs, wait=False
            )
        )
        workers = [
            stack.enter_context(
                celery_worker(name, dagster_home=home, env=env, log_dir=logs, wait=False)
            )
            for name in worker_names
        ]
        wait_for_http(f"{url}/server_info", timeout=120, process=webserver)
        wait_until(lambda: code_location_loaded(url), timeout=120, what="code location")
        for process in (*workers, daemon):
            process.wait_ready()
        yield Deployment(url, env, workers, logs, home)


def _restore(saved: dict[str, str | None]) -> None:
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
