"""Real services for the scale-out tests, started on 127.0.0.1 and stopped by PID.

Each context manager starts one server in its own session (so its whole process group
can be signalled), waits until it answers, yields its URL or handle, and always stops
it: the polite signal to the group, then SIGKILL to the group. When a service does not
come up, the error carries the tail of its log.

- ``postgres_server``: Debian's PostgreSQL. It refuses to run as root, so as root the
  data directory belongs to the ``postgres`` user and the server runs as that user.
- ``redis_server``: ``redis-server`` without persistence.
- ``dagster_daemon``: ``dagster-daemon run`` against a DAGSTER_HOME and a workspace file.
- ``celery_worker``: one ``celery -A dagster_celery.app worker`` that takes a run at a
  time, each run in a fresh process forked from a parent that never touched Polars
  (see deploy/celery/README.md for why).
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

from tests.services import free_port

__all__ = [
    "CeleryWorker",
    "Running",
    "Service",
    "ServiceError",
    "celery_worker",
    "celery_worker_command",
    "dagster_daemon",
    "free_port",
    "missing_service_binaries",
    "postgres_binaries",
    "postgres_server",
    "redis_server",
    "stop_group",
]

VENV_BIN = Path(sys.executable).parent


class ServiceError(RuntimeError):
    """A service did not start; the message ends with the tail of its log."""


# ---------------------------------------------------------------- process handling


def stop_group(
    process: subprocess.Popen, first_signal: int = signal.SIGTERM, timeout: float = 20.0
) -> None:
    """Stop a process started with ``start_new_session=True`` and everything it started.

    ``first_signal`` goes to the leader only when it is SIGINT (PostgreSQL's fast
    shutdown: the postmaster stops its own children), otherwise to the whole group; what
    is left of the group after ``timeout`` seconds gets SIGKILL.
    """
    pgid = process.pid  # leader of its own session, so its pid is the group id
    if process.poll() is None:
        with suppress(ProcessLookupError):
            if first_signal == signal.SIGINT:
                os.kill(process.pid, first_signal)
            else:
                os.killpg(pgid, first_signal)
        with suppress(subprocess.TimeoutExpired):
            process.wait(timeout=timeout)
    # The leader may be gone while children (pool processes, backends) linger.
    with suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)
    if process.poll() is None:
        process.wait(timeout=10)


def _tail(path: Path | None, lines: int = 40) -> str:
    if path is None or not path.exists():
        return "(no log)"
    text = path.read_text(errors="replace").splitlines()
    return "\n".join(text[-lines:])


def _wait(
    ready: Callable[[], bool],
    *,
    what: str,
    process: subprocess.Popen,
    log: Path | None,
    timeout: float,
    interval: float = 0.1,
) -> float:
    """Poll ``ready`` until true; return the seconds it took. Fails early if the process dies."""
    started = time.monotonic()
    deadline = started + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ServiceError(
                f"{what} exited with status {process.returncode} before it was ready; "
                f"log {log}:\n{_tail(log)}"
            )
        try:
            if ready():
                return time.monotonic() - started
        except Exception as exc:  # not up yet
            last_error = exc
        time.sleep(interval)
    raise ServiceError(
        f"{what} not ready after {timeout:.0f}s ({last_error}); log {log}:\n{_tail(log)}"
    )


@contextmanager
def _started(
    command: list[str],
    *,
    log: Path,
    env: dict[str, str] | None = None,
    user: str | None = None,
    cwd: str | Path | None = None,
    first_signal: int = signal.SIGTERM,
) -> Iterator[subprocess.Popen]:
    with open(log, "ab") as out:
        process = subprocess.Popen(
            command,
            env=env if env is not None else dict(os.environ),
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            user=user,
            cwd=cwd,
        )
    try:
        yield process
    finally:
        stop_group(process, first_signal)


# ---------------------------------------------------------------- handles


@dataclass
class Running:
    """A started process (leader of its own process group) and how to tell it is ready."""

    what: str
    process: subprocess.Popen
    log: Path
    ready: Callable[[], bool] = field(repr=False, default=lambda: True)
    timeout: float = 60.0
    stop_signal: int = signal.SIGTERM

    def wait_ready(self) -> float:
        """Block until ready; returns the seconds waited. ServiceError with its log if not."""
        return _wait(
            self.ready, what=self.what, process=self.process, log=self.log, timeout=self.timeout
        )

    def stop(self) -> None:
        """Stop it now, e.g. to see what its clients do without it."""
        stop_group(self.process, self.stop_signal)


@dataclass
class Service(Running):
    """A server and the URL to reach it."""

    url: str = ""


@dataclass
class CeleryWorker(Running):
    """A Celery worker: its name (``--hostname name@%h``) and Celery node name."""

    name: str = ""
    node: str = ""

    def pool_pids(self) -> list[int]:
        """PIDs of the worker's pool processes (children of the main process)."""
        out = subprocess.run(
            ["ps", "-o", "pid=", "--ppid", str(self.process.pid)],
            capture_output=True,
            text=True,
        )
        return [int(p) for p in out.stdout.split()]


