"""Great Expectations in its worker process: same results as in process, a worker that
never outlives its parent, a dead one replaced, and validation in process when none
can be started."""

import dataclasses
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import polars as pl
import pytest

from callaudit import warehouse
from callaudit.validation import worker
from callaudit.validation.frames import validation_frame
from callaudit.validation.runner import SuiteResult, run_suite

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def fresh_worker():
    """Each test starts without a worker in this process, and leaves none behind."""
    worker.shutdown()
    yield
    worker.shutdown()


def usage_frame(wh) -> pl.DataFrame:
    """usage_daily of the test warehouse, one row made negative on the second day, as
    the usage_daily suite sees it."""
    wh.corrupt(
        "usage_daily",
        wh.days[1],
        lambda f: f.with_columns(
            pl.when(pl.int_range(pl.len()) == 0).then(-7).otherwise(pl.col("calls")).alias("calls")
        ),
    )
    return validation_frame("usage_daily", warehouse.read_days(wh.url, "usage_daily", wh.days))


def without_time(result: SuiteResult) -> SuiteResult:
    return dataclasses.replace(result, seconds=0.0)


def gone(pid: int) -> bool:
    """The process exited (a zombie not yet reaped by its new parent counts as exited)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return True
    return "\nState:\tZ" in status


def wait_until_gone(pid: int, seconds: float = 15.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if gone(pid):
            return True
        time.sleep(0.1)
    return gone(pid)


def test_a_suite_validated_in_the_worker_equals_the_same_suite_validated_in_process(
    clean, monkeypatch
):
    frame = usage_frame(clean)
    in_worker = run_suite("usage_daily", frame)
    pid = worker.worker_pid()
    assert pid is not None and pid != os.getpid()

    monkeypatch.setenv("CALLAUDIT_VALIDATION_WORKER", "0")
    worker.shutdown()
    in_process = run_suite("usage_daily", frame)
    assert worker.worker_pid() is None

    assert without_time(in_worker) == without_time(in_process)
    assert not in_worker.success
    failed = {o.column: o.unexpected_by_day for o in in_worker.failed()}
    assert failed["calls"] == {clean.days[1]: 1}


def test_a_worker_killed_between_two_suites_is_replaced_and_gives_the_same_results(clean):
    frame = usage_frame(clean)
    first = run_suite("usage_daily", frame)
    killed = worker.worker_pid()
    os.kill(killed, signal.SIGKILL)
    assert wait_until_gone(killed)

    second = run_suite("usage_daily", frame)
    assert worker.worker_pid() not in (None, killed)
    assert without_time(second) == without_time(first)


def run_python(code: str, **kwargs) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kwargs,
    )


def test_the_worker_exits_when_its_parent_is_killed_while_gx_is_still_importing():
    parent = run_python(
        """
        import sys, time
        from callaudit.validation import worker
        from callaudit.validation.runner import warm_up
        warm_up()
        print(worker.worker_pid(), flush=True)
        time.sleep(60)
        """
    )
    try:
        worker_pid = int(parent.stdout.readline())
        assert not gone(worker_pid)
        parent.send_signal(signal.SIGKILL)
        parent.wait(timeout=10)
        assert wait_until_gone(worker_pid)
    finally:
        parent.kill()
        parent.communicate()


def test_the_worker_is_stopped_when_its_parent_exits_normally():
    parent = run_python(
        """
        from callaudit.validation import worker
        from callaudit.validation.runner import warm_up
        warm_up()
        print(worker.worker_pid(), flush=True)
        """
    )
    out, err = parent.communicate(timeout=30)
    assert parent.returncode == 0, err
    assert wait_until_gone(int(out))


TINY_SUITE_IN_A_SCRIPT = """
import multiprocessing, sys
import polars as pl
from callaudit.validation.runner import run_suite
multiprocessing.set_executable(sys.argv[1])  # the interpreter of the worker
suite = {"name": "tiny", "expectations": [{
    "type": "expect_column_values_to_be_between",
    "kwargs": {"column": "calls", "min_value": 0}}]}
result = run_suite(suite, pl.DataFrame({"calls": [5, -3, 7]}))
print(result.failed()[0].unexpected_count, result.failed()[0].sample)
"""


def run_tiny_suite_with_worker_interpreter(interpreter: str) -> tuple[str, list[str]]:
    """A script validating a tiny frame, its worker's interpreter ``interpreter``: what
    it printed, and its log lines saying validation runs in process."""
    script = subprocess.run(
        [sys.executable, "-c", TINY_SUITE_IN_A_SCRIPT, interpreter],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert script.returncode == 0, script.stderr
    lines = script.stderr.splitlines()
    return script.stdout.strip(), [x for x in lines if "validation runs in this process" in x]


def test_validation_runs_in_process_with_a_log_line_when_no_worker_can_be_started():
    printed, fallback = run_tiny_suite_with_worker_interpreter("/nonexistent/python3")
    assert printed == "1 ('-3',)"
    assert len(fallback) == 1
    assert "cannot start a worker process: FileNotFoundError" in fallback[0]


def test_a_worker_that_dies_again_after_its_restart_leaves_validation_in_process():
    # The worker's interpreter is a program that exits at once: it starts, and dies.
    printed, fallback = run_tiny_suite_with_worker_interpreter("/bin/false")
    assert printed == "1 ('-3',)"
    assert len(fallback) == 1
    assert "died (exit code 1), again after a restart" in fallback[0]
