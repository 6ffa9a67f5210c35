"""The instance template's SQLite storage: Dagster's files, its event log kept open."""

import contextlib
import os
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.events import (
    ASSET_EVENTS,
    DagsterEventBatchMetadata,
    generate_event_batch_id,
)
from dagster._core.events.log import EventLogEntry
from dagster._core.storage.event_log import SqliteEventLogStorage
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
)

from callaudit.pipelines.instance import INSTANCE_TEMPLATE
from callaudit.pipelines.instance_storage import (
    EVENT_BATCH_SIZE,
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
    connection, one by one or in a batch, must still wake it."""
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
    arrived = {"second": threading.Event(), "fourth": threading.Event()}

    def on_event(event: EventLogEntry, _cursor: str) -> None:
        seen.append(event.user_message)
        if event.user_message in arrived:
            arrived[event.user_message].set()

    viewer.event_log_storage.watch(run_id, None, on_event)
    try:
        writer.event_log_storage.store_event(entry("first"))
        writer.event_log_storage.store_event(entry("second"))
        assert arrived["second"].wait(timeout=20), f"the watcher saw only {seen}"
        time.sleep(1.0)  # the file's changes so far are all handled: none wakes it later
        # A batch (a ranged run's materializations) wakes it too.
        writer.event_log_storage.store_event_batch([entry("third"), entry("fourth")])
        assert arrived["fourth"].wait(timeout=20), f"the watcher saw only {seen}"
    finally:
        viewer.event_log_storage.end_watch(run_id, on_event)
        viewer.dispose()
        writer.dispose()
    assert seen[-4:] == ["first", "second", "third", "fourth"]


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


DAYS = dg.DailyPartitionsDefinition(start_date="2022-01-01", end_date="2022-01-09")


@dg.asset(partitions_def=DAYS, code_version="1", backfill_policy=dg.BackfillPolicy.single_run())
def day_table(context: dg.AssetExecutionContext) -> dg.Output[None]:
    """A ranged run's asset: one materialization per day, each with its own metadata."""
    days = context.partition_keys
    return dg.Output(None, metadata={"days": len(days), "last_day": days[-1]})


@dg.asset(
    partitions_def=DAYS,
    code_version="1",
    backfill_policy=dg.BackfillPolicy.single_run(),
    deps=[day_table],
)
def day_summary(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    return dg.MaterializeResult(metadata={"first_day": context.partition_keys[0]})


@dg.multi_asset_check(
    specs=[
        dg.AssetCheckSpec("has_rows", asset=day_table),
        dg.AssetCheckSpec("sums_match", asset=day_summary, blocking=True),
    ]
)
def day_checks(context: dg.AssetCheckExecutionContext):
    """Checks of the run's days, like callaudit's: one result per table for the range."""
    yield dg.AssetCheckResult(
        asset_key="day_table", check_name="has_rows", passed=True, metadata={"days": 8}
    )
    yield dg.AssetCheckResult(asset_key="day_summary", check_name="sums_match", passed=False)


@dg.asset_check(asset=day_table, partitions_def=DAYS)
def each_day_present(context: dg.AssetCheckExecutionContext) -> dg.AssetCheckResult:
    """A partitioned check: Dagster plans it for every day of the run."""
    return dg.AssetCheckResult(passed=True)


DEFS = [day_table, day_summary, day_checks, each_day_present]
RANGE = {
    ASSET_PARTITION_RANGE_START_TAG: "2022-01-01",
    ASSET_PARTITION_RANGE_END_TAG: "2022-01-08",
}


def _records(instance: dg.DagsterInstance, run_id: str) -> dict:
    """What the UI and callaudit read back about a run, without its ids and times."""
    storage = instance.event_log_storage
    found: dict = {}
    for key in (dg.AssetKey("day_table"), dg.AssetKey("day_summary")):
        partitions = sorted(storage.get_materialized_partitions(key))
        latest = {}
        for partition in partitions:
            (record,) = instance.fetch_materializations(
                dg.AssetRecordsFilter(asset_key=key, asset_partitions=[partition]), limit=1
            ).records
            assert record.run_id == run_id
            latest[partition] = record.asset_materialization.metadata
        planned = instance.get_event_records(
            dg.EventRecordsFilter(dg.DagsterEventType.ASSET_MATERIALIZATION_PLANNED, key)
        )
        (asset_record,) = instance.get_asset_records([key])
        entry = asset_record.asset_entry
        tags = storage.get_latest_tags_by_partition(
            key, dg.DagsterEventType.ASSET_MATERIALIZATION, ["dagster/data_version"]
        )
        assert entry.last_run_id == run_id
        found[key.to_user_string()] = {
            "partitions": partitions,
            "latest": latest,
            "planned": sorted(r.partition_key for r in planned),
            "last_materialization": entry.last_materialization.asset_materialization.partition,
            "data_versions": {p: t["dagster/data_version"] for p, t in tags.items()},
            "status_by_partition": storage.get_latest_storage_id_by_partition(
                key, dg.DagsterEventType.ASSET_MATERIALIZATION
            ).keys(),
        }
    checks = {}
    for check_key in (
        dg.AssetCheckKey(dg.AssetKey("day_table"), "has_rows"),
        dg.AssetCheckKey(dg.AssetKey("day_summary"), "sums_match"),
        dg.AssetCheckKey(dg.AssetKey("day_table"), "each_day_present"),
    ):
        history = storage.get_asset_check_execution_history(check_key, limit=100)
        checks[check_key.to_user_string()] = [
            (
                r.partition,
                r.status.value,
                r.run_id == run_id,
                r.event.dagster_event.asset_check_evaluation_data.metadata
                if r.event
                and r.event.dagster_event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION
                else None,
            )
            for r in history
        ]
    events = [
        (
            r.event_log_entry.dagster_event_type,
            r.event_log_entry.step_key,
            r.event_log_entry.dagster_event.partition if r.event_log_entry.dagster_event else None,
        )
        for r in storage.get_records_for_run(run_id).records
        if r.event_log_entry.is_dagster_event
    ]
    return {"assets": found, "checks": checks, "run_events": events}


def _ranged_run(instance: dg.DagsterInstance) -> str:
    result = dg.materialize(DEFS, instance=instance, tags=RANGE, raise_on_error=False)
    assert not result.success  # the blocking check fails, as it should
    return result.run_id


def test_a_ranged_run_stored_in_batches_reads_back_as_with_dagsters_default_storage(
    tmp_path, monkeypatch
):
    """Eight days, two assets, per-run and per-day checks: with this storage (events in
    batches) and with Dagster's own (event by event), the same records."""
    monkeypatch.delenv("DAGSTER_EVENT_BATCH_SIZE", raising=False)
    default_home = tmp_path / "default_home"
    default_home.mkdir()
    with dg.DagsterInstance.from_config(str(default_home)) as default:
        assert type(default.event_log_storage) is SqliteEventLogStorage
        expected = _records(default, _ranged_run(default))

    instance = _instance(tmp_path / "dagster_home", monkeypatch)
    # The storage turns Dagster's batching on for the process that runs the steps.
    assert os.environ["DAGSTER_EVENT_BATCH_SIZE"] == str(EVENT_BATCH_SIZE)
    with instance:
        stored = _records(instance, _ranged_run(instance))

    assert stored == expected
    assert stored["assets"]["day_table"]["partitions"] == [f"2022-01-0{d}" for d in range(1, 9)]
    assert stored["assets"]["day_table"]["latest"]["2022-01-05"] == {
        "days": dg.IntMetadataValue(8),
        "last_day": dg.TextMetadataValue("2022-01-08"),
    }
    # Dagster 1.13 plans the per-day check for each day and records its one evaluation
    # without a partition: the same rows as its own storage, each day's kept.
    per_day = stored["checks"]["day_table:each_day_present"]
    assert sorted(p for p, status, *_ in per_day if status == "PLANNED") == [
        f"2022-01-0{d}" for d in range(1, 9)
    ]
    assert per_day[0] == (None, "SUCCEEDED", True, {})


def _default_run_events(tmp_path, monkeypatch) -> list[EventLogEntry]:
    """The events of a ranged run recorded by Dagster's own storage, event by event."""
    monkeypatch.delenv("DAGSTER_EVENT_BATCH_SIZE", raising=False)
    home = tmp_path / "recorded_home"
    home.mkdir()
    with dg.DagsterInstance.from_config(str(home)) as instance:
        run_id = _ranged_run(instance)
        return list(instance.all_logs(run_id))


def _tables(db_file) -> dict[str, list[tuple]]:
    """Every row of every table of a SQLite file, without the times of its creation."""
    with sqlite3.connect(db_file) as conn:
        names = [n for (n,) in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        tables = {}
        for name in names:
            columns = [c[1] for c in conn.execute(f"PRAGMA table_info({name})")]
            kept = [c for c in columns if c not in ("create_timestamp", "migration_completed")]
            listed = ", ".join(f'"{c}"' for c in kept)
            rows = conn.execute(f'SELECT {listed} FROM "{name}" ORDER BY rowid')
            tables[name] = [tuple(kept), *rows.fetchall()]
    return tables


def test_a_batch_stores_row_for_row_what_dagster_stores_event_by_event(tmp_path, monkeypatch):
    """The run's shard and the index hold the same rows, ids included, whether the run's
    events are stored one by one by Dagster's storage or in batches by this one."""
    events = _default_run_events(tmp_path, monkeypatch)
    run_id = events[0].run_id
    kinds = {e.dagster_event_type for e in events if e.is_dagster_event}
    assert {
        dg.DagsterEventType.RUN_FAILURE,  # a run status, mirrored in the index
        dg.DagsterEventType.ASSET_MATERIALIZATION,
        dg.DagsterEventType.ASSET_MATERIALIZATION_PLANNED,
        dg.DagsterEventType.ASSET_CHECK_EVALUATION,
        dg.DagsterEventType.ASSET_CHECK_EVALUATION_PLANNED,
    } <= kinds

    one_by_one = SqliteEventLogStorage(str(tmp_path / "one_by_one"))
    batched = PooledSqliteEventLogStorage(str(tmp_path / "batched"))
    for event in events:
        one_by_one.store_event(event)
    # Split amid the materializations: the second batch updates the assets' rows.
    materializations = [
        i
        for i, e in enumerate(events)
        if e.dagster_event_type == dg.DagsterEventType.ASSET_MATERIALIZATION
    ]
    split = materializations[4]
    batched.store_event_batch(events[:split])
    batched.store_event_batch(events[split:])
    batched.dispose()
    one_by_one.dispose()

    for shard in ("index", run_id):
        expected = _tables(tmp_path / "one_by_one" / f"{shard}.db")
        assert _tables(tmp_path / "batched" / f"{shard}.db") == expected
    assert len(expected["event_logs"]) == len(events) + 1  # and its header


def test_asset_events_held_in_a_block_are_stored_at_its_end_as_dagster_stores_them(
    tmp_path, monkeypatch
):
    """A step that logs many asset events itself (a ranged run's raw days) holds them in
    ``events_batched``: a run's events stored one by one inside the block leave, row for
    row, what Dagster's own storage leaves; an asset event waits for the block's end, and
    any other event (a log line, the run's status) first stores what is held."""
    events = _default_run_events(tmp_path, monkeypatch)
    monkeypatch.setenv("DAGSTER_EVENT_BATCH_SIZE", str(EVENT_BATCH_SIZE))
    run_id = events[0].run_id
    first_asset = next(
        i
        for i, e in enumerate(events)
        if e.is_dagster_event and e.dagster_event_type in ASSET_EVENTS
    )
    # Other events come between asset events: each must first store what is held.
    assert any(
        not (e.is_dagster_event and e.dagster_event_type in ASSET_EVENTS)
        for e in events[first_asset + 1 : -1]
    )

    one_by_one = SqliteEventLogStorage(str(tmp_path / "one_by_one"))
    batched = PooledSqliteEventLogStorage(str(tmp_path / "batched"))
    for event in events:
        one_by_one.store_event(event)
    with batched.events_batched():
        for event in events[: first_asset + 1]:
            batched.store_event(event)
        held_back = len(batched.get_records_for_run(run_id).records)
        for event in events[first_asset + 1 :]:
            batched.store_event(event)
    batched.dispose()
    one_by_one.dispose()

    assert held_back == first_asset  # the asset event is held, what came before is stored
    for shard in ("index", run_id):
        expected = _tables(tmp_path / "one_by_one" / f"{shard}.db")
        assert _tables(tmp_path / "batched" / f"{shard}.db") == expected
    assert len(expected["event_logs"]) == len(events) + 1  # and its header


def test_nothing_is_held_with_dagsters_batching_turned_off(tmp_path, monkeypatch):
    """DAGSTER_EVENT_BATCH_SIZE=0 turns Dagster's batches off, and these with them."""
    (event,) = [
        e
        for e in _default_run_events(tmp_path, monkeypatch)
        if e.dagster_event_type == dg.DagsterEventType.ASSET_MATERIALIZATION
        and e.dagster_event.partition == "2022-01-01"
        and e.dagster_event.asset_key == dg.AssetKey("day_table")
    ]
    monkeypatch.setenv("DAGSTER_EVENT_BATCH_SIZE", "0")
    storage = PooledSqliteEventLogStorage(str(tmp_path / "unbatched"))
    with storage.events_batched():
        storage.store_event(event)
        stored = storage.get_records_for_run(event.run_id).records
    storage.dispose()
    assert [r.event_log_entry.dagster_event.partition for r in stored] == ["2022-01-01"]


def test_a_batch_that_fails_is_stored_again_event_by_event_each_event_once(
    tmp_path, monkeypatch, capfd
):
    """Another process writes to the index longer than a write waits: the batch fails as a
    whole (nothing of it stays in the run's file) and Dagster stores its events one by one."""
    events = [
        e
        for e in _default_run_events(tmp_path, monkeypatch)
        if e.dagster_event_type == dg.DagsterEventType.ASSET_MATERIALIZATION
        and e.dagster_event.asset_key == dg.AssetKey("day_table")
    ]
    assert len(events) == 8
    instance = _instance(tmp_path / "dagster_home", monkeypatch)
    storage = instance.event_log_storage
    storage.busy_timeout_seconds = 1.0  # SQLite's wait, 30 s by default
    run_file = Path(storage.path_for_shard(events[0].run_id))

    other_writer = sqlite3.connect(
        storage.path_for_shard("index"), isolation_level=None, check_same_thread=False
    )
    other_writer.execute("BEGIN IMMEDIATE")  # holds the index's write lock

    def release_once_an_event_is_stored_alone() -> None:
        # The failed batch leaves no row in the run's file; the first single write commits
        # its row there, then waits for the index: the other writer lets it have it.
        while True:
            if run_file.exists():
                with (
                    contextlib.suppress(sqlite3.Error),
                    contextlib.closing(sqlite3.connect(run_file)) as reader,
                ):
                    if reader.execute("SELECT count(*) FROM event_logs").fetchone()[0]:
                        break
            time.sleep(0.02)
        other_writer.execute("ROLLBACK")

    releaser = threading.Thread(target=release_once_an_event_is_stored_alone, daemon=True)
    releaser.start()
    batch_id = generate_event_batch_id()
    with instance:
        for i, event in enumerate(events):
            metadata = DagsterEventBatchMetadata(batch_id, i == len(events) - 1)
            instance.handle_new_event(event, batch_metadata=metadata)
        releaser.join(timeout=5)
        stored = storage.get_records_for_run(events[0].run_id).records
        partitions = storage.get_materialized_partitions(dg.AssetKey("day_table"))
    other_writer.close()

    stderr = capfd.readouterr().err
    assert (
        "Exception while storing event batch: (sqlite3.OperationalError) database is locked"
        in stderr
    )
    assert [r.event_log_entry.dagster_event.partition for r in stored] == [
        f"2022-01-0{d}" for d in range(1, 9)
    ]
    assert partitions == {f"2022-01-0{d}" for d in range(1, 9)}


def test_a_process_that_loads_the_instance_batches_unless_told_otherwise(tmp_path, monkeypatch):
    """Runs launched by the UI, the daemon or `dg launch` execute in a process that loads
    the instance from DAGSTER_HOME: loading it turns Dagster's batching on there, and an
    explicit DAGSTER_EVENT_BATCH_SIZE (0 turns batching off) is kept."""
    home = tmp_path / "dagster_home"
    _instance(home, monkeypatch).dispose()
    load = (
        "import os, dagster as dg\n"
        "instance = dg.DagsterInstance.get()\n"
        "print(type(instance.event_log_storage).__name__, os.environ['DAGSTER_EVENT_BATCH_SIZE'])\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "DAGSTER_EVENT_BATCH_SIZE"}
    env["DAGSTER_HOME"] = str(home)
    batching = subprocess.run(
        [sys.executable, "-c", load], env=env, capture_output=True, text=True, check=True
    )
    assert batching.stdout.split() == ["PooledSqliteEventLogStorage", str(EVENT_BATCH_SIZE)]
    told = subprocess.run(
        [sys.executable, "-c", load],
        env={**env, "DAGSTER_EVENT_BATCH_SIZE": "0"},
        capture_output=True,
        text=True,
        check=True,
    )
    assert told.stdout.split() == ["PooledSqliteEventLogStorage", "0"]
