"""Incremental backfills: a range whose inputs did not change is skipped, a changed day is
computed again with the flag days that depend on it, ``--force`` computes everything.

Every run here is the real command (`callaudit backfill`, in this process so the code
version it records stays the one imported) on ten days of the sample archive, recorded
in a real Dagster instance; what ran is read back from the day commits' manifests and
from the instance's materializations.
"""

import datetime as dt
import os
import shutil

import dagster as dg
import polars as pl
import pytest

from callaudit import warehouse
from callaudit.dates import days_between
from callaudit.flags.freshness import FLAGS
from callaudit.incremental import runs_of
from callaudit.pipelines.cli import main
from callaudit.report import early
from callaudit.schema import ANOMALY_FLAGS, USAGE_DAILY
from callaudit.validation.results import VALIDATION_RESULTS

FIRST, LAST = dt.date(2022, 3, 1), dt.date(2022, 3, 10)
DAYS = days_between(FIRST, LAST)
RANGE = ["--start", FIRST.isoformat(), "--end", LAST.isoformat()]


def commits(wh: str, group: str) -> dict[dt.date, str]:
    """The commit in force of each day of ``group``."""
    return {day: m.commit for day, m in warehouse.day_manifests(wh, group, FIRST, LAST).items()}


def snapshot(wh: str) -> dict[str, dict[dt.date, str]]:
    return {
        group: commits(wh, group)
        for group in (warehouse.DAY_TABLES, FLAGS, VALIDATION_RESULTS.name)
    }


def changed(before: dict[dt.date, str], after: dict[dt.date, str]) -> list[dt.date]:
    return sorted(day for day in after if before.get(day) != after[day])


@pytest.fixture(scope="module")
def first_backfill(sample_archive, tmp_path_factory):
    """Ten days of the sample archive, backfilled once: raw files, contracts, warehouse,
    reports and the Dagster instance, copied by each test that changes them."""
    folder = tmp_path_factory.mktemp("incremental")
    for day in DAYS:
        name = f"date={day.isoformat()}"
        shutil.copytree(sample_archive / "raw" / name, folder / "raw" / name)
    shutil.copy(sample_archive / "contracts.yaml", folder / "contracts.yaml")
    (folder / "home").mkdir()
    with pytest.MonkeyPatch.context() as monkeypatch:
        status, err = _backfill(monkeypatch, folder)
    assert status == 0, err
    return folder, err


def _backfill(monkeypatch, folder, *extra: str) -> tuple[int, str]:
    import contextlib
    import io

    for name in list(os.environ):
        if name.startswith("CALLAUDIT_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("DAGSTER_HOME", str(folder / "home"))
    locations = [
        "--archive", str(folder / "raw"),
        "--contracts", str(folder / "contracts.yaml"),
        "--warehouse", str(folder / "wh"),
        "--reports", str(folder / "reports"),
    ]  # fmt: skip
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        status = main(["backfill", *RANGE, *locations, "--quiet", *extra])
    return status, err.getvalue()


def _backfiller(folder, monkeypatch, first: str):
    def backfill(*extra: str) -> str:
        status, err = _backfill(monkeypatch, folder, *extra)
        assert status == 0, err
        return err

    backfill.first = first
    backfill.wh = str(folder / "wh")
    backfill.raw = folder / "raw"
    backfill.contracts = folder / "contracts.yaml"
    backfill.home = folder / "home"
    backfill.reports = folder / "reports"
    return backfill


@pytest.fixture
def audit(first_backfill, tmp_path, monkeypatch):
    """A copy of the backfilled folder and a `backfill` on it that returns its stderr."""
    folder = tmp_path / "copy"
    shutil.copytree(first_backfill[0], folder)
    return _backfiller(folder, monkeypatch, first_backfill[1])


@pytest.fixture
def audit_in_place(first_backfill, monkeypatch):
    """`backfill` on the backfilled folder itself (its report names where it is)."""
    return _backfiller(first_backfill[0], monkeypatch, first_backfill[1])


def materializations(home, day: dt.date) -> int:
    """usage_daily materializations Dagster recorded for ``day``."""
    with dg.DagsterInstance.from_config(str(home)) as instance:
        records = instance.fetch_materializations(
            dg.AssetRecordsFilter(
                asset_key=dg.AssetKey(USAGE_DAILY.name), asset_partitions=[day.isoformat()]
            ),
            limit=100,
        ).records
    return len(records)


def tables(wh: str) -> dict[str, pl.DataFrame]:
    names = (USAGE_DAILY.name, "partner_daily", "ingest_daily", ANOMALY_FLAGS.name)
    return {name: warehouse.read_range(wh, name, FIRST, LAST) for name in names}


def test_an_unchanged_range_is_skipped_whole_and_its_report_not_rebuilt(audit_in_place):
    audit = audit_in_place
    assert "10 day(s) to compute: 2022-03-01 (never computed)" in audit.first
    before = snapshot(audit.wh)
    assert all(len(c) == len(DAYS) for c in before.values())
    summary = audit.reports / "2022" / "summary.json"
    written = summary.read_bytes()

    again = audit()
    assert "none to compute; 10 day(s) up to date, skipped" in again
    assert "report 2022: up to date, inputs unchanged" in again
    assert " run " not in again  # no Dagster run at all
    assert snapshot(audit.wh) == before
    assert summary.read_bytes() == written
    # nothing new in the instance, so the UI keeps the days' data versions: up to date
    assert materializations(audit.home, FIRST) == 1


def test_a_touched_raw_file_recomputes_its_day_and_the_flags_after_it(audit):
    before = snapshot(audit.wh)
    day = dt.date(2022, 3, 4)
    path = sorted((audit.raw / f"date={day.isoformat()}").glob("*.parquet"))[0]
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))

    err = audit()
    assert "1 day(s) to compute: 2022-03-04 (raw files changed)" in err
    assert "2022-03-04..2022-03-04: ok" in err
    after = snapshot(audit.wh)
    assert changed(before[warehouse.DAY_TABLES], after[warehouse.DAY_TABLES]) == [day]
    # its flags and those of every later day whose history holds it
    assert changed(before[FLAGS], after[FLAGS]) == days_between(day, LAST)
    assert materializations(audit.home, day) == 2
    assert materializations(audit.home, FIRST) == 1


