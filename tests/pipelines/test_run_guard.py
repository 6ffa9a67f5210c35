"""One writer per day of a warehouse: a second backfill of overlapping days is refused
while the first runs, and a run whose process was killed does not stay STARTED."""

import datetime as dt
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pytest

from callaudit import warehouse
from callaudit.assets.run_guard import HOST_TAG, PID_TAG
from callaudit.pipelines.cli import main
from callaudit.pipelines.instance import INSTANCE_TEMPLATE
from tests.badinput.archives import Workspace, good_archive

FEBRUARY = [dt.date(2022, 2, 1) + dt.timedelta(days=i) for i in range(28)]


@pytest.fixture
def workspace(tmp_path, monkeypatch) -> Workspace:
    for name in [n for n in os.environ if n.startswith("CALLAUDIT_")]:
        monkeypatch.delenv(name)
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text(INSTANCE_TEMPLATE.read_text())
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    with dg.DagsterInstance.from_config(str(home)) as instance:  # its storage, made once:
        instance.get_runs(limit=1)  # two processes creating it at once break its migrations
    monkeypatch.chdir(tmp_path)
    ws = Workspace(tmp_path / "case")
    good_archive(ws, days=FEBRUARY)
    return ws


def start_backfill(ws: Workspace, *, until=None, **env: str) -> subprocess.Popen:
    """`callaudit backfill` of February in another process (``env`` over this one's),
    once ``until()`` holds (default: its run has STARTED)."""
    command = Path(sys.executable).with_name("callaudit")
    process = subprocess.Popen(
        [str(command), "backfill", "--start", "2022-02-01", "--end", "2022-02-28",
         "--no-report", "--quiet", *ws.locations()],
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if (until or started_runs)():
            return process
        time.sleep(0.02)
    process.kill()
    raise AssertionError("the backfill never got there")


def backfill_alongside(ws: Workspace, first: subprocess.Popen, capsys) -> tuple[int, str]:
    """`callaudit backfill` of 2022-02-20..2022-03-02 in this process while ``first``
    runs; its exit status and stderr, once ``first`` has ended too."""
    try:
        status = main(
            ["backfill", "--start", "2022-02-20", "--end", "2022-03-02", "--no-report",
             "--quiet", *ws.locations()]
        )  # fmt: skip
        return status, capsys.readouterr().err
    finally:
        first.wait(timeout=300)


def committed_days(ws: Workspace) -> list[dt.date]:
    folder = ws.warehouse / "_manifests" / "daily_tables"
    return [dt.date.fromisoformat(p.stem[5:]) for p in folder.glob("date=*.json")]


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
    status, err = backfill_alongside(ws, first, capsys)

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


def test_a_backfill_from_another_instance_is_refused_by_the_warehouse_lock(workspace, capsys):
    ws = workspace
    locks = ws.warehouse / "_locks"
    first = start_backfill(
        ws,
        until=lambda: len(list(locks.glob("date=*.json"))) == len(FEBRUARY),
        DAGSTER_HOME=str(ws.root / "other_instance"),  # another instance, another machine
    )
    status, err = backfill_alongside(ws, first, capsys)

    assert status == 1
    [line] = err.splitlines()
    assert line.startswith(
        f"callaudit: another writer holds 9 day(s) of 2022-02-20..2022-03-02 in {ws.warehouse} "
        f"(from 2022-02-20): run "
    )
    assert f"of 2022-02-01..2022-02-28, pid {first.pid} on " in line
    assert f"lock {locks / 'date=2022-02-20.json'}; wait for it to finish" in line
    assert first.returncode == 0
    assert list(locks.glob("*")) == []  # released when it finished
    assert started_runs() == []  # nothing ran in this instance


def test_the_day_tables_step_refuses_days_another_writer_holds(workspace):
    from callaudit import writer_lock
    from callaudit.assets.resources import AuditResource
    from callaudit.pipelines.definitions import build_assets
    from tests.graph import settings_for_test

    ws = workspace
    with writer_lock.holding(str(ws.warehouse), FEBRUARY[:3], "run 0ther0ne", stale_after=3600):
        result = dg.materialize(
            build_assets(settings_for_test()),
            selection=["usage_daily", "partner_daily", "network_daily", "ingest_daily",
                       "quarantine"],
            resources={"audit": AuditResource(archive=str(ws.archive), contracts=str(ws.contracts),
                                              warehouse=str(ws.warehouse), reports=str(ws.reports))},
            partition_key="2022-02-02",
            raise_on_error=False,
        )  # fmt: skip

    assert not result.success
    [failure] = [e for e in result.all_events if e.is_step_failure]
    said = failure.step_failure_data.user_failure_data.description
    assert said.startswith("refusing to write days 2022-02-02..2022-02-02: another writer holds ")
    assert f"run 0ther0ne of 2022-02-01..2022-02-03, pid {os.getpid()} on " in said
    assert warehouse.partition_days(str(ws.warehouse), "usage_daily") == []
    # a run not started by callaudit (here materialize, elsewhere a daemon) is tagged with
    # the process executing it, so it can be closed if that process is killed
    tags = result.dagster_run.tags
    assert (tags[HOST_TAG], tags[PID_TAG]) == (socket.gethostname(), str(os.getpid()))


def test_a_run_whose_process_was_killed_is_closed_by_the_next_report(workspace, capsys):
    ws = workspace
    killed = start_backfill(ws, until=lambda: len(committed_days(ws)) >= 1)
    os.kill(killed.pid, signal.SIGKILL)
    killed.wait()
    [left] = started_runs()

    status = main(["report", "--year", "2022", *ws.locations()])
    _, err = capsys.readouterr()

    warning, refusal = err.splitlines()
    assert warning.startswith(f"warning: run {left.run_id[:8]} (2022-02-01..2022-02-28) was left "
                              f"STARTED: the process that executed it (pid {killed.pid} on ")  # fmt: skip
    assert status == 1  # its days have no flags yet: refused, naming them
    assert refusal.startswith("callaudit: report 2022 failed: not building the 2022 report: ")
    assert started_runs() == []
    with dg.DagsterInstance.from_config(os.environ["DAGSTER_HOME"]) as instance:
        closed = instance.get_run_by_id(left.run_id)
        assert closed.status == dg.DagsterRunStatus.FAILURE


def test_callaudit_dev_closes_the_runs_of_killed_processes_before_the_ui_starts(
    workspace, tmp_path
):
    from tests.services import free_port, running

    ws = workspace
    killed = start_backfill(ws)
    os.kill(killed.pid, signal.SIGKILL)
    killed.wait()
    [left] = started_runs()

    log = tmp_path / "dev.log"
    command = [str(Path(sys.executable).with_name("callaudit")), "dev", "--port",
               str(free_port()), *ws.locations()]  # fmt: skip
    with running(command, log_path=log):  # stopped by its process group's id
        deadline = time.monotonic() + 120
        while started_runs() and time.monotonic() < deadline:
            time.sleep(0.2)

    assert started_runs() == []
    said = log.read_text()
    assert (
        f"warning: run {left.run_id[:8]} (2022-02-01..2022-02-28) was left STARTED: the process "
        f"that executed it (pid {killed.pid} on {socket.gethostname()}) is gone"
    ) in said


def test_the_lock_of_a_run_that_ended_is_taken_over_even_from_another_host(tmp_path):
    """A worker killed on another host: run monitoring failed its run and a retry runs
    the same days elsewhere; waiting for the lock's age would stall it for hours."""
    import json

    from callaudit import storage, writer_lock
    from callaudit.assets.run_guard import run_ended

    @dg.asset
    def one() -> int:
        return 1

    wh = str(tmp_path / "warehouse")
    with dg.DagsterInstance.ephemeral() as instance:
        ended = dg.materialize([one], instance=instance).dagster_run
        for run_id, day in ((ended.run_id, FEBRUARY[0]), ("not-a-run-here", FEBRUARY[1])):
            storage.write_text_atomic(
                writer_lock.lock_url(wh, day),
                json.dumps({"owner": f"run {run_id[:8]}", "host": "worker-7", "pid": 1,
                            "started": dt.datetime.now(dt.UTC).isoformat(), "first": "2022-02-01",
                            "last": "2022-02-02", "token": "theirs", "run_id": run_id}),
            )  # fmt: skip
        notes: list[str] = []
        with writer_lock.holding(wh, FEBRUARY[:1], "run mine", stale_after=3600, notes=notes,
                                 ended=run_ended(instance)):  # fmt: skip
            pass
        with (
            pytest.raises(writer_lock.DaysLocked, match="pid 1 on worker-7"),
            writer_lock.holding(wh, FEBRUARY[1:2], "run mine", stale_after=3600,
                                ended=run_ended(instance)),
        ):  # fmt: skip
            pass

    [note] = notes
    assert note.startswith(
        f"took over the stale lock of 2022-02-01 (run {ended.run_id[:8]} of "
        "2022-02-01..2022-02-02, pid 1 on worker-7, since "
    )
    assert note.endswith(f"): its run {ended.run_id[:8]} ended SUCCESS")


def test_the_abandoned_runs_sensor_closes_a_killed_run_while_the_ui_runs(workspace):
    """No command needs to start: the sensor (RUNNING by default) closes it within a tick."""
    from callaudit.pipelines.abandoned_runs import abandoned_runs_sensor

    assert abandoned_runs_sensor.default_status == dg.DefaultSensorStatus.RUNNING
    killed = start_backfill(workspace)
    os.kill(killed.pid, signal.SIGKILL)
    killed.wait()
    [left] = started_runs()

    with dg.DagsterInstance.get() as instance:
        result = abandoned_runs_sensor(dg.build_sensor_context(instance=instance))
        run = instance.get_run_by_id(left.run_id)
        again = abandoned_runs_sensor(dg.build_sensor_context(instance=instance))

    assert run.status == dg.DagsterRunStatus.FAILURE
    assert f"pid {killed.pid}" in result.skip_message
    assert again.skip_message == "no abandoned run of this host"
    assert started_runs() == []
