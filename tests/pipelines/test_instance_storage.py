"""The instance template's SQLite storage: Dagster's files, its event log kept open."""

import subprocess
import sys
import threading
import time

import dagster as dg
import pytest
from dagster._core.events.log import EventLogEntry

from callaudit.pipelines.instance import INSTANCE_TEMPLATE
from callaudit.pipelines.instance_storage import (
    CallauditSqliteStorage,
    PooledSqliteEventLogStorage,
)


def _instance(home, monkeypatch) -> dg.DagsterInstance:
    home.mkdir(exist_ok=True)
    (home / "dagster.yaml").write_text(INSTANCE_TEMPLATE.read_text())
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    return dg.DagsterInstance.from_config(str(home))


@dg.asset(partitions_def=dg.DailyPartitionsDefinition(start_date="2022-01-01"))
def calls_per_day(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    return dg.MaterializeResult(metadata={"day": context.partition_key})


def test_a_new_home_stores_runs_in_dagsters_sqlite_layout(tmp_path, monkeypatch):
    home = tmp_path / "dagster_home"
    instance = _instance(home, monkeypatch)
    assert instance.get_ref().storage_data.class_name == CallauditSqliteStorage.__name__
    assert isinstance(instance.event_log_storage, PooledSqliteEventLogStorage)

    result = dg.materialize([calls_per_day], instance=instance, partition_key="2022-03-05")
    assert result.success
    instance.dispose()

    # Dagster's own files: another process with Dagster's default storage reads them.
    assert (home / "history" / "runs" / f"{result.run_id}.db").exists()
    read_back = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, dagster as dg\n"
            "from dagster._core.storage.sqlite_storage import DagsterSqliteStorage\n"
            "storage = DagsterSqliteStorage.from_local(sys.argv[1])\n"
            "instance = dg.DagsterInstance.ephemeral()\n"
            "storage.register_instance(instance)\n"
            "events = storage.event_log_storage.get_records_for_run(sys.argv[2]).records\n"
            "kinds = [r.event_log_entry.dagster_event_type for r in events]\n"
            "print(sum(1 for k in kinds if k and k.value == 'ASSET_MATERIALIZATION'))\n"
            "print(storage.event_log_storage.get_materialized_partitions("
            "dg.AssetKey('calls_per_day')))\n",
            str(home),
            result.run_id,
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    materializations, partitions = read_back.stdout.split("\n")[:2]
    assert materializations == "1"
    assert partitions == "{'2022-03-05'}"


def test_the_ui_following_a_run_sees_each_event_as_it_is_stored(tmp_path, monkeypatch):
    """The webserver watches a run's file for changes; events kept in the open WAL
    connection must still wake it."""
    home = tmp_path / "dagster_home"
    writer = _instance(home, monkeypatch)
    viewer = dg.DagsterInstance.from_config(str(home))
    run_id = "0f0e0d0c-0000-4000-8000-000000000001"

    def entry(message: str) -> EventLogEntry:
        return EventLogEntry(
            error_info=None,
            level="INFO",
            user_message=message,
            run_id=run_id,
            timestamp=time.time(),
        )

    writer.event_log_storage.store_event(entry("run file created"))
    seen: list[str] = []
    arrived = threading.Event()

    def on_event(event: EventLogEntry, _cursor: str) -> None:
        seen.append(event.user_message)
        if event.user_message == "second":
            arrived.set()

    viewer.event_log_storage.watch(run_id, None, on_event)
    try:
        writer.event_log_storage.store_event(entry("first"))
        writer.event_log_storage.store_event(entry("second"))
        assert arrived.wait(timeout=20), f"the watcher saw only {seen}"
    finally:
        viewer.event_log_storage.end_watch(run_id, on_event)
        viewer.dispose()
        writer.dispose()
    assert seen[-2:] == ["first", "second"]


def test_an_instance_opened_outside_dagster_home_is_refused_not_written_elsewhere(
    tmp_path, monkeypatch
):
    _instance(tmp_path / "dagster_home", monkeypatch)
    other = tmp_path / "copied_home"
    other.mkdir()
    (other / "dagster.yaml").write_text(INSTANCE_TEMPLATE.read_text())

    with pytest.raises(ValueError, match="set DAGSTER_HOME to the instance's folder"):
        dg.DagsterInstance.from_config(str(other))
    assert not (other / "history").exists()
