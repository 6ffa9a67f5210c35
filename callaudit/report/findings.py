"""Findings: what a partner breached, on how many days, by how much, in one sentence each.

The report opens with these, per partner and by severity, before any table: they are
what a letter quotes. Each is computed from the partner's standing flags (a flag an
analyst dismissed is not a finding) and the evidence behind them (the usage on those
days, the restricted-network rows, the fees). Sentences are plain text; the renderers
escape them.
"""

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import polars as pl

from callaudit.report.numbers import compact_days, money, plural, thousands
from callaudit.reviews import CONFIRMED, DISMISSED
from callaudit.schema import DATE_COLUMN, SEVERITIES

if TYPE_CHECKING:
    from callaudit.report.figures import PartnerReport


@dataclass(frozen=True)
class Finding:
    """One kind of breach or anomaly of one partner."""

    severity: str  # the worst of its flags: critical, warning or info
    flag: str
    title: str  # "Calls outside any agreement"
    text: str  # the sentence: days, amounts, worst instance
    days: tuple[dt.date, ...]
    confirmed_days: int = 0  # days an analyst confirmed
    extra: dict = field(default_factory=dict)  # the figures, for summary.json

    @property
    def review_note(self) -> str:
        """ "all 4 days confirmed on review", "1 of 4 days confirmed", "not reviewed"."""
        n = len(self.days)
        if self.confirmed_days == 0:
            return "not reviewed"
        if self.confirmed_days == n:
            return f"{'the day' if n == 1 else f'all {n} days'} confirmed on review"
        return f"{self.confirmed_days} of {n} days confirmed on review"

    def as_dict(self) -> dict:
        return {
            "severity": self.severity,
            "flag": self.flag,
            "title": self.title,
            "text": self.text,
            "days": len(self.days),
            "first_day": self.days[0].isoformat() if self.days else None,
            "last_day": self.days[-1].isoformat() if self.days else None,
            "confirmed_days": self.confirmed_days,
            **self.extra,
        }


def _worst(rows: pl.DataFrame) -> str:
    rank = {s: i for i, s in enumerate(SEVERITIES)}
    return max(rows["severity"].to_list(), key=lambda s: rank.get(s, -1))


def _ratio(observed: float, threshold: float) -> str:
    """ "1.6x the limit", or "a limit of 0" when nothing was allowed."""
    return f"{observed / threshold:.1f}x the limit" if threshold else "a limit of 0"


def _by_ratio(rows: pl.DataFrame, over: str = "threshold") -> pl.DataFrame:
    """Rows sorted by observed / ``over``, largest first."""
    return rows.with_columns((pl.col("observed") / pl.col(over)).alias("_ratio")).sort(
        "_ratio", descending=True, nulls_last=True
    )


def _days(rows: pl.DataFrame) -> tuple[dt.date, ...]:
    return tuple(sorted(set(rows[DATE_COLUMN].to_list())))


def _when(days: tuple[dt.date, ...]) -> str:
    return compact_days(list(days), limit=4)


def _listed(frame: pl.DataFrame, limit: int = 3) -> str:
    """ "ias-legacy-v1 (12 calls), x (3 calls) and 2 more" from name/calls rows."""
    shown = [
        f"{r['name']} ({plural(r['calls'], 'call')})"
        for r in frame.head(limit).iter_rows(named=True)
    ]
    more = frame.height - limit
    return ", ".join(shown) + (f" and {more} more" if more > 0 else "")


def _no_agreement(p: "PartnerReport", rows: pl.DataFrame, unit: str, currency: str) -> Finding:
    days = _days(rows)
    usage = p.daily.filter(pl.col(DATE_COLUMN).is_in(list(days)))
    calls, items = int(usage["calls"].sum()), int(usage["items"].sum())
    cost = p.fees.list_price
    text = (
        f"{plural(len(days), 'day')} with calls and no agreement in force ({_when(days)}): "
        f"{plural(calls, 'call')} and {thousands(items)} {unit}"
        + (f", {money(cost, currency)} at list price." if cost else ".")
    )
    return Finding(
        _worst(rows),
        "no_agreement",
        "Calls outside any agreement",
        text,
        days,
        extra={"calls": calls, "items": items, "list_price": cost},
    )


def _unauthorised(kind: str, what: str, frame_of: Callable[["PartnerReport"], pl.DataFrame]):
    def finding(p: "PartnerReport", rows: pl.DataFrame, unit: str, currency: str) -> Finding:
        days = _days(rows)
        calls = int(rows["observed"].fill_null(0).sum())
        offenders = frame_of(p)
        named = f": {_listed(offenders)}" if offenders.height else ""
        text = (
            f"{plural(calls, 'call')} from {what} the agreement did not authorise, on "
            f"{plural(len(days), 'day')} ({_when(days)}){named}."
        )
        title = f"Calls from unauthorised {what}"
        return Finding(_worst(rows), kind, title, text, days, extra={"calls": calls})

    return finding