# ---------------------------------------------------------------- binaries


def postgres_binaries() -> Path | None:
    """The directory with ``initdb`` and ``postgres``: Debian's newest, else ``PATH``."""
    debian = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name))
    for candidate in reversed(debian):
        if (Path(candidate) / "initdb").exists() and (Path(candidate) / "postgres").exists():
            return Path(candidate)
    initdb = shutil.which("initdb")
    if initdb and shutil.which("postgres"):
        return Path(initdb).parent
    return None


def missing_service_binaries() -> list[str]:
    """What is missing to run the scale-out stack here (empty when everything is)."""
    missing = []
    if postgres_binaries() is None:
        missing.append("PostgreSQL (apt-get install postgresql)")
    if shutil.which("redis-server") is None:
        missing.append("redis-server (apt-get install redis-server)")
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            missing.append("a 'postgres' user to run PostgreSQL as (running as root)")
    for module in ("dagster_celery", "dagster_postgres", "celery", "redis"):
        try:
            __import__(module)
        except ImportError:
            missing.append(f"Python package {module} (pip install -e '.[celery]')")
    return missing


# ---------------------------------------------------------------- PostgreSQL


@contextmanager
def postgres_server(database: str = "dagster", *, log_dir: Path | None = None) -> Iterator[Service]:
    """A throw-away PostgreSQL on a free loopback port; yields it with the
    ``postgresql://`` URL of ``database`` (libpq form; SQLAlchemy needs
    ``postgresql+psycopg2://``). Trust authentication on 127.0.0.1 only; fsync off."""
    import psycopg2

    bindir = postgres_binaries()
    if bindir is None:
        raise ServiceError("PostgreSQL binaries not found (apt-get install postgresql)")
    as_root = os.geteuid() == 0
    user = "postgres" if as_root else None
    # Not under pytest's tmp dirs: those are 0700 root, which the postgres user cannot enter.
    root = Path(tempfile.mkdtemp(prefix="callaudit-pg-"))
    data = root / "data"
    log = (log_dir or root) / "postgres.log"
    try:
        data.mkdir()
        if as_root:
            entry = pwd.getpwnam("postgres")
            for path in (root, data):
                os.chown(path, entry.pw_uid, entry.pw_gid)
            if log_dir is not None:
                log.touch()
                os.chown(log, entry.pw_uid, entry.pw_gid)
        init = subprocess.run(
            [
                str(bindir / "initdb"),
                "-D",
                str(data),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-sync",
            ],
            user=user,
            cwd=root,
            capture_output=True,
            text=True,
        )
        if init.returncode != 0:
            raise ServiceError(f"initdb failed ({init.returncode}):\n{init.stdout}{init.stderr}")
        port = free_port()
        command = [
            str(bindir / "postgres"),
            "-D",
            str(data),
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
            "-k",
            str(root),  # unix socket next to the data, not /var/run/postgresql
            "-c",
            "fsync=off",
            "-c",
            "synchronous_commit=off",
            "-c",
            "full_page_writes=off",
            "-c",
            "max_connections=200",
        ]
        # SIGINT is PostgreSQL's fast shutdown: it ends sessions and exits at once.
        with _started(command, log=log, user=user, cwd=root, first_signal=signal.SIGINT) as proc:
            dsn = f"postgresql://postgres@127.0.0.1:{port}"

            def answers() -> bool:
                psycopg2.connect(dsn + "/postgres", connect_timeout=2).close()
                return True

            server = Service(
                "PostgreSQL", proc, log, answers, 60, signal.SIGINT, url=f"{dsn}/{database}"
            )
            server.wait_ready()
            conn = psycopg2.connect(dsn + "/postgres")
            conn.autocommit = True
            with conn.cursor() as cursor:
                cursor.execute(f'CREATE DATABASE "{database}"')
            conn.close()
            yield server
    finally:
        shutil.rmtree(root, ignore_errors=True)


# ---------------------------------------------------------------- Redis


def _redis_ping(port: int) -> bool:
    with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
        sock.sendall(b"PING\r\n")
        return sock.recv(64).startswith(b"+PONG")


