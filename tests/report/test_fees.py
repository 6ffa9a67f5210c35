"""Fees at the agreed rates, on an agreement computed by hand.

acme-2022 (builders.CONTRACTS_YAML): 3,000 a month including 1,000 tweets, 2.00 per
thousand tweets beyond that, in force 2022-01-01 to 2022-02-14 (ends mid-month and
mid-year). List price: 0.50 per thousand tweets and 1.00 per thousand calls.
"""

import datetime as dt

import polars as pl
import pytest

from callaudit.report.fees import partner_fees
from tests.report.builders import contracts, days

YEAR = (dt.date(2022, 1, 1), dt.date(2022, 12, 31))


def daily(start: dt.date, count: int, calls: int, items: int) -> pl.DataFrame:
    return pl.DataFrame(
        {"date": days(start, count), "calls": [calls] * count, "items": [items] * count}
    )


@pytest.fixture
def acme_fees():
    # 10 calls and 100 tweets every day from January 1st to February 28th.
    usage = daily(dt.date(2022, 1, 1), 59, calls=10, items=100)
    c = contracts()
    return partner_fees(c.partner("acme"), usage, c.list_pricing, c.currency, *YEAR)


def test_full_month_charges_the_fee_and_overage_beyond_included_items(acme_fees):
    january = acme_fees.months[0]
    assert january.monthly_fee == 3000.00
    assert january.items_in_force == 31 * 100
    assert january.overage_items == 31 * 100 - 1000
    assert january.overage_cost == pytest.approx((3100 - 1000) / 1000 * 2.0)


def test_mid_month_end_prorates_fee_and_included_items_by_day(acme_fees):
    february = acme_fees.months[1]
    assert february.days_in_force == 14
    assert february.monthly_fee == pytest.approx(3000 * 14 / 28)
    assert february.included_items == pytest.approx(1000 * 14 / 28)
    assert february.overage_cost == pytest.approx((14 * 100 - 500) / 1000 * 2.0)


def test_usage_after_the_end_is_costed_at_list_price(acme_fees):
    february = acme_fees.months[1]
    assert february.days_without_agreement == 14
    assert february.list_price_cost == pytest.approx(14 * 100 / 1000 * 0.5 + 14 * 10 / 1000 * 1.0)


def test_months_after_the_end_cost_nothing_and_the_year_adds_up(acme_fees):
    assert all(m.total == 0 for m in acme_fees.months[2:])
    assert len(acme_fees.months) == 12
    hand = 3000 + 4.20 + 1500 + 1.80 + 0.70 + 0.14
    assert acme_fees.total == pytest.approx(hand)
    assert acme_fees.total == pytest.approx(sum(m.total for m in acme_fees.months))


def test_a_partial_year_charges_only_the_covered_days():
    c = contracts()
    usage = daily(dt.date(2022, 1, 1), 10, calls=1, items=10)
    fees = partner_fees(
        c.partner("acme"),
        usage,
        c.list_pricing,
        c.currency,
        dt.date(2022, 1, 1),
        dt.date(2022, 1, 10),
    )
    assert [m.month for m in fees.months] == ["2022-01"]
    assert fees.monthly_fees == pytest.approx(3000 * 10 / 31, abs=0.005)  # rounded to cents


def test_two_agreements_meeting_inside_a_month_each_charge_their_share():
    c = contracts()
    text = """\
partners:
  - id: p
    agreements:
      - {id: old, start: 2022-01-01, end: 2022-04-10, pricing: {monthly_fee: 300}}
      - {id: new, start: 2022-04-11, pricing: {monthly_fee: 600}}
"""
    from callaudit.contracts import parse_contracts

    partner = parse_contracts(text).partner("p")
    empty = daily(dt.date(2022, 4, 1), 0, 0, 0)
    fees = partner_fees(
        partner, empty, c.list_pricing, "USD", dt.date(2022, 4, 1), dt.date(2022, 4, 30)
    )
    april = fees.months[0]
    assert april.agreements == ("old", "new")
    assert april.monthly_fee == pytest.approx(300 * 10 / 30 + 600 * 20 / 30)


def test_a_partner_without_agreements_pays_list_price_for_everything():
    c = contracts()
    usage = daily(dt.date(2022, 7, 1), 3, calls=2000, items=4000)
    fees = partner_fees(None, usage, c.list_pricing, "USD", *YEAR)
    assert fees.agreement_total == 0
    assert fees.list_price == pytest.approx(3 * (4000 / 1000 * 0.5 + 2000 / 1000 * 1.0))
