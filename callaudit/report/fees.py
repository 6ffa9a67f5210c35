"""What a partner's usage costs at the agreed rates, month by month.

Rules (DESIGN.md "Reports"; the tests compute them by hand):

- A month is charged for the days of it that the report covers and an agreement is in
  force. The monthly fee and the included items are **prorated by day**: an agreement
  in force for 10 of April's 30 days costs 10/30 of its monthly fee and includes 10/30
  of its monthly items. A mid-month start or end (or a partial year) is charged for
  what was in force, no more, and two agreements meeting inside a month each charge
  their own share.
- Items retrieved on those days beyond the (prorated) included items cost
  ``overage_per_1k_items`` per thousand, computed per agreement and month.
- Usage on days with no agreement in force (unknown partner, before start, after end)
  is costed at the list price card: ``list_pricing.per_1k_items`` and ``per_1k_calls``.
- Money is rounded to cents per month and line; yearly figures are sums of the monthly
  lines, so the tables add up.
"""

import calendar
import datetime as dt
from dataclasses import asdict, dataclass

import polars as pl

from callaudit.contracts import ListPricing, Partner
from callaudit.dates import days_between


@dataclass(frozen=True)
class MonthFees:
    """One calendar month of a partner's bill."""

    month: str  # YYYY-MM
    agreements: tuple[str, ...]
    days_in_force: int
    monthly_fee: float
    included_items: float
    items_in_force: int
    overage_items: float
    overage_cost: float
    days_without_agreement: int  # days with usage and no agreement in force
    calls_without_agreement: int
    items_without_agreement: int
    list_price_cost: float

    @property
    def total(self) -> float:
        return round(self.monthly_fee + self.overage_cost + self.list_price_cost, 2)


@dataclass(frozen=True)
class Fees:
    currency: str
    months: tuple[MonthFees, ...]

    @property
    def monthly_fees(self) -> float:
        return round(sum(m.monthly_fee for m in self.months), 2)

    @property
    def overage(self) -> float:
        return round(sum(m.overage_cost for m in self.months), 2)

    @property
    def agreement_total(self) -> float:
        return round(self.monthly_fees + self.overage, 2)

    @property
    def list_price(self) -> float:
        return round(sum(m.list_price_cost for m in self.months), 2)

    @property
    def total(self) -> float:
        return round(self.agreement_total + self.list_price, 2)

    @property
    def overage_items(self) -> float:
        return sum(m.overage_items for m in self.months)

    @property
    def billed_months(self) -> tuple[MonthFees, ...]:
        """Months with something to bill: an agreement in force or usage without one
        (a month before a partner's first agreement with no calls is not a line)."""
        return tuple(m for m in self.months if m.days_in_force or m.days_without_agreement)

    def as_dict(self) -> dict:
        """The summary.json form: yearly figures, then the months."""
        return {
            "currency": self.currency,
            "monthly_fees": self.monthly_fees,
            "overage_items": round(self.overage_items),
            "overage": self.overage,
            "agreement_total": self.agreement_total,
            "calls_without_agreement": sum(m.calls_without_agreement for m in self.months),
            "items_without_agreement": sum(m.items_without_agreement for m in self.months),
            "list_price": self.list_price,
            "total": self.total,
            "months": [
                {
                    **asdict(m),
                    "agreements": list(m.agreements),
                    "included_items": round(m.included_items),
                    "overage_items": round(m.overage_items),
                    "total": m.total,
                }
                for m in self.billed_months
            ],
        }


def _months(start: dt.date, end: dt.date) -> list[list[dt.date]]:
    """The covered days of ``start..end`` grouped by calendar month."""
    months: dict[tuple[int, int], list[dt.date]] = {}
    for day in days_between(start, end):
        months.setdefault((day.year, day.month), []).append(day)
    return list(months.values())


def partner_fees(
    partner: Partner | None,
    usage: pl.DataFrame,
    list_pricing: ListPricing,
    currency: str,
    start: dt.date,
    end: dt.date,
) -> Fees:
    """Fees for ``start..end`` from a partner's daily usage (columns date, calls, items;
    one row per day). ``partner`` is None for a partner that contracts.yaml lacks."""
    daily = {
        row["date"]: (int(row["calls"]), int(row["items"]))
        for row in usage.select("date", "calls", "items").iter_rows(named=True)
    }
    agreements = partner.agreements if partner else []
    months = []
    for days in _months(start, end):
        days_in_month = calendar.monthrange(days[0].year, days[0].month)[1]
        ids: list[str] = []
        in_force = fee = included = overage_items = overage_cost = 0.0
        items_in_force = 0
        for agreement in agreements:
            active = [d for d in days if agreement.in_force(d)]
            if not active:
                continue
            share = len(active) / days_in_month
            pricing = agreement.pricing
            items = sum(daily.get(d, (0, 0))[1] for d in active)
            allowance = pricing.included_items * share
            over = max(0.0, items - allowance)
            ids.append(agreement.id)
            in_force += len(active)
            fee += pricing.monthly_fee * share
            included += allowance
            items_in_force += items
            overage_items += over
            overage_cost += over / 1000 * pricing.overage_per_1k_items
        uncovered = [d for d in days if d in daily and not any(a.in_force(d) for a in agreements)]
        calls_out = sum(daily[d][0] for d in uncovered)
        items_out = sum(daily[d][1] for d in uncovered)
        list_cost = (
            items_out / 1000 * list_pricing.per_1k_items
            + calls_out / 1000 * list_pricing.per_1k_calls
        )
        months.append(
            MonthFees(
                month=f"{days[0].year:04d}-{days[0].month:02d}",
                agreements=tuple(ids),
                days_in_force=int(in_force),
                monthly_fee=round(fee, 2),
                included_items=included,
                items_in_force=items_in_force,
                overage_items=overage_items,
                overage_cost=round(overage_cost, 2),
                days_without_agreement=len(uncovered),
                calls_without_agreement=calls_out,
                items_without_agreement=items_out,
                list_price_cost=round(list_cost, 2),
            )
        )
    return Fees(currency=currency, months=tuple(months))
