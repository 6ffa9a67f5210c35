"""The daily checks started early, in the validation worker, as soon as a run's days are
committed: the check takes that result only when the tables it would read are the ones
validated; in every other case it validates again, and its result is the same as a
validation made at the check's time."""

import dataclasses
import os
import signal

import polars as pl
import pytest

from callaudit import manifests, warehouse
from callaudit.validation import (
    daily_tables_checked,
    run_suite,
    start_daily_tables,
    validate_daily_tables,
    worker,
)
from callaudit.validation import table_checks as checks
from callaudit.validation.frames import validation_frame


@pytest.fixture(autouse=True)
def fresh_worker():
    """Each test starts without a worker or an early validation, and leaves none."""
    worker.shutdown()
    checks._EARLY.clear()
    yield
    checks._EARLY.clear()
    worker.shutdown()


def without_time(reports):
    return {name: dataclasses.replace(r, seconds=0.0) for name, r in reports.items()}


def started(wh) -> worker.Pending:
    """Start the early validation of the warehouse's days; its request in the worker."""
    start_daily_tables(wh.url, wh.days)
    [(_, pending)] = checks._EARLY.values()
    return pending


def test_the_check_takes_the_early_validation_of_unchanged_days(clean):
    pending = started(clean)
    early, commits = pending.result()  # computed in the worker

    checked = daily_tables_checked(clean.url, clean.days)

    assert checks._EARLY == {}  # taken once
    assert checked is early
    assert commits == {
        day: warehouse.day_manifest(clean.url, warehouse.DAY_TABLES, day).commit
        for day in clean.days
    }
    assert without_time(checked) == without_time(validate_daily_tables(clean.url, clean.days))
    assert all(r.success for r in checked.values())


def test_a_day_recommitted_after_the_early_start_is_validated_again(clean):
    pending = started(clean)
    early, _ = pending.result()  # the early validation saw the clean days
    assert early["usage_daily_suite"].success
    day = clean.days[1]
    clean.corrupt("usage_daily", day, lambda f: pl.concat([f, f.head(1)]))  # a new commit

    checked = daily_tables_checked(clean.url, clean.days)

    assert checked is not early
    assert not checked["usage_daily_suite"].success
    assert checked["usage_daily_suite"].failed_days() == [day]
    assert without_time(checked) == without_time(validate_daily_tables(clean.url, clean.days))


def test_an_early_validation_of_other_days_is_not_taken(clean):
    start_daily_tables(clean.url, clean.days[:2])

    checked = daily_tables_checked(clean.url, clean.days)

    assert all(r.days == clean.days for r in checked.values())
    assert without_time(checked) == without_time(validate_daily_tables(clean.url, clean.days))


def test_an_error_of_the_early_validation_is_the_checks_error(clean):
    day = clean.days[0]
    manifest = warehouse.day_manifest(clean.url, warehouse.DAY_TABLES, day)
    url = manifests.file_url(clean.url, "usage_daily", day, manifest.tables["usage_daily"].file)
    os.remove(url)  # the commit names a file that is gone

    start_daily_tables(clean.url, clean.days)
    with pytest.raises(manifests.ManifestError, match="usage_daily of 2022-03-01"):
        daily_tables_checked(clean.url, clean.days)


def test_a_worker_killed_during_the_early_validation_leaves_the_check_to_validate_again(
    clean,
):
    pending = started(clean)
    os.kill(worker.worker_pid(), signal.SIGKILL)
    with pytest.raises(worker.WorkerLost):
        pending.result()
    start_daily_tables(clean.url, clean.days)  # and once more, killed before it answers
    os.kill(worker.worker_pid(), signal.SIGKILL)

    checked = daily_tables_checked(clean.url, clean.days)

    assert without_time(checked) == without_time(validate_daily_tables(clean.url, clean.days))
    assert all(r.success for r in checked.values())


def test_a_suite_validated_while_an_early_validation_is_pending_gets_its_own_answer(clean):
    frame = validation_frame(
        "usage_daily", warehouse.read_days(clean.url, "usage_daily", clean.days)
    )
    pending = started(clean)

    suite = run_suite("usage_daily", frame)  # waits for the early reply, then its own

    assert suite.suite == "usage_daily" and suite.rows == frame.height
    early, _ = pending.result()
    assert set(early) == set(validate_daily_tables(clean.url, clean.days))


def test_without_a_worker_nothing_starts_early_and_the_check_validates_in_process(
    clean, monkeypatch
):
    monkeypatch.setenv("CALLAUDIT_VALIDATION_WORKER", "0")
    start_daily_tables(clean.url, clean.days)
    assert checks._EARLY == {}

    checked = daily_tables_checked(clean.url, clean.days)

    assert worker.worker_pid() is None
    assert all(r.success for r in checked.values())


def test_a_broken_suite_starts_nothing_and_is_the_checks_error(clean, monkeypatch, tmp_path):
    suites = tmp_path / "expectations"
    suites.mkdir()
    for name in checks._DAILY_TABLES:
        (suites / f"{name}.json").write_text('{"expectations": []}')
    (suites / "quarantine.json").write_text("{not json")
    monkeypatch.setenv("CALLAUDIT_EXPECTATIONS", str(suites))

    start_daily_tables(clean.url, clean.days)  # the day tables' run goes on
    assert checks._EARLY == {}
    with pytest.raises(ValueError, match=r"quarantine\.json: not valid JSON"):
        daily_tables_checked(clean.url, clean.days)
