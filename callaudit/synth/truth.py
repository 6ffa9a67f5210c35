"""Ground truth of a generated archive: contracts.yaml and the truth/ files.

Rule flags are computed from the rows actually generated (their per-partner statistics)
with the same ``Contracts`` model the pipeline loads, so the truth follows the flag
semantics exactly; volume flags come from the plan (they are statistical by nature).
"""

import calendar
import csv
import datetime as dt
import io
import json
from collections.abc import Iterable
from dataclasses import dataclass

import yaml

from callaudit.contracts import Agreement, Contracts
from callaudit.synth import catalog
from callaudit.synth.day import DayResult, PartnerStats
from callaudit.synth.plan import Plan

FLAG_COLUMNS = ("date", "partner_id", "flag", "metric", "detail")
INGEST_COLUMNS = (
    "date",
    "files",
    "rows_written",
    "rows_valid",
    "duplicates",
    "quarantined_null_key",
    "quarantined_uncastable_value",
    "quarantined_negative_count",
    "quarantined_ts_outside_day",
)
PARTNER_DAILY_COLUMNS = ("date", "partner_id", "calls", "items", "bytes")


def contracts_document(plan: Plan) -> dict:
    """contracts.yaml content (DESIGN.md format) for the plan's agreements."""
    partners = []
    for profile in plan.partners:
        if profile.id not in plan.agreements:
            continue
        agreements = []
        for spec in plan.agreements[profile.id]:
            entry: dict = {"id": spec.id, "start": spec.start}
            if spec.end is not None:
                entry["end"] = spec.end
            if spec.apps is not None:
                entry["apps"] = list(spec.apps)
            if spec.endpoints is not None:
                entry["endpoints"] = list(spec.endpoints)
            if spec.limits:
                entry["limits"] = dict(spec.limits)
            entry["pricing"] = dict(spec.pricing)
            if spec.allow_networks:
                entry["allow_networks"] = list(spec.allow_networks)
            agreements.append(entry)
        partners.append({"id": profile.id, "name": profile.name, "agreements": agreements})
    return {
        "currency": "USD",
        # The API returns tweets: every report format says so (callaudit.units).
        "item_unit": "tweets",
        "list_pricing": {"per_1k_items": 0.84},
        "restricted_networks": [
            {"cidr": n.cidr, "label": n.label} for n in catalog.RESTRICTED_NETWORKS
        ],
        "partners": partners,
    }


def contracts_yaml(plan: Plan) -> str:
    header = (
        f"# Agreements of the synthetic scenario twitter-2022 (seed {plan.seed}, "
        f"scale {plan.scale}).\n# Limits are sized for this scale.\n"
    )
    return header + yaml.safe_dump(contracts_document(plan), sort_keys=False, width=120)


@dataclass
class MonthToDate:
    """Running items per partner within the calendar month, seeded from the plan."""

    plan: Plan
    month: int = 0
    items: dict[str, int] | None = None

    def add(self, day_index: int, partner_id: str, items: int) -> int:
        day = self.plan.days[day_index]
        if self.items is None or day.month != self.month:
            self.month = day.month
            first = next(i for i, d in enumerate(self.plan.days) if d.month == day.month)
            self.items = {
                p.id: int(self.plan.items[first:day_index, k].sum())
                for k, p in enumerate(self.plan.partners)
            }
        self.items[partner_id] = self.items.get(partner_id, 0) + items
        return self.items[partner_id]


def _calls_outside(counts: dict[str, int], allowed) -> dict[str, int]:
    return {value: n for value, n in counts.items() if not allowed(value)}