def test_force_recomputes_every_day_to_the_same_tables(audit):
    incremental = tables(audit.wh)
    before = snapshot(audit.wh)

    err = audit("--force")
    assert "10 day(s) to compute: 2022-03-01 (--force)" in err
    after = snapshot(audit.wh)
    for group in before:
        assert changed(before[group], after[group]) == DAYS, group
    for name, frame in tables(audit.wh).items():
        assert frame.equals(incremental[name]), name


def test_the_report_is_begun_while_the_last_run_checks_its_flags(audit):
    taken = early.taken
    audit("--force")  # recomputes the days, then builds the report again
    assert early.taken == taken + 1  # from the figures gathered during the flag checks


def test_changed_contracts_recompute_every_day(audit):
    before = snapshot(audit.wh)
    text = audit.contracts.read_text()
    audit.contracts.write_text(text + "\n# reviewed by legal\n")

    err = audit()
    assert "10 day(s) to compute: 2022-03-01 (contracts.yaml changed)" in err
    assert changed(before[warehouse.DAY_TABLES], snapshot(audit.wh)[warehouse.DAY_TABLES]) == DAYS


def test_runs_cover_consecutive_days_and_say_where_their_block_ends():
    days = [dt.date(2022, 3, d) for d in (1, 2, 3, 4, 5, 9, 10, 20)]
    assert runs_of(days, chunk_days=2) == [
        ([dt.date(2022, 3, 1), dt.date(2022, 3, 2)], dt.date(2022, 3, 5)),
        ([dt.date(2022, 3, 3), dt.date(2022, 3, 4)], dt.date(2022, 3, 5)),
        ([dt.date(2022, 3, 5)], dt.date(2022, 3, 5)),
        ([dt.date(2022, 3, 9), dt.date(2022, 3, 10)], dt.date(2022, 3, 10)),
        ([dt.date(2022, 3, 20)], dt.date(2022, 3, 20)),
    ]


def test_a_report_refuses_days_whose_raw_files_changed_after_their_tables(audit, capsys):
    """A file rewritten after its day was computed: the report would show the old tables
    under the new files' fingerprints. It refuses, naming the day, until it is re-run."""
    import pyarrow.parquet as pq

    day = dt.date(2022, 3, 5)
    path = sorted((audit.raw / f"date={day.isoformat()}").glob("*.parquet"))[0]
    table = pq.read_table(path)
    pq.write_table(table.slice(0, table.num_rows - 5), path)
    locations = [
        "--archive", str(audit.raw),
        "--contracts", str(audit.contracts),
        "--warehouse", audit.wh,
        "--reports", str(audit.reports),
    ]  # fmt: skip
    report = ["report", *RANGE, *locations]

    assert main(report) == 1
    err = capsys.readouterr().err
    assert "1 day(s) have raw files that changed since their tables were computed" in err
    assert "2022-03-05" in err

    audit()  # the backfill recomputes that day (and its dependent flag days)
    capsys.readouterr()
    assert main(report) == 0, capsys.readouterr().err
