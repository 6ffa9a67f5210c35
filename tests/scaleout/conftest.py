"""The scale-out stack as session fixtures: PostgreSQL, Redis, a Dagster instance made
from deploy/celery/dagster.yaml, its daemon and two Celery workers.

Started once per session (about 8 s here) and shared by every test in this folder.
Without the binaries or packages the tests skip, naming what is missing; with
CALLAUDIT_REQUIRE_SERVICES=1 (CI) they fail instead.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from tests.scaleout.services import (
    CeleryWorker,
    Service,
    celery_worker,
    dagster_daemon,
    missing_service_binaries,
    postgres_server,
    redis_server,
)

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy" / "celery"

#: Only what makes a test fast differs from the deployed file: how often the daemon
#: looks at running runs.
TEST_OVERRIDES = {"run_monitoring": {"poll_interval_seconds": 2}}

WORKER_NAMES = ("w1", "w2")


def require_services() -> None:
    missing = missing_service_binaries()
    if not missing:
        return
    reason = "scale-out stack unavailable: missing " + "; ".join(missing)
    if os.environ.get("CALLAUDIT_REQUIRE_SERVICES") == "1":
        pytest.fail(reason + " (CALLAUDIT_REQUIRE_SERVICES=1)", pytrace=False)
    pytest.skip(reason)


def render_instance(
    dagster_home: Path, location_module: str, *, overrides: dict | None = None
) -> Path:
    """DAGSTER_HOME with deploy/celery/dagster.yaml (plus ``overrides``) and a workspace
    loading ``location_module`` as location ``toy``; returns the workspace file."""
    config = yaml.safe_load((DEPLOY / "dagster.yaml").read_text())
    for key, value in (overrides or {}).items():
        config[key] = {**config.get(key, {}), **value}
    dagster_home.mkdir(parents=True, exist_ok=True)
    (dagster_home / "dagster.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    workspace = dagster_home / "workspace.yaml"
    location = {
        "module_name": location_module,
        "attribute": "defs",
        "working_directory": str(REPO),
        "location_name": "toy",
    }
    workspace.write_text(yaml.safe_dump({"load_from": [{"python_module": location}]}))
    return workspace


def instance_env(postgres: Service, redis: Service, **extra: str) -> dict[str, str]:
    """What every process of the stack reads (deploy/celery/callaudit.env.example)."""
    # SQLAlchemy 2.1 maps a bare postgresql:// to psycopg 3, which dagster-postgres does
    # not install: name its driver, psycopg2.
    pg_url = postgres.url.replace("postgresql://", "postgresql+psycopg2://", 1)
    # Task states, which run monitoring reads, in the instance's PostgreSQL (as
    # deploy/celery recommends); CALLAUDIT_CELERY_BACKEND=redis keeps them in Redis.
    if os.environ.get("CALLAUDIT_CELERY_BACKEND", "postgres") == "redis":
        backend = redis.url.rsplit("/", 1)[0] + "/1"
    else:
        backend = "db+" + pg_url
    return {
        "DAGSTER_PG_URL": pg_url,
        "CELERY_BROKER_URL": redis.url,
        "CELERY_RESULT_BACKEND": backend,
        "CALLAUDIT_MAX_CONCURRENT_RUNS": str(len(WORKER_NAMES)),
        **extra,
    }


@dataclass
class Stack:
    """The running stack: where things are and what was measured starting it."""

    dagster_home: Path
    workspace: Path
    env: dict[str, str]
    logs: Path
    toy_out: Path
    postgres: Service
    redis: Service
    workers: list[CeleryWorker] = field(default_factory=list)
    startup_seconds: dict[str, float] = field(default_factory=dict)


@pytest.fixture(scope="session")
def celery_stack(tmp_path_factory) -> Iterator[Stack]:
    """PostgreSQL + Redis + dagster-daemon + two Celery workers sharing one instance.

    The instance's URLs reach every process through the environment, as in production;
    the test process gets them too, so ``DagsterInstance.get()`` here is the same
    instance. Everything is stopped by PID at the end of the session.
    """
    require_services()
    base = tmp_path_factory.mktemp("scaleout")
    logs = base / "logs"
    logs.mkdir()
    toy_out = base / "toy-out"
    dagster_home = base / "dagster_home"
    workspace = render_instance(dagster_home, "tests.scaleout.toy_defs", overrides=TEST_OVERRIDES)
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    with ExitStack() as stack:
        postgres = stack.enter_context(postgres_server("dagster", log_dir=logs))
        timings["postgres"] = time.perf_counter() - t0
        t1 = time.perf_counter()
        redis = stack.enter_context(redis_server(log_dir=logs))
        timings["redis"] = time.perf_counter() - t1
        env = instance_env(
            postgres,
            redis,
            CALLAUDIT_TOY_OUT=str(toy_out),
            POLARS_MAX_THREADS="1",
            PYTHONPATH=str(REPO),
        )
        saved = {key: os.environ.get(key) for key in [*env, "DAGSTER_HOME"]}
        stack.callback(_restore_environ, saved)
        os.environ.update(env, DAGSTER_HOME=str(dagster_home))

        t2 = time.perf_counter()
        from dagster import DagsterInstance

        DagsterInstance.get().dispose()  # creates the schema once, before three processes race
        timings["schema"] = time.perf_counter() - t2

        # Started together, then waited for: about 5 s instead of 8 one after the other.
        t3 = time.perf_counter()
        daemon = stack.enter_context(
            dagster_daemon(
                dagster_home=dagster_home, workspace=workspace, env=env, log_dir=logs, wait=False
            )
        )
        workers = [
            stack.enter_context(
                celery_worker(name, dagster_home=dagster_home, env=env, log_dir=logs, wait=False)
            )
            for name in WORKER_NAMES
        ]
        for process in (*workers, daemon):
            process.wait_ready()
        timings["daemon_and_workers"] = time.perf_counter() - t3
        timings["total"] = time.perf_counter() - t0
        yield Stack(dagster_home, workspace, env, logs, toy_out, postgres, redis, workers, timings)


def _restore_environ(saved: dict[str, str | None]) -> None:
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
