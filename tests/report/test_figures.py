"""The figures of a year, checked against the warehouse read independently (DuckDB)."""

import datetime as dt
import json
from pathlib import Path

import duckdb
import pytest

from callaudit.report import NoDataError, first_line, gather_year, write_report
from callaudit.report.tables import summary
from tests.report.builders import contracts, days, flag, network, usage, write_day


@pytest.fixture
def wh(tmp_path):
    """Jan-Feb 2022 for acme (one unauthorised app), a few days of globex, one unknown
    partner, flags on two days, a restricted-network call, and a day in 2023."""
    wh = tmp_path / "warehouse"
    for i, day in enumerate(days(dt.date(2022, 1, 1), 59)):
        rows = [usage("acme", 10 + i, 100 + i)]
        if day.day == 5:
            rows.append(usage("acme", 3, 30, app_id="acme-scraper"))
        if day.month == 2 and day.day <= 3:
            rows.append(usage("globex", 7, 70, app_id="globex-feed", endpoint="GET /2/users"))
            rows.append(usage("initech", 2, 5, app_id="x"))
        flags = [flag("acme", "unauthorized_app", "acme-scraper called")] if day.day == 5 else []
        nets = (
            [network("globex", "globex-feed", "gov-agency-a", 1, 4)]
            if day == dt.date(2022, 2, 2)
            else []
        )
        write_day(wh, day, rows, network_rows=nets, flag_rows=flags, duplicates=1)
    write_day(wh, dt.date(2023, 1, 1), [usage("acme", 999, 999)], flag_rows=[])
    return wh


def duck_totals(wh, year: int) -> dict:
    """calls/items/bytes per partner straight from the Parquet files."""
    rows = duckdb.sql(
        f"""
        select partner_id, sum(calls), sum(items), sum(bytes), count(distinct date)
        from read_parquet('{wh}/usage_daily/*/*.parquet', hive_partitioning = true)
        where year(date) = {year}
        group by partner_id
        """
    ).fetchall()
    return {r[0]: {"calls": r[1], "items": r[2], "bytes": r[3], "active_days": r[4]} for r in rows}


def test_summary_totals_equal_an_independent_sum_over_the_warehouse(wh, tmp_path):
    report = gather_year(str(wh), contracts(), 2022)
    files = write_report(report, str(tmp_path / "reports"), pdf=False)
    written = json.loads(Path(files.files["summary.json"]).read_text())
    expected = duck_totals(wh, 2022)
    assert written["totals"]["calls"] == sum(p["calls"] for p in expected.values())
    assert written["totals"]["items"] == sum(p["items"] for p in expected.values())
    assert written["totals"]["bytes"] == sum(p["bytes"] for p in expected.values())
    for partner in written["partners"]:
        for key in ("calls", "items", "bytes", "active_days"):
            assert partner[key] == expected[partner["partner_id"]][key]


def test_flags_count_days_per_kind(wh):
    acme = next(
        p
        for p in summary(gather_year(str(wh), contracts(), 2022))["partners"]
        if p["partner_id"] == "acme"
    )
    assert acme["flags"] == {"unauthorized_app": 2}  # January 5th and February 5th
    assert acme["flagged_days"] == 2


def test_calls_by_an_app_outside_the_agreement_are_counted_as_not_authorised(wh):
    report = gather_year(str(wh), contracts(), 2022)
    acme = next(p for p in report.partners if p.partner_id == "acme")
    scraper = acme.by_app.filter(acme.by_app["app_id"] == "acme-scraper").row(0, named=True)
    assert scraper["unauthorised_calls"] == scraper["calls"] == 2 * 3


def test_restricted_network_access_is_allowed_when_the_agreement_lists_the_network(wh):
    report = gather_year(str(wh), contracts(), 2022)
    globex = next(p for p in report.partners if p.partner_id == "globex")
    span = globex.networks.row(0, named=True)
    assert (span["network_label"], span["first"], span["allowed"]) == (
        "gov-agency-a",
        dt.date(2022, 2, 2),
        True,
    )


def test_a_partner_missing_from_contracts_is_reported_at_list_price(wh):
    report = gather_year(str(wh), contracts(), 2022)
    initech = next(p for p in report.partners if p.partner_id == "initech")
    assert not initech.contracted
    assert initech.fees.list_price == pytest.approx(3 * (5 / 1000 * 0.5 + 2 / 1000 * 1.0), abs=0.01)


def test_data_quality_sums_the_ingest_table(wh):
    quality = gather_year(str(wh), contracts(), 2022).data_quality
    assert quality.duplicates == 59
    assert quality.days_with_data == 59


def test_a_year_that_is_not_covered_whole_says_so_on_its_first_line(wh):
    report = gather_year(str(wh), contracts(), 2022)
    assert report.partial
    assert first_line(report).startswith("Partial year")
    assert "2022-02-28, the last day with data" in first_line(report)


def test_a_year_with_no_data_raises_a_clear_error(wh):
    with pytest.raises(NoDataError, match="no data for 2021"):
        gather_year(str(wh), contracts(), 2021)


def test_absent_anomaly_flags_table_means_no_flags_computed(tmp_path):
    wh = tmp_path / "wh"
    write_day(wh, dt.date(2022, 3, 1), [usage("acme", 5, 50)], flag_rows=None)
    report = gather_year(str(wh), contracts(), 2022)
    assert report.data_quality.flag_days == 0
    assert report.partners[0].flag_kinds == []
