"""The seeded plan of a scenario year: exact calls and items per partner-day, the
agreements (with limits derived from those volumes) and every planted event.

Computing the whole year's partner-day totals first is cheap (365 x 31 numbers) and is
what makes the truth trustworthy: limits are set with a margin over the volumes that
will really be generated, so nothing crosses a limit unless it was planted there, and a
short range still knows its month-to-date items and the year's agreements. Rows are
then generated to match these totals exactly (``rows.py``).
"""

import datetime as dt
import math
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from callaudit.synth import catalog
from callaudit.synth.catalog import (
    DAYS,
    PARTNERS,
    RESTRICTED_NETWORKS,
    UNKNOWN_PARTNER,
    YEAR_START,
    PartnerCharacter,
    PartnerProfile,
)
from callaudit.synth.volume import day_factors, expected_calls, scenario_days

PLAN_VERSION = 1


@dataclass(frozen=True)
class AgreementSpec:
    id: str
    start: dt.date
    end: dt.date | None
    apps: tuple[str, ...] | None
    endpoints: tuple[str, ...] | None
    limits: dict[str, int]
    pricing: dict[str, float | int]
    allow_networks: tuple[str, ...] = ()

    def in_force(self, day: dt.date) -> bool:
        return self.start <= day and (self.end is None or day <= self.end)


@dataclass(frozen=True)
class Replacement:
    """Rewrite ``count`` rows of a partner-day: ``column`` takes one of ``values``."""

    column: str  # app_id | endpoint | client_ip
    count: int
    values: tuple[str, ...]


@dataclass(frozen=True)
class PlantedEvent:
    day: dt.date
    partner_id: str
    kind: str
    detail: str


@dataclass(frozen=True)
class VolumeFlag:
    day: dt.date
    partner_id: str
    flag: str  # volume_spike | volume_drop
    metric: str  # calls | items
    detail: str


@dataclass
class Plan:
    seed: int
    scale: float
    partners: tuple[PartnerProfile, ...]  # contracted partners, then the unknown one
    characters: list[PartnerCharacter]
    calls: np.ndarray  # [day, partner] valid calls
    items: np.ndarray  # [day, partner] valid items
    rate_extra: np.ndarray  # [day, partner] calls packed into one minute
    rate_minute: np.ndarray  # [day, partner] that minute
    burst_start: np.ndarray  # [day, partner] natural burst window (minutes)
    burst_len: np.ndarray
    burst_factor: np.ndarray  # 1.0 = no burst
    agreements: dict[str, list[AgreementSpec]]
    replacements: dict[tuple[int, int], list[Replacement]] = field(default_factory=dict)
    events: list[PlantedEvent] = field(default_factory=list)
    volume_flags: list[VolumeFlag] = field(default_factory=list)
    restricted_ips: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @cached_property
    def days(self) -> list[dt.date]:
        return scenario_days()

    def index(self, partner_id: str) -> int:
        return next(i for i, p in enumerate(self.partners) if p.id == partner_id)

    def minute_weights(self, d: int, p: int) -> np.ndarray:
        """Probability of each minute of day ``d`` for partner ``p`` (diurnal x burst)."""
        weights = self.characters[p].diurnal.copy()
        if self.burst_factor[d, p] > 1.0:
            start = int(self.burst_start[d, p])
            weights[start : start + int(self.burst_len[d, p])] *= self.burst_factor[d, p]
        return weights / weights.sum()


def _doy(day: dt.date) -> int:
    return (day - YEAR_START).days


def _window(start: dt.date, end: dt.date | None) -> np.ndarray:
    days = np.arange(DAYS)
    lo = _doy(start)
    hi = DAYS - 1 if end is None else _doy(end)
    return (days >= lo) & (days <= hi)


def _month_of_day() -> np.ndarray:
    return np.array([d.month for d in scenario_days()])


MARCH_1 = _doy(dt.date(2022, 3, 1))
NOV_30 = _doy(dt.date(2022, 11, 30))


def _quiet_days(rng: np.random.Generator, candidates: np.ndarray, n: int, gap: int) -> list[int]:
    """Pick up to ``n`` candidate days at least ``gap`` days apart."""
    chosen: list[int] = []
    for d in rng.permutation(candidates):
        if all(abs(int(d) - c) >= gap for c in chosen):
            chosen.append(int(d))
        if len(chosen) == n:
            break
    return sorted(chosen)


def _rate_limit(lam: np.ndarray) -> int:
    """A calls_per_minute limit no Poisson-like minute count reaches in a year."""
    return math.ceil(float(np.max(lam + 7.0 * np.sqrt(lam) + 8.0)))


