"""One validation worker process per parent process, so Great Expectations is imported
off the critical path.

Importing GX takes 2.3 s on a quiet 2-core machine and 4+ s under load (scipy.stats,
altair, sqlalchemy...), and every run waited for it before its first check. Importing it
in a background thread raced the main thread's imports ("partially initialized module
'sqlalchemy.orm.exc'"), so it is imported in a separate process instead: :func:`start`
launches it when a run starts its work (the daily tables, a backfill), the import
overlaps the day's computation, and each call sends a function and its arguments (a
suite spec, a Polars frame: pickled as Arrow IPC) over a socket pair and waits for the
result.

The worker is a fresh interpreter (``python -c``, the interpreter multiprocessing would
use), not a multiprocessing "spawn" child: spawn re-runs the parent's main script, so a
script calling ``run_suite`` at top level would have run twice; not a fork either: a
forked copy of a multi-threaded parent (Dagster, Polars' pool) may inherit held locks.

A worker never outlives its parent: it exits when its parent pid changes (the parent
was killed, SIGKILL included) or its socket closes, and is terminated at the parent's
normal exit. A worker that died is replaced once; when none can be started (no
interpreter, no process may be created...) the function runs in this process, as
before, and a log line says why; CALLAUDIT_VALIDATION_WORKER=0 asks for that.

:func:`submit` sends a request without waiting (a run's daily checks, started as soon as
its days are committed, while the main process records its events): the worker still
answers one request at a time, in order, so a later :func:`call` first reads that reply.
"""

import atexit
import contextlib
import logging
import multiprocessing.spawn
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any, TypeVar

from callaudit.settings import read_setting

T = TypeVar("T")

_LOG = logging.getLogger(__name__)
#: Seconds between the worker's checks that its parent is alive.
PARENT_POLL_SECONDS = 0.2

_LOCK = threading.RLock()  # one request at a time on the pipe; guards the state below
_worker: tuple[subprocess.Popen, Connection] | None = None
_pending: "Pending | None" = None  # a submitted request whose reply is still unread
_in_worker = False  # true in the worker itself: its calls run where they are
_unavailable = ""  # why no worker can be used in this process (then: in-process)
_exit_registered = False


def _watch_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(PARENT_POLL_SECONDS)
    os._exit(1)  # orphaned: nobody will read a result


def _serve(conn: Connection, parent: int) -> None:
    """The worker's main loop: the first message is a ``load`` function, called once;
    then each ``(function, args)`` received is run and ``(True, result)`` or
    ``(False, exception)`` sent back."""
    # Ctrl-C in a terminal reaches the whole process group: the parent decides.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    global _in_worker
    _in_worker = True  # a function sent here that validates must not start a worker
    threading.Thread(
        target=_watch_parent, args=(parent,), name="callaudit-parent-watch", daemon=True
    ).start()
    try:
        load = conn.recv()
    except (EOFError, OSError):
        return
    load()
    while True:
        try:
            function, args = conn.recv()
        except (EOFError, OSError):  # the parent closed its end, or is gone
            return
        try:
            reply = (True, function(*args))
        except Exception as exc:
            reply = (False, exc)
        try:
            conn.send(reply)
        except Exception:  # an exception that does not pickle: its text instead
            conn.send((False, RuntimeError("".join(traceback.format_exception(reply[1])))))


def _main() -> None:
    """Entry point of the worker's interpreter: ``-c ... FD PARENT_PID``."""
    fd, parent = int(sys.argv[1]), int(sys.argv[2])
    _serve(Connection(fd), parent)


def enabled() -> bool:
    """Whether validation may use a worker process (CALLAUDIT_VALIDATION_WORKER)."""
    return bool(read_setting("validation_worker"))


def start(load: Callable[[], Any]) -> bool:
    """Start this process's worker, which calls ``load`` (a module-level function) first;
    no-op if it runs. False (and a log line, once) when validation stays in process."""
    with _LOCK:
        return _running(load) is not None