@contextmanager
def redis_server(*, log_dir: Path, port: int | None = None) -> Iterator[Service]:
    """``redis-server`` on ``port`` (default: a free one) of 127.0.0.1, no persistence;
    yields it with its ``redis://`` URL (database 0). Pass the port of a stopped one to
    bring "the same" broker back."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise ServiceError("redis-server not found (apt-get install redis-server)")
    port = port or free_port()
    log = log_dir / "redis.log"
    command = [
        binary,
        "--bind",
        "127.0.0.1",
        "--port",
        str(port),
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
        str(log_dir),
        "--daemonize",
        "no",
    ]
    with _started(command, log=log) as proc:
        server = Service(
            "redis-server",
            proc,
            log,
            lambda: _redis_ping(port),
            30,
            url=f"redis://127.0.0.1:{port}/0",
        )
        server.wait_ready()
        yield server


# ---------------------------------------------------------------- Dagster daemon


@contextmanager
def dagster_daemon(
    *,
    dagster_home: Path,
    workspace: Path,
    env: dict[str, str],
    log_dir: Path,
    required_daemons: tuple[str, ...] = ("QUEUED_RUN_COORDINATOR", "MONITORING"),
    timeout: float = 120,
    wait: bool = True,
) -> Iterator[Running]:
    """``dagster-daemon run``; ready once ``required_daemons`` have written a heartbeat
    newer than the daemon's start (read from the instance's storage). With
    ``wait=False`` it yields at once: call ``wait_ready()`` (to start several in parallel).
    """
    from dagster import DagsterInstance

    log = log_dir / "dagster-daemon.log"
    command = [str(VENV_BIN / "dagster-daemon"), "run", "-w", str(workspace)]
    full_env = {**os.environ, **env, "DAGSTER_HOME": str(dagster_home)}
    started_at = time.time()
    with (
        _started(command, log=log, env=full_env, cwd=workspace.parent) as proc,
        DagsterInstance.from_config(str(dagster_home)) as instance,
    ):

        def beating() -> bool:
            beats = instance.get_daemon_heartbeats()
            return all(
                name in beats and beats[name].timestamp >= started_at for name in required_daemons
            )

        daemon = Running("dagster-daemon", proc, log, beating, timeout)
        if wait:
            daemon.wait_ready()
        yield daemon


# ---------------------------------------------------------------- Celery workers


def celery_worker_command(name: str, queue: str = "dagster") -> list[str]:
    """The worker command line, the same as documented in deploy/celery/README.md."""
    return [
        str(VENV_BIN / "celery"),
        "-A",
        "dagster_celery.app",
        "worker",
        "--queues",
        queue,
        "--hostname",
        f"{name}@%h",
        # One run at a time, each in a fresh child forked from a parent that never ran
        # Polars: forking after Polars' thread pool started deadlocks the child.
        "--pool",
        "prefork",
        "--concurrency",
        "1",
        "--max-tasks-per-child",
        "1",
        # Take a run only when the process slot is free, so a queued run never waits
        # behind a long run on a busy worker while another worker idles.
        "--prefetch-multiplier",
        "1",
        "--disable-prefetch",
        "--without-gossip",
        "--without-mingle",
        "--loglevel",
        "INFO",
    ]


@contextmanager
def celery_worker(
    name: str,
    *,
    dagster_home: Path,
    env: dict[str, str],
    log_dir: Path,
    queue: str = "dagster",
    timeout: float = 60,
    wait: bool = True,
) -> Iterator[CeleryWorker]:
    """One Celery worker named ``name`` consuming ``queue``; ready when it logs ``ready.``
    (``wait=False``: yields at once, call ``wait_ready()``).

    ``env`` must carry ``CELERY_BROKER_URL`` and ``CELERY_RESULT_BACKEND`` (Celery reads
    them before any config module) and whatever the instance's dagster.yaml reads. The
    worker's runs see ``CALLAUDIT_WORKER_NAME=name``.
    """
    log = log_dir / f"celery-{name}.log"
    full_env = {
        **os.environ,
        **env,
        "DAGSTER_HOME": str(dagster_home),
        "CALLAUDIT_WORKER_NAME": name,
    }
    node = f"{name}@{socket.gethostname()}"
    with _started(celery_worker_command(name, queue), log=log, env=full_env) as proc:
        worker = CeleryWorker(
            f"celery worker {name}",
            proc,
            log,
            lambda: f"{node} ready." in log.read_text(errors="replace"),
            timeout,
            name=name,
            node=node,
        )
        if wait:
            worker.wait_ready()
        yield worker
