"""A year's report begun while its run still checks the flags: taken by the report when
nothing it read has changed, and the files are those the report writes on its own."""

import datetime as dt
import json
from pathlib import Path

import pytest

from callaudit import storage
from callaudit.report import Period, early
from callaudit.report.build import build_report
from callaudit.report.chromium import find_chromium
from callaudit.report.pdf import page_count, page_destinations
from callaudit.validation.outcome import CRITICAL, Finding
from callaudit.validation.results import (
    daily_check_names,
    record_findings,
    recorded_count,
    wait_recorded,
)
from callaudit.validation.table_checks import FLAG_CHECK_TABLES
from tests.graph import settings_for_test
from tests.report.builders import CONTRACTS_YAML, days, flag, usage, write_day

MARCH = days(dt.date(2022, 3, 1), 31)
YEAR = Period.of_year(2022)
FLAG_CHECKS = tuple(FLAG_CHECK_TABLES)


def record(wh: str, checks: tuple[str, ...]) -> None:
    """Every day of March met every expectation of ``checks``."""
    findings = [
        Finding(day, check, check.rsplit("_", 1)[0], "expect_ok", "", CRITICAL, True)
        for day in MARCH
        for check in checks
    ]
    record_findings(wh, findings, checks)


@pytest.fixture
def march(tmp_path):
    """March 2022 for two partners, a flag on the 9th, every daily check recorded but the
    flag checks' (the run is still checking the flags)."""
    (tmp_path / "contracts.yaml").write_text(CONTRACTS_YAML)
    settings = settings_for_test(
        archive=str(tmp_path / "raw"),
        contracts=str(tmp_path / "contracts.yaml"),
        warehouse=str(tmp_path / "wh"),
        reports=str(tmp_path / "reports"),
    )
    for day in MARCH:
        flags = [flag("acme", "unauthorized_app", "x")] if day.day == 9 else []
        rows = [usage("acme", 50, 500), usage("globex", 5, 50, app_id="globex-feed")]
        write_day(settings.warehouse, day, rows, flag_rows=flags)
    record(settings.warehouse, tuple(c for c in daily_check_names() if c not in FLAG_CHECKS))
    yield settings
    early.cancel_all()


def elsewhere(settings, name: str):
    """The same settings writing the report into another folder."""
    from dataclasses import replace

    return replace(settings, reports=str(Path(settings.reports).parent / name))


def begin(settings) -> None:
    """What `callaudit backfill` and the flags asset do: the report announced, then
    begun when the last run has committed its flags."""
    early.expect(settings, YEAR, MARCH[-1], FLAG_CHECKS)
    early.flags_committed(settings.warehouse, MARCH)


def test_the_work_begun_waits_for_the_flag_checks_and_gives_the_same_report(march):
    record(march.warehouse, FLAG_CHECKS)
    alone = build_report(elsewhere(march, "alone"), YEAR)
    taken = early.taken

    begin(march)
    record(march.warehouse, FLAG_CHECKS)  # the run's flag checks, after the flags
    built = build_report(march, YEAR)

    assert early.taken == taken + 1
    files = {n: storage.read_bytes(u) for n, u in built.files.files.items()}
    before = {n: storage.read_bytes(u) for n, u in alone.files.files.items()}
    assert files["partners.csv"] == before["partners.csv"]
    assert files["flags.csv"] == before["flags.csv"]
    summary, summary_alone = json.loads(files["summary.json"]), json.loads(before["summary.json"])
    for key in ("provenance", "generated_at"):  # when and by which run: not the figures
        summary.pop(key), summary_alone.pop(key)
    assert summary == summary_alone
    assert summary["validation"]["days_validated"] == 31
    if find_chromium() is not None:
        assert page_count(files["report.pdf"]) == page_count(before["report.pdf"]) > 1
        assert page_destinations(files["report.pdf"]) == page_destinations(before["report.pdf"])


def test_a_day_committed_again_since_it_began_is_gathered_afresh(march):
    begin(march)
    record(march.warehouse, FLAG_CHECKS)
    write_day(march.warehouse, MARCH[-1], [usage("acme", 70, 700)], flag_rows=[])
    taken = early.taken

    built = build_report(march, YEAR, pdf=False)

    assert early.taken == taken  # the begun figures read the day's old commit
    acme = next(p for p in built.report.partners if p.partner_id == "acme")
    assert acme.calls == 50 * 30 + 70


def test_nothing_begins_for_another_run_or_warehouse(march):
    early.expect(march, YEAR, MARCH[-1], FLAG_CHECKS)
    early.flags_committed(march.warehouse, MARCH[:10])  # an earlier chunk of the backfill
    early.flags_committed(march.warehouse + "-other", MARCH)
    record(march.warehouse, FLAG_CHECKS)
    taken = early.taken

    build_report(march, YEAR, pdf=False)

    assert early.taken == taken


def test_waiting_for_findings_counts_only_those_recorded_since(march):
    since = recorded_count()
    assert not wait_recorded(FLAG_CHECKS, since, timeout=0.2)
    record(march.warehouse, FLAG_CHECKS[:1])
    assert not wait_recorded(FLAG_CHECKS, since, timeout=0.2)
    record(march.warehouse, FLAG_CHECKS[1:])
    assert wait_recorded(FLAG_CHECKS, since, timeout=0.2)
    assert not wait_recorded(FLAG_CHECKS, recorded_count(), timeout=0.2)