def _running(load: Callable[[], Any]) -> tuple[subprocess.Popen, Connection] | None:
    global _worker, _unavailable, _exit_registered
    if _worker is not None and _worker[0].poll() is None:
        return _worker
    if _unavailable:
        return None
    if not enabled():
        return None
    if _worker is not None:
        _discard()
    try:
        ours, theirs = socket.socketpair()
        try:
            process = subprocess.Popen(
                [
                    multiprocessing.spawn.get_executable(),
                    "-c",
                    "from callaudit.validation.worker import _main; _main()",
                    str(theirs.fileno()),
                    str(os.getpid()),
                ],
                pass_fds=[theirs.fileno()],
                stdin=subprocess.DEVNULL,
            )
        finally:
            theirs.close()  # the worker's end is only the worker's: its death reads as EOF
        conn = Connection(ours.detach())
    except Exception as exc:  # OSError: no interpreter, no process may be created...
        _give_up(f"cannot start a worker process: {type(exc).__name__}: {exc}")
        return None
    with contextlib.suppress(OSError):  # died at once: the next call finds it dead
        conn.send(load)  # imported while the caller goes on
    _worker = (process, conn)
    if not _exit_registered:
        atexit.register(shutdown)
        _exit_registered = True
    return _worker


def _give_up(reason: str) -> None:
    global _unavailable
    _unavailable = reason
    _LOG.warning("validation runs in this process (pid %d): %s", os.getpid(), reason)


def _discard() -> None:
    global _worker
    if _pending is not None:
        _pending._lose(f"worker pid {_worker[0].pid if _worker else '?'} was stopped")
    if _worker is None:
        return
    process, conn = _worker
    _worker = None
    conn.close()
    if process.poll() is None:
        process.terminate()
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def call(function: Callable[..., T], *args: Any, load: Callable[[], Any]) -> T:
    """``function(*args)`` in the worker (started with ``load`` if need be): its result,
    or its exception raised here. A worker that died is replaced once; after that, or
    when none can start, it runs in this process."""
    if _in_worker:
        return function(*args)
    with _LOCK:
        _settle()
        for attempt in (1, 2):
            worker = _running(load)
            if worker is None:
                break
            process, conn = worker
            try:
                conn.send((function, args))
                ok, value = conn.recv()
            except (EOFError, OSError):  # died before or while answering
                with contextlib.suppress(subprocess.TimeoutExpired):
                    process.wait(timeout=5)
                died = f"worker pid {process.pid} died (exit code {process.returncode})"
                _discard()
                if attempt == 2:
                    _give_up(f"{died}, again after a restart")
                continue
            if ok:
                return value
            raise value
        return function(*args)


class WorkerLost(RuntimeError):
    """A submitted request got no reply: its worker died or was stopped. Nothing was
    computed; the caller computes it again."""


class Pending:
    """A request sent to the worker with :func:`submit`, answered in order: its reply is
    read by :meth:`result`, or by the next request, which waits for it first."""

    def __init__(self) -> None:
        self._reply: tuple[bool, Any] | None = None
        self._lost = ""

    def _lose(self, why: str) -> None:
        global _pending
        self._lost = why
        if _pending is self:
            _pending = None

    def result(self) -> Any:
        """The function's result (waiting for it), or its exception raised here;
        :class:`WorkerLost` when no reply will come."""
        with _LOCK:
            _settle()
        if self._lost:
            raise WorkerLost(self._lost)
        assert self._reply is not None  # settled: a reply or a loss
        ok, value = self._reply
        if ok:
            return value
        raise value


def _settle() -> None:
    """Read the reply of the pending request, if any (lock held)."""
    global _pending
    pending = _pending
    if pending is None:
        return
    _pending = None
    assert _worker is not None  # a request pending has its worker (_discard loses it)
    process, conn = _worker
    try:
        pending._reply = conn.recv()
    except (EOFError, OSError):  # died before or while answering
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=5)
        pending._lose(f"worker pid {process.pid} died (exit code {process.returncode})")
        _discard()


def submit(function: Callable[..., Any], *args: Any, load: Callable[[], Any]) -> Pending | None:
    """Send ``function(*args)`` to the worker (started with ``load`` if need be) and
    return at once: the worker computes it while this process goes on. None when no
    worker runs it (validation in process, or called in the worker itself): the caller
    computes it when it needs it. A later :func:`call` waits for this reply first."""
    global _pending
    if _in_worker:
        return None
    with _LOCK:
        _settle()
        worker = _running(load)
        if worker is None:
            return None
        try:
            worker[1].send((function, args))
        except OSError:  # died: the next call replaces it
            return None
        _pending = Pending()
        return _pending


def shutdown() -> None:
    """Stop this process's worker (at exit, and for tests); a later call starts a new
    one, and a worker found unavailable is tried again."""
    global _unavailable
    with _LOCK:
        _discard()  # nothing is pending: terminating it is safe, even mid-import
        _unavailable = ""


def worker_pid() -> int | None:
    """The pid of this process's running worker, if any."""
    with _LOCK:
        return _worker[0].pid if _worker is not None and _worker[0].poll() is None else None
