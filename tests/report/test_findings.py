"""Findings first: what each partner breached, on how many days, by how much, and the money."""

import datetime as dt

import pytest

from callaudit.report import gather_year
from callaudit.report.html import render_html
from callaudit.report.markdown import render_markdown
from callaudit.reviews import parse_reviews
from tests.report.builders import contracts, days, flag, network, usage, write_day

JAN = dt.date(2022, 1, 1)


def limit_flag(partner: str, name: str, observed: float, threshold: float, metric="calls") -> dict:
    return {
        **flag(partner, name, f"{partner} {name} {observed:.0f}/{threshold:.0f}", "warning"),
        "metric": metric,
        "observed": observed,
        "threshold": threshold,
    }


@pytest.fixture(scope="module")
def wh(tmp_path_factory):
    """January 2022. acme (agreement to Feb 14): over its daily limit on two days, an
    unauthorised app on the 5th. globex: gov-agency-a, allowed. initech, not in the
    contracts: calls every day from the 10th. hooli: nothing to report."""
    wh = tmp_path_factory.mktemp("findings") / "wh"
    for day in days(JAN, 31):
        rows = [usage("acme", 100, 1_000), usage("globex", 5, 50, app_id="globex-feed")]
        flags = []
        if day.day in (3, 4):
            flags.append(limit_flag("acme", "daily_call_limit", 130 if day.day == 3 else 160, 100))
        if day.day == 5:
            rows.append(usage("acme", 7, 70, app_id="acme-scraper"))
            flags.append(
                {**flag("acme", "unauthorized_app", "acme-scraper called"), "observed": 7.0}
            )
        if day.day >= 10:
            rows.append(usage("initech", 20, 400, app_id="x"))
            flags.append({**flag("initech", "no_agreement", "no agreement"), "observed": 20.0})
        nets = []
        if day.day in (20, 21):
            nets = [network("initech", "x", "gov-agency-a", 3, 9)]
            flags.append({**flag("initech", "restricted_network", "gov"), "observed": 3.0})
        write_day(wh, day, rows, network_rows=nets, flag_rows=flags)
    return wh


def findings_of(report, partner_id: str) -> dict:
    partner = next(p for p in report.partners if p.partner_id == partner_id)
    return {f.flag: f for f in partner.findings}


def test_a_daily_limit_finding_says_the_days_the_calls_over_and_the_worst_day(wh):
    found = findings_of(gather_year(str(wh), contracts(), 2022), "acme")["daily_call_limit"]

    assert found.days == (dt.date(2022, 1, 3), dt.date(2022, 1, 4))
    assert found.extra["calls_over_limit"] == 30 + 60
    assert "Over the daily call limit on 2 days (2022-01-03 to 2022-01-04)" in found.text
    assert "90 calls beyond the limit in all; worst 2022-01-04, 160 calls against 100" in found.text


def test_a_pace_past_the_monthly_limit_is_a_warning_naming_its_months_and_first_day(tmp_path):
    for day in days(JAN, 10):
        flags = []
        if day.day in (7, 8):
            pace = (
                f"acme had retrieved {day.day}000 items in January 2022 by {day}; at that pace..."
            )
            row = limit_flag("acme", "monthly_item_pace", day.day * 1000, 30_000, "items")
            flags.append({**row, "detail": pace})
        write_day(tmp_path / "wh", day, [usage("acme", 100, 1_000)], flag_rows=flags)

    report = gather_year(str(tmp_path / "wh"), contracts(), 2022)
    found = findings_of(report, "acme")["monthly_item_pace"]

    assert (found.severity, found.days) == ("warning", (dt.date(2022, 1, 7), dt.date(2022, 1, 8)))
    assert found.title == "Items on a pace past the monthly limit"
    assert found.text == (
        "On 2 days in 1 month (2022-01), month-to-date items were on a pace to cross the "
        "monthly limit before the month ended; first 2022-01-07: acme had retrieved 7000 "
        "items in January 2022 by 2022-01-07; at that pace...."
    )


def test_calls_outside_any_agreement_are_counted_and_priced_at_list_price(wh):
    report = gather_year(str(wh), contracts(), 2022)
    found = findings_of(report, "initech")["no_agreement"]

    # 22 days (Jan 10-31) of 20 calls and 400 items; list price 0.50/1k items, 1.00/1k calls.
    assert (found.extra["calls"], found.extra["items"]) == (22 * 20, 22 * 400)
    assert found.extra["list_price"] == pytest.approx(22 * (0.4 * 0.5 + 0.02 * 1.0), abs=0.01)
    assert found.severity == "critical"
    assert "22 days with calls and no agreement in force (2022-01-10 to 2022-01-31)" in found.text


