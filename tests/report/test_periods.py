"""Any period, not only a year: a quarter or an agreement's term, fees prorated alike."""

import datetime as dt
import json
from pathlib import Path

import pytest

from callaudit.report import Period, first_line, gather_period, gather_year, write_report
from callaudit.report.figures import months_between
from callaudit.report.html import render_html
from tests.report.builders import contracts, days, usage, write_day


@pytest.fixture(scope="module")
def wh(tmp_path_factory):
    """acme calls 10 times a day with 100 items from January 1st to February 28th, and
    again on May 2nd; its agreement (3,000 a month, 1,000 items included) ends Feb 14."""
    wh = tmp_path_factory.mktemp("periods") / "wh"
    for day in [*days(dt.date(2022, 1, 1), 59), dt.date(2022, 5, 2)]:
        write_day(wh, day, [usage("acme", 10, 100)], flag_rows=[])
    return wh


def test_a_period_report_covers_its_days_and_says_so_on_its_first_line(wh):
    report = gather_period(str(wh), contracts(), dt.date(2022, 1, 15), dt.date(2022, 2, 14))

    assert (report.start, report.end, report.partial) == (
        dt.date(2022, 1, 15),
        dt.date(2022, 2, 14),
        False,
    )
    assert (
        first_line(report) == "Report for 2022-01-15 to 2022-02-14: 31 days, every one with data."
    )
    assert report.partners[0].calls == 31 * 10


def test_a_period_with_days_missing_at_its_end_is_partial_and_names_its_days(wh):
    report = gather_period(str(wh), contracts(), dt.date(2022, 2, 1), dt.date(2022, 3, 31))

    assert report.partial
    assert first_line(report) == (
        "Partial period: this report for 2022-02-01 to 2022-03-31 covers 2022-02-01 to "
        "2022-02-28, the days with data (28 days of 59)."
    )


def test_fees_over_an_agreements_term_are_prorated_like_the_year(wh):
    """January 15th to February 14th: 17 of January's 31 days and 14 of February's 28."""
    fees = gather_period(str(wh), contracts(), dt.date(2022, 1, 15), dt.date(2022, 2, 14))
    january, february = fees.partners[0].fees.months

    assert january.monthly_fee == pytest.approx(3000 * 17 / 31, abs=0.01)
    assert january.included_items == pytest.approx(1000 * 17 / 31)
    assert january.overage_items == pytest.approx(17 * 100 - 1000 * 17 / 31)
    assert february.monthly_fee == pytest.approx(3000 * 14 / 28, abs=0.01)
    # The same months in the yearly report charge the same per day.
    year = gather_year(str(wh), contracts(), 2022).partners[0].fees.months
    assert year[1].monthly_fee == february.monthly_fee


def test_a_period_report_is_written_under_start_underscore_end(wh, tmp_path):
    report = gather_period(str(wh), contracts(), dt.date(2022, 1, 1), dt.date(2022, 3, 31))

    files = write_report(report, str(tmp_path / "reports"), pdf=False)

    assert files.folder == str(tmp_path / "reports" / "2022-01-01_2022-03-31")
    written = json.loads(Path(files.files["summary.json"]).read_text())
    assert (written["year"], written["period"]) == (None, "2022-01-01_2022-03-31")
    assert (written["requested_start"], written["start"]) == ("2022-01-01", "2022-01-01")
    assert Period.of_year(2022).folder == "2022"


def test_charts_keep_months_and_days_without_calls_as_zero(wh):
    report = gather_year(str(wh), contracts(), 2022)
    acme = report.partners[0]

    assert acme.monthly["month"].to_list() == months_between(
        dt.date(2022, 1, 1), dt.date(2022, 5, 2)
    )
    assert acme.monthly["calls"].to_list() == [310, 280, 0, 0, 10]
    assert acme.daily.height == (dt.date(2022, 5, 2) - dt.date(2022, 1, 1)).days + 1
    assert acme.daily.filter(acme.daily["date"] == dt.date(2022, 3, 10))["calls"].item() == 0
    # The monthly chart draws five bars, March and April as zero-height ones.
    page = render_html(report)
    assert "2022-03: 0</title>" in page and "2022-04: 0</title>" in page


def test_fee_tables_list_only_months_with_something_to_bill(wh):
    acme = gather_year(str(wh), contracts(), 2022).partners[0]

    # The agreement ends on Feb 14th: March and April bill nothing; May has usage with no
    # agreement, billed at the list price.
    assert [m.month for m in acme.fees.billed_months] == ["2022-01", "2022-02", "2022-05"]
    assert acme.fees.as_dict()["months"][-1]["list_price_cost"] > 0
