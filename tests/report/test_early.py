"""A year's report begun while its run still checks the flags: taken by the report when
nothing it read has changed, and the files are those the report writes on its own."""

import datetime as dt
import json
import time
from pathlib import Path

import pytest

from callaudit import storage
from callaudit.report import Period, chromium, early
from callaudit.report.build import build_report
from callaudit.report.chromium import find_chromium
from callaudit.report.pdf import page_count, page_destinations
from callaudit.validation.outcome import CRITICAL, WARNING, Finding
from callaudit.validation.results import (
    daily_check_names,
    range_validation,
    record_findings,
    recorded_count,
    wait_recorded,
)
from callaudit.validation.table_checks import DAILY_CHECK_TABLES, FLAG_CHECK_TABLES
from tests.graph import settings_for_test
from tests.report.builders import CONTRACTS_YAML, days, flag, usage, write_day

MARCH = days(dt.date(2022, 3, 1), 31)
YEAR = Period.of_year(2022)
FLAG_CHECKS = tuple(FLAG_CHECK_TABLES)
TABLE_OF = {**DAILY_CHECK_TABLES, **FLAG_CHECK_TABLES}


def record(wh: str, checks: tuple[str, ...], warned: tuple[dt.date, ...] = ()) -> None:
    """Every day of March met every expectation of ``checks``, but a warning of each on
    the ``warned`` days."""
    findings = [
        Finding(day, check, TABLE_OF[check], "expect_ok", "", CRITICAL, True)
        for day in MARCH
        for check in checks
    ] + [
        Finding(day, check, TABLE_OF[check], "expect_quiet", "", WARNING, False, 1)
        for day in warned
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
    early.expect(settings, YEAR, MARCH[-1], FLAG_CHECK_TABLES)
    early.flags_committed(settings.warehouse, MARCH)


def test_the_work_begun_waits_for_the_flag_checks_and_gives_the_same_report(march):
    record(march.warehouse, FLAG_CHECKS)
    alone = build_report(elsewhere(march, "alone"), YEAR)
    taken, prints, untagged = early.taken, chromium.prints, chromium.untagged_prints
    launched = chromium.launched

    begin(march)
    record(march.warehouse, FLAG_CHECKS)  # the run's flag checks, after the flags
    built = build_report(march, YEAR)

    assert early.taken == taken + 1
    if find_chromium() is not None:
        # The pages were found while the checks ran, their passing guessed right: one
        # page-finding print, then the report's one tagged print, in the Chromium the
        # work started and handed over.
        assert (chromium.untagged_prints - untagged, chromium.prints - prints) == (1, 2)
        assert chromium.launched - launched == 1
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
    early.expect(march, YEAR, MARCH[-1], FLAG_CHECK_TABLES)
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


def test_flag_checks_that_warn_unlike_the_guess_have_the_pages_found_again(march):
    warned = tuple(MARCH[8:20])  # a long "Days with warnings" list moves the provenance
    record(march.warehouse, FLAG_CHECKS, warned)
    alone = build_report(elsewhere(march, "alone"), YEAR)
    taken, untagged = early.taken, chromium.untagged_prints

    begin(march)
    if find_chromium() is not None:  # the checks still run when the pages are found
        deadline = time.monotonic() + 60
        while chromium.untagged_prints == untagged and time.monotonic() < deadline:
            time.sleep(0.01)
    record(march.warehouse, FLAG_CHECKS, warned)
    built = build_report(march, YEAR)

    assert early.taken == taken + 1
    assert sorted(built.report.validation.warned_days) == list(warned)
    if find_chromium() is not None:
        assert chromium.untagged_prints - untagged == 2  # the guess's, then the findings'
        pdf, pdf_alone = (storage.read_bytes(b.files.files["report.pdf"]) for b in (built, alone))
        assert page_destinations(pdf) == page_destinations(pdf_alone)


def test_the_validation_read_is_handed_over_only_while_nothing_was_recorded_since(march):
    record(march.warehouse, FLAG_CHECKS)
    inputs = early.inputs_now(march.warehouse, YEAR, "sha", early.Reviews())
    begun = early.Begun(
        inputs,
        report=None,
        pages={},
        validation=range_validation(march.warehouse, MARCH),
        validation_commits=early.validation_commits(march.warehouse, YEAR),
    )
    assert begun.validation_now() == range_validation(march.warehouse, MARCH)

    record(march.warehouse, FLAG_CHECKS, warned=(MARCH[3],))  # a check judged a day again

    assert begun.validation_now() is None


def test_the_validation_guessed_takes_the_checks_still_running_as_passed(march):
    record(march.warehouse, FLAG_CHECKS, warned=(MARCH[3],))
    passed = range_validation(march.warehouse, MARCH, assume_passed=FLAG_CHECK_TABLES)
    not_yet = range_validation(march.warehouse, MARCH)

    record(march.warehouse, FLAG_CHECKS)  # now they have passed every day

    assert passed == range_validation(march.warehouse, MARCH) != not_yet
    assert not passed.warned_days and passed.days_validated == 31