def _daily_limit(p: "PartnerReport", rows: pl.DataFrame, unit: str, currency: str) -> Finding:
    days = _days(rows)
    excess = int((rows["observed"] - rows["threshold"]).clip(lower_bound=0).sum())
    worst = _by_ratio(rows).row(0, named=True)
    text = (
        f"Over the daily call limit on {plural(len(days), 'day')} ({_when(days)}): "
        f"{plural(excess, 'call')} beyond the limit in all; worst {worst[DATE_COLUMN]}, "
        f"{thousands(worst['observed'])} calls against {thousands(worst['threshold'])} "
        f"({_ratio(worst['observed'], worst['threshold'])})."
    )
    return Finding(
        _worst(rows), "daily_call_limit", "Calls over the daily limit", text, days,
        extra={"calls_over_limit": excess},
    )  # fmt: skip


def _monthly_limit(p: "PartnerReport", rows: pl.DataFrame, unit: str, currency: str) -> Finding:
    days = _days(rows)
    # Month to date: the month's last flagged day holds its total; the excess is above it.
    months = (
        rows.group_by(pl.col(DATE_COLUMN).dt.strftime("%Y-%m").alias("month"))
        .agg(pl.col("observed").max(), pl.col("threshold").first())
        .sort("month")
    )
    excess = int((months["observed"] - months["threshold"]).clip(lower_bound=0).sum())
    worst = _by_ratio(months).row(0, named=True)
    text = (
        f"Over the monthly {unit} limit in {plural(months.height, 'month')} "
        f"({', '.join(months['month'].to_list())}; {plural(len(days), 'day')} with calls "
        f"past it): {thousands(excess)} {unit} beyond the limit; worst {worst['month']}, "
        f"{thousands(worst['observed'])} against {thousands(worst['threshold'])} "
        f"({_ratio(worst['observed'], worst['threshold'])})."
    )
    return Finding(
        _worst(rows), "monthly_item_limit", f"{unit.capitalize()} over the monthly limit", text,
        days, extra={"items_over_limit": excess, "months": months.height},
    )  # fmt: skip


def _monthly_pace(p: "PartnerReport", rows: pl.DataFrame, unit: str, currency: str) -> Finding:
    """A warning: months in which the pace so far pointed past the limit before the month
    was out (whether or not the limit was then crossed, which is its own finding)."""
    days = _days(rows)
    months = sorted({d.strftime("%Y-%m") for d in days})
    first = rows.sort(DATE_COLUMN).row(0, named=True)
    text = (
        f"On {plural(len(days), 'day')} in {plural(len(months), 'month')} "
        f"({', '.join(months)}), month-to-date {unit} were on a pace to cross the monthly "
        f"limit before the month ended; first {first[DATE_COLUMN]}: {first['detail']}."
    )
    return Finding(
        _worst(rows), "monthly_item_pace", f"{unit.capitalize()} on a pace past the monthly limit",
        text, days, extra={"months": len(months)},
    )  # fmt: skip


def _rate_limit(p: "PartnerReport", rows: pl.DataFrame, unit: str, currency: str) -> Finding:
    days = _days(rows)
    worst = _by_ratio(rows).row(0, named=True)
    text = (
        f"Busiest minute over the per-minute limit on {plural(len(days), 'day')} "
        f"({_when(days)}); worst {worst[DATE_COLUMN]}, {thousands(worst['observed'])} calls "
        f"in one minute against {thousands(worst['threshold'])} "
        f"({_ratio(worst['observed'], worst['threshold'])})."
    )
    return Finding(
        _worst(rows), "rate_limit", "Calls over the per-minute limit", text, days,
        extra={"peak_calls_per_minute": int(rows["observed"].max())},
    )  # fmt: skip


