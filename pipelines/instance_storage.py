"""The SQLite instance storage of one machine, with its event log kept open.

Dagster's ``SqliteEventLogStorage`` opens a new engine and connection for every event it
stores, commits it with a full sync and closes it again; closing the last connection to
a WAL database checkpoints it. A ranged run records one materialization per partition
of each asset (about 2,000 events for a year), and at that rate the event writes cost
more than computing a small archive's days (measured in benchmarks/RESULTS.md).

This storage is Dagster's own, on the same files (``<DAGSTER_HOME>/history``), with two
differences in how the event log connects: one engine per database file is kept open
(a few, least recently used first out), and the connections run SQLite's
``synchronous=NORMAL``. In WAL mode that is still safe from corruption on a crash or a
power cut; a power cut (not a killed process) can lose the last events before the
checkpoint, which the run's own records survive (the warehouse's day commits are
separate files, written atomically). A step's asset events (a ranged run's
materializations, one per partition, and the run's planned events) are stored in batches:
Dagster hands them over together when ``DAGSTER_EVENT_BATCH_SIZE`` is set, which this
storage sets, and each batch is one transaction per shard instead of two per event. Asset
events a step logs itself (``context.log_event``: a ranged run's raw days, two a day) can
be held and stored the same way (``events_batched``).
Instances created before this storage keep working:
it reads and writes the same layout, and their ``dagster.yaml`` keeps Dagster's default.
"""

import contextlib
import os
import threading
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import sqlalchemy as db
import sqlalchemy.exc as db_exc
from dagster._core.errors import DagsterInvariantViolationError
from dagster._core.events import ASSET_CHECK_EVENTS, ASSET_EVENTS, EVENT_TYPE_TO_PIPELINE_RUN_STATUS
from dagster._core.events.log import EventLogEntry
from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus
from dagster._core.storage.event_log import SqliteEventLogStorage
from dagster._core.storage.event_log.schema import (
    AssetCheckExecutionsTable,
    AssetKeyTable,
    SqlEventLogStorageTable,
)
from dagster._core.storage.event_log.sqlite.sqlite_event_log import INDEX_SHARD_NAME
from dagster._core.storage.sqlite import SQLITE_BUSY_TIMEOUT_SECONDS
from dagster._core.storage.sqlite_storage import DagsterSqliteStorage, _event_logs_directory
from dagster._serdes import ConfigurableClassData, serialize_value
from sqlalchemy.engine import Connection, Engine

#: Engines kept open per process: the index shard and the run shards being written.
OPEN_SHARDS = 4

#: Events Dagster hands over at once when it batches a step's asset events (the
#: materializations of a ranged run's partitions, the run's planned events): one transaction
#: per shard for that many events. A year's output (365 partitions) is one batch; storing a
#: one-run 0.01 year's 5,184 events took 2.8-6.2 s of CPU in batches of 1,000, 3.1-5.7 s in
#: batches of 100, 2.9-5.8 s in batches of 5,000, 9.9-12.9 s event by event (busy machine).
EVENT_BATCH_SIZE = 1000