def _pricing(partner: PartnerProfile, scale: float, rng: np.random.Generator) -> dict:
    monthly_items = partner.calls_per_day * partner.items_per_call * 30 * scale
    return {
        "monthly_fee": float(max(500, round(partner.calls_per_day * 0.2, -2))),
        "included_items": round(monthly_items * 0.8),
        "overage_per_1k_items": round(float(rng.uniform(0.5, 1.2)), 2),
    }


def build_plan(seed: int, scale: float) -> Plan:
    """Everything about the year that does not need rows, for ``seed`` and ``scale``."""
    rng = np.random.default_rng([seed, 1])
    partners = (*PARTNERS, UNKNOWN_PARTNER)
    n_partners = len(partners)
    characters = catalog.build_characters(partners)
    pid = {p.id: i for i, p in enumerate(partners)}
    days = scenario_days()
    holiday = np.array([d in catalog.HOLIDAYS for d in days])
    weekday = np.array([d.weekday() < 5 for d in days])
    months = _month_of_day()

    # --- activity windows ---------------------------------------------------------------
    late_start = dt.date(2022, 4, 4) + dt.timedelta(days=int(rng.integers(0, 70)))
    early_days = int(rng.integers(7, 15))
    unknown_days = sorted(int(d) for d in rng.choice(np.arange(MARCH_1, NOV_30), 4, replace=False))
    active = np.ones((DAYS, n_partners), dtype=bool)
    active[: _doy(late_start) - early_days, pid[catalog.LATE_START_PARTNER]] = False
    active[:, pid[UNKNOWN_PARTNER.id]] = False
    active[unknown_days, pid[UNKNOWN_PARTNER.id]] = True

    expected = np.stack([expected_calls(p, scale) for p in partners], axis=1) * active
    calls_noise = np.clip(rng.normal(1.0, 0.045, (DAYS, n_partners)), 0.87, 1.13)
    items_noise = np.clip(rng.normal(1.0, 0.03, (DAYS, n_partners)), 0.92, 1.08)
    calls_mult = np.ones((DAYS, n_partners))
    items_mult = np.ones((DAYS, n_partners))
    events: list[PlantedEvent] = []
    volume_flags: list[VolumeFlag] = []

    # --- volume spikes and drops on partners without limits --------------------------------
    eligible = [
        i
        for i, p in enumerate(PARTNERS)
        if not p.limits
        and p.id not in (catalog.LATE_START_PARTNER, "microsoft")
        and i != pid[UNKNOWN_PARTNER.id]
    ]
    kinds = ["spike_both", "spike_calls", "spike_items", "drop_both", "drop_items"] * 2
    rng.shuffle(kinds)
    candidates = np.flatnonzero(
        ~holiday & (np.arange(DAYS) >= MARCH_1) & (np.arange(DAYS) <= NOV_30)
    )
    used: dict[int, list[int]] = {}
    for kind in kinds:
        for _ in range(50):
            p = int(rng.choice(eligible))
            d = int(rng.choice(candidates))
            if len(used.get(p, [])) < 2 and all(abs(d - u) >= 28 for u in used.get(p, [])):
                break
        used.setdefault(p, []).append(d)
        spike = kind.startswith("spike")
        k = float(rng.uniform(3.5, 5.0) if spike else rng.uniform(0.12, 0.25))
        metrics = {"both": ("calls", "items"), "calls": ("calls",), "items": ("items",)}[
            kind.split("_")[1]
        ]
        if kind in ("spike_both", "drop_both"):
            calls_mult[d, p] = k
        elif kind == "spike_calls":
            calls_mult[d, p], items_mult[d, p] = k, 1.0 / k
        else:
            items_mult[d, p] = k
        flag = "volume_spike" if spike else "volume_drop"
        what = " and ".join(metrics)
        for metric in metrics:
            volume_flags.append(
                VolumeFlag(days[d], partners[p].id, flag, metric, f"planted x{k:.2f} on {what}")
            )
        events.append(PlantedEvent(days[d], partners[p].id, flag, f"x{k:.2f} on {what}"))

    # --- natural bursts (intraday only: the day's total is unchanged) -------------------------
    burst_on = rng.random((DAYS, n_partners)) < 0.12
    burst_start = rng.integers(0, 1440 - 30, (DAYS, n_partners))
    burst_len = rng.integers(3, 20, (DAYS, n_partners))
    burst_factor = np.where(burst_on, rng.uniform(2.0, 4.0, (DAYS, n_partners)), 1.0)

    calls = np.rint(expected * calls_noise * calls_mult).astype(np.int64)
    calls[active & (calls < 1)] = 1
    rate_extra = np.zeros((DAYS, n_partners), dtype=np.int64)
    rate_minute = np.zeros((DAYS, n_partners), dtype=np.int64)

    plan = Plan(
        seed=seed,
        scale=scale,
        partners=partners,
        characters=characters,
        calls=calls,
        items=np.zeros_like(calls),
        rate_extra=rate_extra,
        rate_minute=rate_minute,
        burst_start=burst_start,
        burst_len=burst_len,
        burst_factor=burst_factor,
        agreements={},
        events=events,
        volume_flags=volume_flags,
    )

    # --- agreements (limits filled in below) ----------------------------------------------------
    windows: dict[str, list[tuple[str, dt.date, dt.date | None, tuple[str, ...] | None]]] = {}
    for p in PARTNERS:
        apps = p.apps if p.listed_apps else None
        if p.id == "microsoft":
            windows[p.id] = [
                ("msft-enterprise-2021", dt.date(2021, 7, 1), dt.date(2023, 6, 30), apps)
            ]
        elif p.id == catalog.ENDED_PARTNER:
            windows[p.id] = [("openai-research-2021", dt.date(2021, 10, 1), catalog.ENDED_ON, apps)]
        elif p.id == catalog.RENEWAL_PARTNER:
            first = tuple(a for a in p.apps if a not in p.app_since)
            windows[p.id] = [
                ("meltwater-2021", dt.date(2021, 7, 1), dt.date(2022, 6, 30), first),
                ("meltwater-2022", dt.date(2022, 7, 1), dt.date(2023, 6, 30), p.apps),
            ]
        elif p.id == catalog.LATE_START_PARTNER:
            windows[p.id] = [("similarweb-2022", late_start, dt.date(2023, 3, 31), apps)]
        else:
            month = 1 + int(rng.integers(0, 12))
            end = dt.date(2023, month, 1) - dt.timedelta(days=1)
            windows[p.id] = [(f"{p.id}-2021", dt.date(2021, month, 1), end, apps)]

    # --- rate limits, and minutes over them -------------------------------------------------
    rate_limits: dict[str, int] = {}
    for p_id, spans in windows.items():
        profile = partners[pid[p_id]]
        if "r" not in profile.limits and p_id != catalog.RENEWAL_PARTNER:
            continue
        p = pid[p_id]
        peak = np.array([plan.minute_weights(d, p).max() for d in range(DAYS)])
        for agreement_id, start, end, _ in spans:
            if p_id == catalog.RENEWAL_PARTNER and agreement_id == "meltwater-2021":
                continue
            mask = _window(start, end)
            rate_limits[agreement_id] = _rate_limit(calls[mask, p] * peak[mask])
    rate_partner = pid[catalog.RATE_LIMIT_PARTNER]
    rate_id = windows[catalog.RATE_LIMIT_PARTNER][0][0]
    rate_days = _quiet_days(
        rng,
        np.flatnonzero(
            weekday & ~holiday & (np.arange(DAYS) >= MARCH_1) & (np.arange(DAYS) <= NOV_30)
        ),
        4,
        20,
    )
    for d in rate_days:
        limit = rate_limits[rate_id]
        rate_extra[d, rate_partner] = math.ceil(limit * rng.uniform(1.15, 1.4))
        weights = plan.minute_weights(d, rate_partner)
        rate_minute[d, rate_partner] = int(rng.choice(np.argsort(weights)[-240:]))
        calls[d, rate_partner] += rate_extra[d, rate_partner]
        events.append(
            PlantedEvent(
                days[d],
                catalog.RATE_LIMIT_PARTNER,
                "rate_limit",
                f"~{rate_extra[d, rate_partner]} calls in one minute (limit {limit})",
            )
        )

    # --- daily call limits, and days over them -----------------------------------------------
    day_limits: dict[str, int] = {}
    for p_id, spans in windows.items():
        if "d" not in partners[pid[p_id]].limits:
            continue
        p = pid[p_id]
        for agreement_id, start, end, _ in spans:
            margin = 1.05 if agreement_id != "meltwater-2022" else 1.2
            mask = _window(start, end)
            day_limits[agreement_id] = math.ceil(calls[mask, p].max() * margin) + 3
    daily_partner = pid[catalog.DAILY_LIMIT_PARTNER]
    daily_id = windows[catalog.DAILY_LIMIT_PARTNER][0][0]
    limit = day_limits[daily_id]
    ratio = limit * 1.09 / np.maximum(calls[:, daily_partner], 1)
    allowed = (np.arange(DAYS) >= MARCH_1) & (np.arange(DAYS) <= NOV_30) & ~holiday
    ok = np.flatnonzero(allowed & (ratio <= 1.5))
    if len(ok) < 4:
        ok = np.flatnonzero(allowed & (ratio <= 1.7))
    for d in _quiet_days(rng, ok, 4, 10):
        calls[d, daily_partner] = math.ceil(limit * rng.uniform(1.02, 1.08)) + 1
        events.append(
            PlantedEvent(
                days[d],
                catalog.DAILY_LIMIT_PARTNER,
                "daily_call_limit",
                f"{calls[d, daily_partner]} calls (limit {limit})",
            )
        )

    # --- items, monthly item limits and the month that crosses its limit --------------------------
    ipc = np.array([p.items_per_call for p in partners])
    items_raw = calls * ipc * items_noise * items_mult
    month_limits: dict[str, int] = {}
    monthly_partner = pid[catalog.MONTHLY_LIMIT_PARTNER]
    for p_id, spans in windows.items():
        if "m" not in partners[pid[p_id]].limits:
            continue
        p = pid[p_id]
        for agreement_id, start, end, _ in spans:
            mask = _window(start, end)
            sums = [np.rint(items_raw[(months == m) & mask, p]).sum() for m in range(1, 13)]
            margin = 1.04 if p == monthly_partner else 1.06
            month_limits[agreement_id] = math.ceil(max(sums) * margin) + 10
    monthly_id = windows[catalog.MONTHLY_LIMIT_PARTNER][0][0]
    limit = month_limits[monthly_id]
    options = []
    for month in range(4, 12):
        idx = np.flatnonzero(months == month)
        for first in range(3):
            rise = 1.28
            boosted = items_raw[idx, monthly_partner].copy()
            boosted[first:] *= rise
            cum = np.cumsum(np.rint(boosted))
            cross = np.flatnonzero(cum > limit)
            if len(cross) and cross[0] <= len(idx) - 4:
                options.append((month, first, int(cross[0])))
    month, first, cross = options[int(rng.integers(len(options)))] if options else (11, 0, 0)
    idx = np.flatnonzero(months == month)
    items_mult_days = idx[first:]
    items_raw[items_mult_days, monthly_partner] *= 1.28
    events.append(
        PlantedEvent(
            days[idx[cross]],
            catalog.MONTHLY_LIMIT_PARTNER,
            "monthly_item_limit",
            f"items per call x1.28 from {days[idx[first]]}; month-to-date crosses {limit}",
        )
    )
    items = np.rint(items_raw).astype(np.int64)
    plan.items = items

    # --- rule plants that rewrite a few rows (volume unchanged) --------------------------------
    in_force = {
        p_id: np.any([_window(s, e) for _, s, e, _ in spans], axis=0)
        for p_id, spans in windows.items()
    }

    def pick_day(p_id: str) -> int:
        p = pid[p_id]
        ok = np.flatnonzero(in_force[p_id] & active[:, p] & (calls[:, p] >= 20))
        return int(rng.choice(ok))

    def add(d: int, p_id: str, replacement: Replacement, kind: str, detail: str) -> None:
        plan.replacements.setdefault((d, pid[p_id]), []).append(replacement)
        events.append(PlantedEvent(days[d], p_id, kind, detail))

    def share(d: int, p_id: str) -> int:
        n = int(calls[d, pid[p_id]])
        return int(max(1, min(n // 4, round(n * rng.uniform(0.002, 0.02)))))

    with_apps = [p.id for p in PARTNERS if p.listed_apps]
    for _ in range(5):
        p_id = str(rng.choice(with_apps))
        d = pick_day(p_id)
        app = str(rng.choice(catalog.rogue_apps(partners[pid[p_id]])))
        n = share(d, p_id)
        add(
            d,
            p_id,
            Replacement("app_id", n, (app,)),
            "unauthorized_app",
            f"{n} calls from app {app}",
        )

    with_globs = [p.id for p in PARTNERS if p.listed_endpoints]
    for _ in range(5):
        p_id = str(rng.choice(with_globs))
        d = pick_day(p_id)
        route = str(rng.choice(catalog.unauthorized_routes(characters[pid[p_id]].globs)))
        n = share(d, p_id)
        add(
            d,
            p_id,
            Replacement("endpoint", n, (route,)),
            "unauthorized_endpoint",
            f"{n} calls to {route}",
        )

    restricted_ips = _restricted_pools()
    plan.restricted_ips = restricted_ips
    labels = [n.label for n in RESTRICTED_NETWORKS]
    for i in range(6):
        p_id = str(rng.choice([p.id for p in PARTNERS if p.id != catalog.ALLOWED_NETWORK_PARTNER]))
        label = ["gov-agency-a", "gov-agency-c"][i] if i < 2 else str(rng.choice(labels))
        d = pick_day(p_id)
        n = max(1, min(int(rng.integers(3, 40)), int(calls[d, pid[p_id]]) // 4))
        add(
            d,
            p_id,
            Replacement("client_ip", n, restricted_ips[label]),
            "restricted_network",
            f"{n} calls from {label}",
        )
    d = unknown_days[int(rng.integers(len(unknown_days)))]
    n = max(1, min(5, int(calls[d, pid[UNKNOWN_PARTNER.id]]) // 4))
    add(
        d,
        UNKNOWN_PARTNER.id,
        Replacement("client_ip", n, restricted_ips["gov-agency-c"]),
        "restricted_network",
        f"{n} calls from gov-agency-c with no agreement",
    )

    # The partner allowed to reach gov-agency-b does so routinely: never a violation.
    allowed = pid[catalog.ALLOWED_NETWORK_PARTNER]
    for d in np.flatnonzero(rng.random(DAYS) < 0.35):
        n = max(1, int(calls[d, allowed] * 0.005))
        plan.replacements.setdefault((int(d), allowed), []).append(
            Replacement("client_ip", n, restricted_ips[catalog.ALLOWED_NETWORK])
        )

    # --- no agreement in force -------------------------------------------------------------------
    for d in range(_doy(late_start) - early_days, _doy(late_start)):
        events.append(
            PlantedEvent(
                days[d],
                catalog.LATE_START_PARTNER,
                "no_agreement",
                f"calling before its agreement starts on {late_start}",
            )
        )
    for d in unknown_days:
        events.append(
            PlantedEvent(
                days[d], UNKNOWN_PARTNER.id, "no_agreement", "partner id not in contracts.yaml"
            )
        )
    for d in range(_doy(catalog.ENDED_ON) + 1, DAYS):
        events.append(
            PlantedEvent(
                days[d],
                catalog.ENDED_PARTNER,
                "no_agreement",
                f"calling after its agreement ended on {catalog.ENDED_ON}",
            )
        )

    # --- agreements with their limits ---------------------------------------------------------------
    for p_id, spans in windows.items():
        profile = partners[pid[p_id]]
        specs = []
        for agreement_id, start, end, apps in spans:
            limits = {}
            if agreement_id in day_limits:
                limits["calls_per_day"] = day_limits[agreement_id]
            if agreement_id in month_limits:
                limits["items_per_month"] = month_limits[agreement_id]
            if agreement_id in rate_limits:
                limits["calls_per_minute"] = rate_limits[agreement_id]
            specs.append(
                AgreementSpec(
                    id=agreement_id,
                    start=start,
                    end=end,
                    apps=apps,
                    endpoints=characters[pid[p_id]].globs if profile.listed_endpoints else None,
                    limits=limits,
                    pricing=_pricing(profile, scale, rng),
                    allow_networks=(catalog.ALLOWED_NETWORK,)
                    if p_id == catalog.ALLOWED_NETWORK_PARTNER
                    else (),
                )
            )
        plan.agreements[p_id] = specs
    plan.events.sort(key=lambda e: (e.day, e.partner_id, e.kind))
    return plan


def _restricted_pools() -> dict[str, tuple[str, ...]]:
    import ipaddress

    pools = {}
    for network in RESTRICTED_NETWORKS:
        net = ipaddress.ip_network(network.cidr)
        if net.version == 4:
            pools[network.label] = tuple(str(net[i]) for i in range(10, 250, 10))
        else:
            pools[network.label] = tuple(str(net[(i << 64) + 0x10 + i]) for i in range(1, 25))
    return pools


def app_weights(plan: Plan, p: int, day: dt.date) -> np.ndarray:
    """Share of a partner's calls per app on ``day`` (apps that start later weigh 0)."""
    profile = plan.partners[p]
    weights = np.array(
        [
            0.0 if profile.app_since.get(a, YEAR_START) > day else 1.0 / (i + 1) ** 0.7
            for i, a in enumerate(profile.apps)
        ]
    )
    return weights / weights.sum()


__all__ = ["Plan", "build_plan", "day_factors"]