def _restricted(p: "PartnerReport", rows: pl.DataFrame, unit: str, currency: str) -> Finding:
    days = _days(rows)
    reached = (
        p.network_days.filter(~pl.col("allowed") & pl.col(DATE_COLUMN).is_in(list(days)))
        .group_by("network_label")
        .agg(
            pl.col(DATE_COLUMN).min().alias("first"),
            pl.col(DATE_COLUMN).max().alias("last"),
            pl.col(DATE_COLUMN).n_unique().alias("days"),
            pl.col("calls").sum(),
            pl.col("items").sum(),
        )
        .sort("first", "network_label")
    )
    parts = [
        f"{r['network_label']} "
        + (
            f"on {r['first']}"
            if r["first"] == r["last"]
            else f"on {plural(r['days'], 'day')} from {r['first']} to {r['last']}"
        )
        + f" ({plural(r['calls'], 'call')}, {thousands(r['items'])} {unit})"
        for r in reached.iter_rows(named=True)
    ]
    text = (
        "Data reached restricted networks no agreement allowed: " + "; ".join(parts) + "."
        if parts
        else f"Calls from restricted networks on {plural(len(days), 'day')} ({_when(days)})."
    )
    return Finding(
        _worst(rows), "restricted_network", "Restricted-network access", text, days,
        extra={
            "calls": int(reached["calls"].sum()),
            "items": int(reached["items"].sum()),
            "networks": [
                {
                    "network": r["network_label"],
                    "first_day": r["first"].isoformat(),
                    "last_day": r["last"].isoformat(),
                    "days": r["days"],
                    "calls": r["calls"],
                    "items": r["items"],
                }
                for r in reached.iter_rows(named=True)
            ],
        },
    )  # fmt: skip


def _volume(kind: str):
    def finding(p: "PartnerReport", rows: pl.DataFrame, unit: str, currency: str) -> Finding:
        days = _days(rows)
        ratios = rows.filter(pl.col("expected") > 0).with_columns(
            (pl.col("observed") / pl.col("expected")).alias("ratio")
        )
        spike = kind == "volume_spike"
        worst = ratios.sort("ratio", descending=spike).row(0, named=True) if ratios.height else None
        how = "above" if spike else "below"
        metric = {"calls": "calls", "items": unit}
        extreme = (
            f"; most extreme {worst[DATE_COLUMN]}, {thousands(worst['observed'])} "
            f"{metric.get(worst['metric'], worst['metric'])} against "
            f"{thousands(worst['expected'])} expected ({worst['ratio']:.1f}x)"
            if worst
            else ""
        )
        text = (
            f"Volume far {how} the partner's own history on {plural(len(days), 'day')} "
            f"({_when(days)}){extreme}."
        )
        title = "Volume spikes" if spike else "Volume drops"
        return Finding(_worst(rows), kind, title, text, days)

    return finding


_FINDERS = {
    "no_agreement": _no_agreement,
    "unauthorized_app": _unauthorised("unauthorized_app", "apps", lambda p: p.unauthorised_apps),
    "unauthorized_endpoint": _unauthorised(
        "unauthorized_endpoint", "endpoints", lambda p: p.unauthorised_endpoints
    ),
    "daily_call_limit": _daily_limit,
    "monthly_item_limit": _monthly_limit,
    "monthly_item_pace": _monthly_pace,
    "rate_limit": _rate_limit,
    "restricted_network": _restricted,
    "volume_spike": _volume("volume_spike"),
    "volume_drop": _volume("volume_drop"),
}


def partner_findings(p: "PartnerReport", *, unit: str, currency: str) -> list[Finding]:
    """The partner's findings, worst severity first (then by days)."""
    standing = p.flags.filter(pl.col("review").fill_null("") != DISMISSED)
    rank = {s: i for i, s in enumerate(SEVERITIES)}
    found = []
    for (flag,), rows in standing.group_by(["flag"], maintain_order=True):
        finder = _FINDERS.get(flag)
        if finder is None:
            continue
        finding = finder(p, rows, unit, currency)
        confirmed = rows.filter(pl.col("review") == CONFIRMED)[DATE_COLUMN].n_unique()
        found.append(
            Finding(
                finding.severity,
                finding.flag,
                finding.title,
                finding.text,
                finding.days,
                confirmed,
                finding.extra,
            )
        )
    found.sort(key=lambda f: (-rank.get(f.severity, -1), -len(f.days), f.flag))
    return found


def money_line(p: "PartnerReport", currency: str, unit: str) -> str:
    """What the period costs the partner: agreed fees and usage outside any agreement."""
    fees = p.fees
    parts = []
    if fees.agreement_total:
        detail = f"{money(fees.monthly_fees, currency)} in fees"
        if fees.overage:
            detail += (
                f" and {money(fees.overage, currency)} overage for "
                f"{thousands(fees.overage_items)} {unit} beyond the included ones"
            )
        parts.append(f"{money(fees.agreement_total, currency)} at the agreed rates ({detail})")
    if fees.list_price:
        parts.append(
            f"{money(fees.list_price, currency)} at list price for usage outside any agreement"
        )
    if not parts:
        return "No fees for the period."
    return "Fees for the period: " + "; ".join(parts) + "."