def _synchronous_normal(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


class PooledSqliteEventLogStorage(SqliteEventLogStorage):
    """``SqliteEventLogStorage`` whose shards' engines stay open between events."""

    #: How long a write waits for another process's write to the same database file.
    busy_timeout_seconds: float = SQLITE_BUSY_TIMEOUT_SECONDS

    def __init__(self, base_dir: str, inst_data: ConfigurableClassData | None = None):
        self._engines: OrderedDict[str, Engine] = OrderedDict()
        self._engines_pid = os.getpid()
        self._engines_lock = threading.Lock()
        # The index connection of the batch this thread is storing: Dagster's asset check
        # writes open their own index connection, which inside a batch must be the batch's.
        self._batch = threading.local()
        # The asset events this thread holds back inside ``events_batched``.
        self._held = threading.local()
        self._tables_present: set[str] = set()
        self._asset_key_columns_present: set[str] = set()
        # Dagster stores a step's asset events one by one unless this is set (it is read at
        # each event, in the process that runs the step: the CLI's, `dagster api
        # execute_run`'s and `dg launch`'s all build this storage from dagster.yaml). In
        # Dagster 1.13.27 nothing else reads it. An explicit value, 0 included, is kept.
        os.environ.setdefault("DAGSTER_EVENT_BATCH_SIZE", str(EVENT_BATCH_SIZE))
        super().__init__(base_dir, inst_data)

    def _engine(self, shard: str) -> Engine:
        with self._engines_lock:
            if self._engines_pid != os.getpid():
                # A forked child must not share its parent's SQLite connections.
                self._engines, self._engines_pid = OrderedDict(), os.getpid()
            engine = self._engines.get(shard)
            if engine is not None:
                self._engines.move_to_end(shard)
                return engine
            engine = db.create_engine(
                self.conn_string_for_shard(shard),
                connect_args={
                    "timeout": self.busy_timeout_seconds,
                    "check_same_thread": False,
                },
                pool_size=1,
                max_overflow=2,
            )
            db.event.listen(engine, "connect", _synchronous_normal)
            self._engines[shard] = engine
            while len(self._engines) > OPEN_SHARDS:
                _, oldest = self._engines.popitem(last=False)
                oldest.dispose()
            return engine

    def _dispose_engines(self) -> None:
        with self._engines_lock:
            engines = list(self._engines.values()) if self._engines_pid == os.getpid() else []
            self._engines = OrderedDict()
        for engine in engines:
            engine.dispose()

    def _ready_engine(self, shard: str) -> Engine:
        engine = self._engine(shard)
        if shard not in self._initialized_dbs:
            self._initdb(engine)
            self._initialized_dbs.add(shard)
        return engine

    @contextmanager
    def _connect(self, shard: str) -> Iterator[Connection]:
        with self._db_lock, self._ready_engine(shard).connect() as conn, conn.begin():
            yield conn

    def index_connection(self):  # Dagster's signature (untyped there)
        batch_conn = getattr(self._batch, "index", None)
        if batch_conn is not None:
            return contextlib.nullcontext(batch_conn)
        return super().index_connection()

    # Dagster asks, for every asset event it stores, whether the index has the tables and
    # asset key columns of its later migrations, each time by reflecting the schema over a
    # new connection. A table or column that is there stays there while this process runs:
    # only `dagster instance migrate` changes the schema (another process, and its upgrades
    # only add: in Dagster 1.13.27's alembic versions the only drops are of 0.x tables), and
    # wipe() keeps the index's tables. Only "present" is remembered: an instance migrated
    # while this process runs is seen at the next event, as by Dagster.
    def has_table(self, table_name: str) -> bool:
        if table_name in self._tables_present:
            return True
        present = super().has_table(table_name)
        if present:
            self._tables_present.add(table_name)
        return present

    def _has_asset_key_col_on_connection(self, conn: Connection, column_name: str) -> bool:
        if column_name in self._asset_key_columns_present:
            return True
        present = super()._has_asset_key_col_on_connection(conn, column_name)
        if present:
            self._asset_key_columns_present.add(column_name)
        return present

    def register_instance(self, instance) -> None:
        # The template names its folder by DAGSTER_HOME (Dagster's config cannot say "the
        # instance's own folder"): an instance opened elsewhere must not write into it.
        expected = _event_logs_directory(instance.root_directory)
        if os.path.realpath(self._base_dir) != os.path.realpath(expected):
            raise ValueError(
                f"the Dagster instance in {instance.root_directory} would store its events "
                f"in {self._base_dir}: its dagster.yaml takes the storage folder from "
                "DAGSTER_HOME; set DAGSTER_HOME to the instance's folder"
            )
        super().register_instance(instance)

    def store_event(self, event: EventLogEntry) -> None:
        held = getattr(self._held, "events", None)
        if held is not None:
            if event.is_dagster_event and event.dagster_event_type in ASSET_EVENTS:
                held.append(event)
                if len(held) >= _event_batch_size():
                    self._store_held(held)
                return
            self._store_held(held)  # what came first is stored first
        super().store_event(event)
        self._touch(event.run_id)

    @contextmanager
    def events_batched(self) -> Iterator[None]:
        """Hold back the asset events this thread stores inside the block, and store them
        as one batch (``store_event_batch``) when it ends, before any other event of the
        thread: for a step that logs many asset events itself (``context.log_event``), each
        of which Dagster stores on its own, two commits each. A 0.01 year's 730 raw-day
        observations and materializations (callaudit.assets.raw) took 1.0-1.4 s of CPU
        that way, 0.2-0.3 s held and stored in one batch (2026-11-29, busy machine).
        What is stored is the same; inside the block, reads of this storage do not see the
        held events yet. At most ``DAGSTER_EVENT_BATCH_SIZE`` events are held, as Dagster's
        batches; with it set to 0 (Dagster's batching off) nothing is held."""
        if getattr(self._held, "events", None) is not None or _event_batch_size() <= 0:
            yield  # an outer block stores them, or batching is off
            return
        self._held.events = held = []
        try:
            yield
        finally:
            self._held.events = None
            self._store_held(held)

    def _store_held(self, held: list[EventLogEntry]) -> None:
        events = list(held)
        held.clear()
        if not events:
            return
        try:
            self.store_event_batch(events)
        except Exception:
            # As Dagster does when a batch fails: a failed batch leaves nothing behind
            # (store_event_batch), so each event is stored once, one by one.
            for event in events:
                super().store_event(event)
                self._touch(event.run_id)

    def _touch(self, run_id: str | None) -> None:
        # Dagster's UI follows a live run by watching its shard file for changes, which
        # an open WAL connection does not make until a checkpoint: say it changed.
        with contextlib.suppress(OSError):
            if run_id:
                os.utime(self.path_for_shard(run_id))

    def store_event_batch(self, events: Sequence[EventLogEntry]) -> None:
        """Store what ``store_event`` stores for each event, in one transaction per shard.

        Dagster's base class stores a batch event by event: two commits (the run's shard,
        then the index's mirror) per partition of a ranged run. Both transactions here stay
        open until all of a run's events are written (the index commits first, then the
        run's shard), so a batch that fails while writing leaves nothing behind and
        Dagster's fallback, storing the events one by one, stores each of them once.
        Dagster's batches are one step's events, of one run.
        """
        runs: dict[str | None, list[EventLogEntry]] = {}
        for event in events:
            runs.setdefault(event.run_id, []).append(event)
        for run_id, run_events in runs.items():
            self._store_run_batch(run_id, run_events)
            self._touch(run_id)

    def _store_run_batch(self, run_id: str | None, events: Sequence[EventLogEntry]) -> None:
        rows = [self._event_to_row(event) for event in events]
        mirrored = [
            (event, row) for event, row in zip(events, rows, strict=True) if _in_index(event)
        ]
        with self._db_lock:
            run_engine = self._ready_engine(run_id)  # ty: ignore[invalid-argument-type]
            index_engine = self._ready_engine(INDEX_SHARD_NAME) if mirrored else None
            with run_engine.connect() as run_conn, run_conn.begin():
                run_conn.execute(SqlEventLogStorageTable.insert(), rows)
                if index_engine is not None:
                    with index_engine.connect() as index_conn, index_conn.begin():
                        self._batch.index = index_conn
                        try:
                            asset_events = self._mirror_in_index(index_conn, mirrored)
                            self._store_asset_events(index_conn, asset_events)
                        finally:
                            self._batch.index = None

    def _mirror_in_index(
        self, conn: Connection, mirrored: Sequence[tuple[EventLogEntry, dict]]
    ) -> list[tuple[EventLogEntry, int] | None]:
        """What ``SqliteEventLogStorage.store_event`` writes into the index shard for each
        event, but the asset's row: each asset event with its index id, for
        ``_store_asset_events``. The events' rows go in as one statement (executemany), not
        one execution each; their ids are then the table's last ones, in order: this
        transaction holds SQLite's write lock from its first insert on, and a new row's id
        is above every id before it. The tags and check rows follow in the events' order.
        A 0.01 year's batches took 1.5-1.6 s of CPU with an execution per event, 1.2-1.3 s
        this way, the raw days' batch included (2026-11-29)."""
        if not mirrored:
            return []
        conn.execute(SqlEventLogStorageTable.insert(), [row for _, row in mirrored])
        id_column = SqlEventLogStorageTable.c.id
        newest = conn.execute(db.select(id_column).order_by(id_column.desc()).limit(len(mirrored)))
        ids = sorted(event_id for (event_id,) in newest)
        if len(ids) != len(mirrored):
            raise DagsterInvariantViolationError("Cannot store asset event tags for null event id.")
        stored: list[tuple[EventLogEntry, int] | None] = [
            (event, event_id) if event.dagster_event_type in ASSET_EVENTS else None
            for (event, _), event_id in zip(mirrored, ids, strict=True)
        ]
        assets = [pair for pair in stored if pair is not None]
        self._store_asset_event_tags(conn, [e for e, _ in assets], [i for _, i in assets])
        for (event, _), event_id in zip(mirrored, ids, strict=True):
            if event.dagster_event_type in ASSET_CHECK_EVENTS:
                self.store_asset_check_event(event, event_id)  # on conn, by index_connection()
        return stored

    def _store_asset_events(
        self, conn: Connection, stored: Sequence[tuple[EventLogEntry, int] | None]
    ) -> None:
        """The asset rows ``_store_asset_event`` leaves after the batch's events, one write
        per asset instead of one per event (each serialising the whole event again).

        Each column keeps the value of the last event that sets it: the last materialization
        (``last_materialization``), the last materialization or planned one (``last_run_id``),
        the last of those or an observation (``last_materialization_timestamp``). Applying
        just those events, in order, leaves what applying all of them does; assets are
        written in the order of their first event, so a new asset's row gets the same id.
        """
        by_asset: dict[str, list[tuple[EventLogEntry, int]]] = {}
        for event_and_id in stored:
            if event_and_id is not None:
                asset_key = event_and_id[0].dagster_event.asset_key  # ty: ignore[possibly-missing-attribute]
                if asset_key is not None:
                    by_asset.setdefault(asset_key.to_string(), []).append(event_and_id)
        if not by_asset:
            return
        has_index_cols = self._has_asset_key_index_cols_on_connection(conn)
        for asset_key, asset_events in by_asset.items():
            values: dict = {}
            for event, event_id in _last_setting_each_column(asset_events):
                values.update(self._get_asset_entry_values(event, event_id, has_index_cols))
            if not values:
                continue
            try:
                conn.execute(AssetKeyTable.insert().values(asset_key=asset_key, **values))
            except db_exc.IntegrityError:
                conn.execute(
                    AssetKeyTable.update()
                    .values(**values)
                    .where(AssetKeyTable.c.asset_key == asset_key)
                )

    def _store_asset_check_evaluation_planned(
        self, event: EventLogEntry, event_id: int | None
    ) -> None:
        # Dagster's, with the event serialised once instead of once per partition, and the
        # rows handed to the driver as parameter sets of one statement (executemany) rather
        # than compiled into one statement with a VALUES clause per row: a ranged run plans
        # each partitioned check for each of its days (365 rows for a year), and compiling
        # that statement, never cached, made a year's run creation 0.87-0.96 s of CPU
        # instead of 0.49-0.54 s (12 checks, 2026-11-29). Same rows, same order.
        planned = event.get_dagster_event().event_specific_data
        partition_keys = (
            planned.partitions_subset.get_partition_keys()  # ty: ignore[possibly-missing-attribute]
            if planned.partitions_subset  # ty: ignore[possibly-missing-attribute]
            else [None]
        )
        evaluation_event = serialize_value(event)
        with self.index_connection() as conn:
            conn.execute(
                AssetCheckExecutionsTable.insert(),
                [
                    dict(
                        asset_key=planned.asset_key.to_string(),  # ty: ignore[possibly-missing-attribute]
                        check_name=planned.check_name,  # ty: ignore[possibly-missing-attribute]
                        partition=partition_key,
                        run_id=event.run_id,
                        execution_status=AssetCheckExecutionRecordStatus.PLANNED.value,
                        evaluation_event=evaluation_event,
                        evaluation_event_timestamp=self._event_insert_timestamp(event),
                        evaluation_event_storage_id=event_id,
                    )
                    for partition_key in partition_keys
                ],
            )

    def wipe(self) -> None:
        self._dispose_engines()  # it deletes the files under open connections otherwise
        self._tables_present.clear()
        self._asset_key_columns_present.clear()
        super().wipe()

    def dispose(self) -> None:
        self._dispose_engines()
        super().dispose()


def _event_batch_size() -> int:
    """Dagster's batch size, as it reads it (set by this storage unless given)."""
    return int(os.getenv("DAGSTER_EVENT_BATCH_SIZE", "0"))


def _last_setting_each_column(
    asset_events: Sequence[tuple[EventLogEntry, int]],
) -> list[tuple[EventLogEntry, int]]:
    """Of one asset's events, in order: the last one setting each column of its row."""
    last: dict[str, int] = {}
    for i, (event, _) in enumerate(asset_events):
        dagster_event = event.get_dagster_event()
        if dagster_event.is_step_materialization:
            last["last_materialization"] = i
        if dagster_event.is_step_materialization or dagster_event.is_asset_materialization_planned:
            last["last_run_id"] = i
        if (
            dagster_event.is_step_materialization
            or dagster_event.is_asset_materialization_planned
            or dagster_event.is_asset_observation
        ):
            last["last_materialization_timestamp"] = i
    return [asset_events[i] for i in sorted(set(last.values()))]


def _in_index(event: EventLogEntry) -> bool:
    """Whether ``SqliteEventLogStorage.store_event`` mirrors the event in the index shard."""
    return event.is_dagster_event and (
        event.dagster_event_type in ASSET_EVENTS
        or event.dagster_event_type in ASSET_CHECK_EVENTS
        or event.dagster_event_type in EVENT_TYPE_TO_PIPELINE_RUN_STATUS
    )


class CallauditSqliteStorage(DagsterSqliteStorage):
    """Dagster's SQLite storage of one folder, with the pooled event log above."""

    def __init__(self, base_dir: str, inst_data: ConfigurableClassData | None = None):
        super().__init__(base_dir, inst_data)
        self._event_log_storage.dispose()
        self._event_log_storage = PooledSqliteEventLogStorage(_event_logs_directory(base_dir))

    @classmethod
    def from_config_value(  # Dagster's returns its own class, not ``cls``
        cls, inst_data: ConfigurableClassData, config_value: dict
    ) -> "CallauditSqliteStorage":
        return cls.from_local(inst_data=inst_data, **config_value)
