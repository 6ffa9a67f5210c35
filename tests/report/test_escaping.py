"""Strings from the logs are data, never markup: a hostile app id stays text."""

import datetime as dt

import pytest

from callaudit.report import gather_year
from callaudit.report.html import render_html
from callaudit.report.markdown import render_markdown
from callaudit.report.tables import flags_csv
from tests.report.builders import contracts, flag, network, usage, write_day

HOSTILE_APP = '<script>alert("pwned")</script>\'"><img src=x onerror=alert(1)>' + "A" * 3000
HOSTILE_ENDPOINT = 'GET /2/tweets/<b onmouseover="x">'
HOSTILE_PARTNER = "<iframe src=//evil.example>"


@pytest.fixture
def report(tmp_path):
    wh = tmp_path / "wh"
    rows = [
        usage("acme", 5, 50, app_id=HOSTILE_APP, endpoint=HOSTILE_ENDPOINT),
        usage(HOSTILE_PARTNER, 1, 1, app_id=HOSTILE_APP),
    ]
    write_day(
        wh,
        dt.date(2022, 1, 5),
        rows,
        network_rows=[network("acme", HOSTILE_APP, "gov-agency-a", 1, 1)],
        flag_rows=[flag("acme", "unauthorized_app", f"app {HOSTILE_APP} called")],
    )
    return gather_year(str(wh), contracts(), 2022)


def test_html_contains_no_markup_from_the_logs(report):
    page = render_html(report)
    for tag in ("<script", "<img", "<iframe", "<b "):
        assert tag not in page
    assert "&lt;script&gt;alert(&quot;pwned&quot;)&lt;/script&gt;" in page
    assert "&lt;iframe src=//evil.example&gt;" in page


def test_html_keeps_the_whole_long_app_id(report):
    assert "A" * 3000 in render_html(report)


def test_markdown_escapes_markup_too(report):
    text = render_markdown(report)
    assert "<script" not in text and "<iframe" not in text
    assert "&lt;script&gt;" in text


def test_csv_cells_cannot_run_as_spreadsheet_formulas(tmp_path):
    wh = tmp_path / "wh"
    write_day(
        wh,
        dt.date(2022, 1, 5),
        [usage("acme", 1, 1)],
        flag_rows=[flag("acme", "unauthorized_app", '=HYPERLINK("http://evil","x")')],
    )
    text = flags_csv(gather_year(str(wh), contracts(), 2022))
    assert "'=HYPERLINK" in text


HOSTILE_NOTE = "<img src=x onerror=alert(1)> ok | **bold** [link](http://evil.example)"
HOSTILE_REVIEWER = "<svg onload=alert(2)>"


@pytest.fixture
def reviewed(tmp_path):
    """A hostile app in a finding's sentence, a hostile review note and reviewer, and a
    hostile review of a flag that was not raised."""
    from callaudit.reviews import Review, Reviews

    wh = tmp_path / "wh"
    day = dt.date(2022, 1, 5)
    write_day(
        wh,
        day,
        [usage("acme", 5, 50), usage("acme", 3, 30, app_id=HOSTILE_APP)],
        flag_rows=[{**flag("acme", "unauthorized_app", "x"), "observed": 3.0}],
    )
    review = dict(day=day, status="confirmed", note=HOSTILE_NOTE, reviewer=HOSTILE_REVIEWER,
                  reviewed_at=dt.datetime(2022, 1, 6))  # fmt: skip
    reviews = Reviews(
        reviews=[
            Review(partner="acme", flag="unauthorized_app", **review),
            Review(partner=HOSTILE_PARTNER, flag="rate_limit", **review),
        ]
    )
    return gather_year(str(wh), contracts(), 2022, reviews=reviews)


def test_findings_and_reviews_are_text_in_the_html(reviewed):
    page = render_html(reviewed)

    for tag in ("<img", "<svg onload", "<iframe", "<script"):  # charts are <svg xmlns=...>
        assert tag not in page
    assert "&lt;img src=x onerror=alert(1)&gt; ok" in page
    assert "&lt;svg onload=alert(2)&gt;" in page
    assert "from apps the agreement did not authorise" in page


def test_findings_and_reviews_are_text_in_the_markdown(reviewed):
    text = render_markdown(reviewed)

    for tag in ("<img", "<svg", "<iframe", "<script"):
        assert tag not in text
    assert r"ok \| \*\*bold\*\* \[link\](http://evil.example)" in text
    assert "](http" not in text.replace(r"\](http", "")


def test_a_review_note_cannot_run_as_a_spreadsheet_formula(tmp_path):
    from callaudit.reviews import parse_reviews

    wh = tmp_path / "wh"
    write_day(wh, dt.date(2022, 1, 5), [usage("acme", 1, 1)],
              flag_rows=[flag("acme", "unauthorized_app", "x")])  # fmt: skip
    reviews = parse_reviews(
        "reviews:\n  - {partner: acme, day: 2022-01-05, flag: unauthorized_app, "
        "status: confirmed, note: '=cmd|calc', reviewer: '@jdoe', reviewed_at: 2022-01-06}\n"
    )
    text = flags_csv(gather_year(str(wh), contracts(), 2022, reviews=reviews))

    assert "'=cmd|calc" in text and "'@jdoe" in text
