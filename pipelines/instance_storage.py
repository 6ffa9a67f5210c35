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
separate files, written atomically). Instances created before this storage keep working:
it reads and writes the same layout, and their ``dagster.yaml`` keeps Dagster's default.
"""

import contextlib
import os
import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as db
from dagster._core.events.log import EventLogEntry
from dagster._core.storage.event_log import SqliteEventLogStorage
from dagster._core.storage.sqlite import SQLITE_BUSY_TIMEOUT_SECONDS
from dagster._core.storage.sqlite_storage import DagsterSqliteStorage, _event_logs_directory
from dagster._serdes import ConfigurableClassData
from sqlalchemy.engine import Connection, Engine

#: Engines kept open per process: the index shard and the run shards being written.
OPEN_SHARDS = 4


def _synchronous_normal(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


class PooledSqliteEventLogStorage(SqliteEventLogStorage):
    """``SqliteEventLogStorage`` whose shards' engines stay open between events."""

    def __init__(self, base_dir: str, inst_data: ConfigurableClassData | None = None):
        self._engines: OrderedDict[str, Engine] = OrderedDict()
        self._engines_pid = os.getpid()
        self._engines_lock = threading.Lock()
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
                    "timeout": SQLITE_BUSY_TIMEOUT_SECONDS,
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

    @contextmanager
    def _connect(self, shard: str) -> Iterator[Connection]:
        with self._db_lock:
            engine = self._engine(shard)
            if shard not in self._initialized_dbs:
                self._initdb(engine)
                self._initialized_dbs.add(shard)
            with engine.connect() as conn, conn.begin():
                yield conn

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
        super().store_event(event)
        # Dagster's UI follows a live run by watching its shard file for changes, which
        # an open WAL connection does not make until a checkpoint: say it changed.
        with contextlib.suppress(OSError):
            if event.run_id:
                os.utime(self.path_for_shard(event.run_id))

    def wipe(self) -> None:
        self._dispose_engines()  # it deletes the files under open connections otherwise
        super().wipe()

    def dispose(self) -> None:
        self._dispose_engines()
        super().dispose()


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
