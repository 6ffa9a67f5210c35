"""The per-day writer lock in the warehouse, on a local disk and on a real S3 server
(moto): one live holder per day, refusals that name it, stale locks taken over."""

import datetime as dt
import json
import re
import socket
import subprocess
import sys
import uuid

import pytest

from callaudit import storage, writer_lock
from callaudit.writer_lock import DaysLocked, holding, lock_url

DAYS = [dt.date(2022, 2, 1) + dt.timedelta(days=i) for i in range(5)]
HOUR = 3600.0


@pytest.fixture(params=["local", "s3"])
def warehouse(request, tmp_path) -> str:
    if request.param == "local":
        return str(tmp_path / "warehouse")
    import boto3

    endpoint = request.getfixturevalue("s3_server")
    bucket = f"locks-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket=bucket)
    return f"s3://{bucket}/warehouse"


def dead_pid() -> int:
    """The pid of a process that has exited."""
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def plant(warehouse: str, day: dt.date, **holder) -> None:
    """A lock object as another writer left it."""
    record = {
        "owner": "run 0badc0de",
        "host": socket.gethostname(),
        "pid": dead_pid(),
        "started": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "first": DAYS[0].isoformat(),
        "last": DAYS[-1].isoformat(),
        "token": "theirs",
        **holder,
    }
    storage.write_text_atomic(lock_url(warehouse, day), json.dumps(record))


def test_a_second_writer_of_overlapping_days_is_refused_naming_the_first(warehouse):
    later = [DAYS[-1], DAYS[-1] + dt.timedelta(days=1)]
    with holding(warehouse, DAYS, "run aaaaaaaa", stale_after=HOUR) as first:
        with (
            pytest.raises(DaysLocked) as refused,
            holding(warehouse, later, "run bbbbbbbb", stale_after=HOUR),
        ):
            pytest.fail("two writers of 2022-02-05")
        held = writer_lock.held(warehouse, DAYS, stale_after=HOUR)
        assert sorted(held) == DAYS
        assert {h.token for h in held.values()} == {first.token}

    message = str(refused.value)
    assert message.startswith(f"another writer holds days of {warehouse}: run aaaaaaaa of "
                              f"2022-02-01..2022-02-05, pid {first.pid} on {first.host}, since ")  # fmt: skip
    assert f"(lock {lock_url(warehouse, DAYS[-1])})" in message
    # the refused writer took nothing (not even 2022-02-06), the first released its days
    assert (
        writer_lock.held(warehouse, [*DAYS, DAYS[-1] + dt.timedelta(days=1)], stale_after=HOUR)
        == {}
    )
    assert not storage.exists(lock_url(warehouse, DAYS[-1] + dt.timedelta(days=1)))


def test_writers_of_different_days_do_not_contend(warehouse):
    with (
        holding(warehouse, DAYS[:2], "run aaaaaaaa", stale_after=HOUR),
        holding(warehouse, DAYS[2:], "run bbbbbbbb", stale_after=HOUR),
    ):
        assert sorted(writer_lock.held(warehouse, DAYS, stale_after=HOUR)) == DAYS


def test_the_lock_of_a_killed_writer_on_this_host_is_taken_over_at_once(warehouse):
    plant(warehouse, DAYS[2])
    notes: list[str] = []

    with holding(warehouse, DAYS, "run bbbbbbbb", stale_after=HOUR, notes=notes) as me:
        assert writer_lock.held(warehouse, [DAYS[2]], stale_after=HOUR)[DAYS[2]].token == me.token

    [note] = notes
    assert note.startswith("took over the stale lock of 2022-02-03 (run 0badc0de of ")
    assert note.endswith(f"on {socket.gethostname()}) is gone")


def test_a_lock_of_another_host_holds_until_it_is_older_than_the_stale_age(warehouse):
    hour_ago = (dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)).isoformat(timespec="seconds")
    plant(warehouse, DAYS[0], host="worker-7", pid=1, started=hour_ago)

    with (
        pytest.raises(
            DaysLocked, match=re.escape("0badc0de of 2022-02-01..2022-02-05, pid 1 on worker-7")
        ),
        holding(warehouse, DAYS, "run bbbbbbbb", stale_after=2 * HOUR),
    ):
        pytest.fail("a live holder on another host was overridden")

    notes: list[str] = []
    with holding(warehouse, DAYS, "run bbbbbbbb", stale_after=HOUR / 2, notes=notes):
        pass
    assert len(notes) == 1
    assert "taken 3,6" in notes[0] and "more than the 1,800 s a writer may hold it" in notes[0]


def test_a_writer_releases_only_its_own_lock(warehouse):
    with holding(warehouse, DAYS[:1], "run aaaaaaaa", stale_after=HOUR):
        # its lock judged stale and replaced meanwhile by another writer (another host)
        storage.remove(lock_url(warehouse, DAYS[0]))
        plant(warehouse, DAYS[0], host="worker-7", pid=1, token="newer")

    left = json.loads(storage.read_text(lock_url(warehouse, DAYS[0])))
    assert left["token"] == "newer"