def test_restricted_network_access_names_the_network_first_and_last_day_and_volume(wh):
    found = findings_of(gather_year(str(wh), contracts(), 2022), "initech")["restricted_network"]

    assert "gov-agency-a on 2 days from 2022-01-20 to 2022-01-21 (6 calls, 18 items)" in found.text
    assert found.extra["networks"][0]["first_day"] == "2022-01-20"


def test_an_unauthorised_app_finding_names_the_app_and_its_calls(wh):
    found = findings_of(gather_year(str(wh), contracts(), 2022), "acme")["unauthorized_app"]

    assert found.text == (
        "7 calls from apps the agreement did not authorise, on 1 day (2022-01-05): "
        "acme-scraper (7 calls)."
    )


def test_partners_are_ordered_worst_first_and_the_quiet_ones_kept_apart(wh):
    report = gather_year(str(wh), contracts(), 2022)

    assert [p.partner_id for p in report.with_findings] == ["initech", "acme"]
    assert [p.partner_id for p in report.without_findings] == ["globex"]


def test_the_page_opens_with_the_findings_then_the_quiet_partners_then_the_contents(wh):
    page = render_html(gather_year(str(wh), contracts(), 2022))

    findings, quiet, contents = (page.index(f'id="{a}"') for a in ("findings", "quiet", "contents"))
    platform = page.index('id="platform"')
    assert findings < quiet < contents < platform
    assert page.index("Over the daily call limit") < contents
    assert "2 of 3 partners have findings, 2 of them critical." in page


def test_the_markdown_says_what_the_html_says_in_the_same_order(wh):
    report = gather_year(str(wh), contracts(), 2022)
    text = render_markdown(report)

    order = [
        "## Findings",
        "## Partners with nothing to report (1)",
        "## Platform totals",
        "## Flag reviews",
        "## initech (no agreement on file)",
        "#### Every flag",
        "## Acme",
        "## Other partners (1)",
        "## Data quality",
        "## Validation",
        "## Provenance",
    ]
    positions = [text.index(f"\n{heading}\n") for heading in order]
    assert positions == sorted(positions)
    assert "Over the daily call limit on 2 days" in text


def test_a_dismissed_flag_is_not_a_finding_and_is_listed_last_with_its_review(wh):
    reviews = parse_reviews(
        "reviews:\n"
        "  - {partner: acme, day: 2022-01-05, flag: unauthorized_app, status: dismissed,\n"
        "     note: 'test key, revoked', reviewer: jdoe, reviewed_at: 2022-01-07}\n"
        "  - {partner: acme, day: 2022-01-03, flag: daily_call_limit, status: confirmed,\n"
        "     note: agreed with the partner, reviewer: jdoe, reviewed_at: 2022-01-07}\n"
    )
    report = gather_year(str(wh), contracts(), 2022, reviews=reviews)
    acme = next(p for p in report.partners if p.partner_id == "acme")

    assert [f.flag for f in acme.findings] == ["daily_call_limit"]
    assert acme.findings[0].review_note == "1 of 2 days confirmed on review"
    assert acme.flags["review"].to_list() == [None, "confirmed", "dismissed"]
    assert acme.dismissed_days() == {"unauthorized_app": 1}
    assert "Dismissed on review, not counted: unauthorized_app (1 day)." in render_html(report)


def test_unreviewed_critical_flags_are_listed_first(wh):
    reviews = parse_reviews(
        "reviews:\n"
        "  - {partner: initech, day: 2022-01-10, flag: no_agreement, status: confirmed,\n"
        "     reviewer: jdoe, reviewed_at: 2022-01-12}\n"
    )
    report = gather_year(str(wh), contracts(), 2022, reviews=reviews)
    initech = next(p for p in report.partners if p.partner_id == "initech")
    listed = initech.flags.select("date", "flag", "severity", "review").rows()

    assert all(r[2] == "critical" and r[3] is None for r in listed[:-1])
    assert listed[-1] == (dt.date(2022, 1, 10), "no_agreement", "critical", "confirmed")
    # initech: 22 no_agreement + 2 restricted_network - 1 confirmed; acme: 1 unauthorized_app
    assert report.review_counts()["unreviewed_critical"] == 22 + 2 - 1 + 1


def test_a_review_of_a_flag_that_was_not_raised_is_reported_not_lost(wh):
    reviews = parse_reviews(
        "reviews:\n"
        "  - {partner: acme, day: 2022-01-09, flag: rate_limit, status: confirmed,\n"
        "     reviewer: jdoe, reviewed_at: 2022-01-10}\n"
    )
    report = gather_year(str(wh), contracts(), 2022, reviews=reviews)

    assert report.orphan_reviews.select("date", "partner_id", "flag").rows() == [
        (dt.date(2022, 1, 9), "acme", "rate_limit")
    ]
    assert "Reviews of flags not raised in this period" in render_html(report)