def rule_flags(
    contracts: Contracts, result: DayResult, month_to_date: MonthToDate, day_index: int
) -> list[dict]:
    """Rule flags of one day, one per partner and flag (DESIGN.md semantics)."""
    day = result.day
    flags: list[dict] = []

    def flag(partner_id: str, name: str, metric: str, detail: str) -> None:
        flags.append(
            {
                "date": day.isoformat(),
                "partner_id": partner_id,
                "flag": name,
                "metric": metric,
                "detail": detail,
            }
        )

    for partner_id, stats in sorted(result.partners.items()):
        mtd = month_to_date.add(day_index, partner_id, stats.items)
        if stats.calls == 0:
            continue
        agreement = contracts.agreement_on(partner_id, day)
        restricted = stats.restricted_calls
        if agreement is None:
            flag(
                partner_id,
                "no_agreement",
                "calls",
                f"{stats.calls} calls with no agreement in force",
            )
            if restricted:
                flag(
                    partner_id,
                    "restricted_network",
                    "restricted_calls",
                    _restricted_detail(restricted),
                )
            continue
        apps = _calls_outside(stats.app_calls, agreement.allows_app)
        if apps:
            flag(
                partner_id,
                "unauthorized_app",
                "calls",
                _detail("calls from apps not in", agreement.id, apps),
            )
        endpoints = _calls_outside(stats.endpoint_calls, agreement.allows_endpoint)
        if endpoints:
            flag(
                partner_id,
                "unauthorized_endpoint",
                "calls",
                _detail("calls to endpoints not in", agreement.id, endpoints),
            )
        limits = agreement.limits
        if limits.calls_per_day is not None and stats.calls > limits.calls_per_day:
            flag(
                partner_id,
                "daily_call_limit",
                "calls",
                f"{stats.calls} calls > calls_per_day {limits.calls_per_day}",
            )
        if limits.items_per_month is not None and mtd > limits.items_per_month:
            flag(
                partner_id,
                "monthly_item_limit",
                "items_month_to_date",
                f"{mtd} items month to date > items_per_month {limits.items_per_month}",
            )
        if limits.items_per_month is not None:
            crossing = _projected_crossing(day, agreement, mtd, limits.items_per_month)
            if crossing is not None:
                flag(
                    partner_id,
                    "monthly_item_pace",
                    "items_month_to_date",
                    f"{mtd} items month to date, at that pace > items_per_month "
                    f"{limits.items_per_month} on {crossing.isoformat()}",
                )
        peak = stats.peak_calls_per_minute
        if limits.calls_per_minute is not None and peak > limits.calls_per_minute:
            flag(
                partner_id,
                "rate_limit",
                "peak_calls_per_minute",
                f"{peak} calls in one minute > calls_per_minute {limits.calls_per_minute}",
            )
        forbidden = {
            label: n for label, n in restricted.items() if label not in agreement.allow_networks
        }
        if forbidden:
            flag(
                partner_id, "restricted_network", "restricted_calls", _restricted_detail(forbidden)
            )
    return flags


#: Days of the month under an agreement before a pace is projected (flags.rules).
PACE_MIN_DAYS = 7


def _projected_crossing(
    day: dt.date, agreement: Agreement, month_to_date: int, limit: int
) -> dt.date | None:
    """The day month-to-date items at their pace so far cross ``limit``, when that is
    after ``day`` and within the month under ``agreement``; None otherwise.

    Written day by day, independently of the pipeline's closed form, so the two check
    each other: the pace is month-to-date items over the days of the month under the
    agreement so far, and the crossing the first later day whose projection exceeds the
    limit.
    """
    first = max(day.replace(day=1), agreement.start)
    last = day.replace(day=calendar.monthrange(day.year, day.month)[1])
    if agreement.end is not None:
        last = min(last, agreement.end)
    elapsed = (day - first).days + 1
    if elapsed < PACE_MIN_DAYS or not 0 < month_to_date <= limit:
        return None
    for ahead in range(1, (last - day).days + 1):
        # month_to_date + ahead * month_to_date / elapsed > limit, in integers
        if month_to_date * (elapsed + ahead) > limit * elapsed:
            return day + dt.timedelta(days=ahead)
    return None


def _detail(what: str, agreement_id: str, counts: dict[str, int]) -> str:
    listed = ", ".join(f"{value} ({n})" for value, n in sorted(counts.items()))
    return f"{sum(counts.values())} {what} {agreement_id}: {listed}"


def _restricted_detail(counts: dict[str, int]) -> str:
    listed = ", ".join(f"{label} ({n})" for label, n in sorted(counts.items()))
    return f"{sum(counts.values())} calls from restricted networks: {listed}"


def partner_daily_rows(result: DayResult) -> list[dict]:
    return [
        {
            "date": result.day.isoformat(),
            "partner_id": pid,
            "calls": s.calls,
            "items": s.items,
            "bytes": s.bytes,
        }
        for pid, s in sorted(result.partners.items())
        if s.calls
    ]


def ingest_row(result: DayResult) -> dict:
    row = {
        "date": result.day.isoformat(),
        "files": result.files,
        "rows_written": result.rows_written,
        "rows_valid": result.rows_valid,
        "duplicates": result.duplicates,
    }
    for reason in ("null_key", "uncastable_value", "negative_count", "ts_outside_day"):
        row[f"quarantined_{reason}"] = result.quarantined.get(reason, 0)
    return row


def csv_text(columns: Iterable[str], rows: Iterable[dict]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(columns), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def manifest_json(document: dict) -> str:
    return json.dumps(document, indent=2, sort_keys=False, default=str) + "\n"


__all__ = ["PartnerStats", "contracts_yaml", "rule_flags"]
