"""One writer per day of a warehouse: a second backfill of overlapping days is refused
while the first runs, and a run whose process was killed does not stay STARTED."""

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pytest

from callaudit import warehouse
from callaudit.pipelines.cli import main
from tests.badinput.archives import Workspace, good_archive

FEBRUARY = [dt.date(2022, 2, 1) + dt.timedelta(days=i) for i in range(28)]


@pytest.fixture
def workspace(tmp_path, monkeypatch) -> Workspace:
    for name in [n for n in os.environ if n.startswith("CALLAUDIT_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    monkeypatch.chdir(tmp_path)
    ws = Workspace(tmp_path / "case")
    good_archive(ws, days=FEBRUARY)
    return ws


def start_backfill(ws: Workspace) -> subprocess.Popen:
    """`callaudit backfill` of February in another process, once its run has STARTED."""
    command = Path(sys.executable).with_name("callaudit")
    process = subprocess.Popen(
        [str(command), "backfill", "--start", "2022-02-01", "--end", "2022-02-28",
         "--no-report", "--quiet", *ws.locations()],
        env=os.environ.copy(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if started_runs():
            return process
        time.sleep(0.05)
    process.kill()
    raise AssertionError("the backfill's run never started")


def started_runs() -> list[dg.DagsterRun]:
    home = Path(os.environ["DAGSTER_HOME"])
    if not (home / "dagster.yaml").exists():
        return []
    with dg.DagsterInstance.from_config(str(home)) as instance:
        return list(
            instance.get_runs(filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED]))
        )


def test_a_backfill_of_days_another_run_is_writing_is_refused_naming_it(workspace, capsys):
    ws = workspace
    first = start_backfill(ws)
    try:
        status = main(
            ["backfill", "--start", "2022-02-20", "--end", "2022-03-02", "--no-report",
             "--quiet", *ws.locations()]
        )  # fmt: skip
        _, err = capsys.readouterr()
    finally:
        first.wait(timeout=300)

    assert status == 1
    assert "another run is writing days of 2022-02-20..2022-03-02 into" in err
    assert f"of 2022-02-01..2022-02-28, pid {first.pid} on " in err
    assert first.returncode == 0  # the first one was not disturbed


def test_a_run_whose_process_was_killed_is_closed_by_the_next_backfill(workspace, capsys):
    ws = workspace
    killed = start_backfill(ws)
    os.kill(killed.pid, signal.SIGKILL)
    killed.wait()
    assert started_runs()  # kill -9: nothing could record the end of the run

    status = main(
        ["backfill", "--start", "2022-02-01", "--end", "2022-02-28", "--no-report", "--quiet",
         *ws.locations()]
    )  # fmt: skip
    _, err = capsys.readouterr()

    assert status == 0, err
    assert f"was left STARTED: the process that executed it (pid {killed.pid} on " in err
    assert started_runs() == []
    assert warehouse.partition_days(str(ws.warehouse), "usage_daily") == FEBRUARY
