"""Limits sized over the volumes that will really be generated, and the planted breaches.

Every limit sits a margin above the largest volume its agreement sees in the plan, so
nothing crosses a limit unless it was planted there; then one partner per kind of limit
(``catalog.*_LIMIT_PARTNER``) gets a few breaches on ordinary days.
"""

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from callaudit.synth import catalog
from callaudit.synth.activity import Bursts
from callaudit.synth.agreements import Term, Terms
from callaudit.synth.catalog import DAYS, PartnerCharacter, PartnerProfile
from callaudit.synth.planted import PlantedEvent
from callaudit.synth.schedule import HOLIDAY, MONTH, PLANT_SEASON, WEEKDAY, quiet_days, window
from callaudit.synth.volume import scenario_days

#: Items per call rise by this factor from a day early in the month that breaches.
MONTHLY_RISE = 1.28


@dataclass(frozen=True)
class Limits:
    """Sized limits per agreement id (an agreement absent from a dict has no such limit)."""

    calls_per_minute: dict[str, int]
    calls_per_day: dict[str, int]
    items_per_month: dict[str, int]

    def of(self, agreement_id: str) -> dict[str, int]:
        """The limits of one agreement, keyed and ordered as in contracts.yaml."""
        limits = {}
        if agreement_id in self.calls_per_day:
            limits["calls_per_day"] = self.calls_per_day[agreement_id]
        if agreement_id in self.items_per_month:
            limits["items_per_month"] = self.items_per_month[agreement_id]
        if agreement_id in self.calls_per_minute:
            limits["calls_per_minute"] = self.calls_per_minute[agreement_id]
        return limits


def _limited_terms(
    terms: Terms, partners: tuple[PartnerProfile, ...], letter: str
) -> Iterator[tuple[int, Term, np.ndarray]]:
    """Partner column, term and days in force of every agreement with limit ``letter``."""
    column = {p.id: i for i, p in enumerate(partners)}
    for p_id, spans in terms.items():
        for term in spans:
            if _carries(partners[column[p_id]], term, letter):
                yield column[p_id], term, window(term.start, term.end)


def _carries(profile: PartnerProfile, term: Term, letter: str) -> bool:
    """Whether an agreement has limit ``letter`` (``d`` day, ``m`` month, ``r`` minute):
    the partner's letters, except that the renewal adds a rate limit to its second term."""
    if letter == "r" and profile.id == catalog.RENEWAL_PARTNER:
        return term.id != "meltwater-2021"
    return letter in profile.limits


def _breach_target(
    terms: Terms, limits: dict[str, int], partners: tuple[PartnerProfile, ...], partner_id: str
) -> tuple[int, int]:
    """Column of the partner that gets the breaches, and the limit of its first agreement."""
    column = next(i for i, p in enumerate(partners) if p.id == partner_id)
    return column, limits[terms[partner_id][0].id]


# --- calls per minute ---------------------------------------------------------------------


@dataclass(frozen=True)
class RateBreaches:
    extra: np.ndarray  # [day, partner] calls packed into one minute, on top of the day's
    minute: np.ndarray  # [day, partner] that minute
    events: list[PlantedEvent]


def size_rate_limits(
    terms: Terms,
    partners: tuple[PartnerProfile, ...],
    characters: list[PartnerCharacter],
    bursts: Bursts,
    calls: np.ndarray,
) -> dict[str, int]:
    """calls_per_minute over each day's busiest expected minute, bursts included."""
    limits: dict[str, int] = {}
    for p, term, mask in _limited_terms(terms, partners, "r"):
        diurnal = characters[p].diurnal
        peak = np.array([bursts.minute_weights(diurnal, d, p).max() for d in range(DAYS)])
        limits[term.id] = _rate_limit(calls[mask, p] * peak[mask])
    return limits


def _rate_limit(lam: np.ndarray) -> int:
    """A calls_per_minute limit no Poisson-like minute count reaches in a year."""
    return math.ceil(float(np.max(lam + 7.0 * np.sqrt(lam) + 8.0)))


def plant_rate_breaches(
    rng: np.random.Generator,
    terms: Terms,
    limits: dict[str, int],
    partners: tuple[PartnerProfile, ...],
    characters: list[PartnerCharacter],
    bursts: Bursts,
) -> RateBreaches:
    """Four weekdays on which the rate-limit partner packs 1.15-1.4x its limit into one of
    its 240 busiest minutes, on top of that minute's own calls (and of the day's total)."""
    days = scenario_days()
    p, limit = _breach_target(terms, limits, partners, catalog.RATE_LIMIT_PARTNER)
    extra = np.zeros((DAYS, len(partners)), dtype=np.int64)
    minute = np.zeros((DAYS, len(partners)), dtype=np.int64)
    events = []
    for d in quiet_days(rng, np.flatnonzero(WEEKDAY & ~HOLIDAY & PLANT_SEASON), 4, 20):
        extra[d, p] = math.ceil(limit * rng.uniform(1.15, 1.4))
        weights = bursts.minute_weights(characters[p].diurnal, d, p)
        minute[d, p] = int(rng.choice(np.argsort(weights)[-240:]))
        events.append(
            PlantedEvent(
                days[d],
                catalog.RATE_LIMIT_PARTNER,
                "rate_limit",
                f"~{extra[d, p]} calls in one minute (limit {limit})",
            )
        )
    return RateBreaches(extra, minute, events)


# --- calls per day ------------------------------------------------------------------------


def size_daily_limits(
    terms: Terms, partners: tuple[PartnerProfile, ...], calls: np.ndarray
) -> dict[str, int]:
    """calls_per_day 5 % over the busiest day in force (20 % for the renewed meltwater
    agreement)."""
    limits: dict[str, int] = {}
    for p, term, mask in _limited_terms(terms, partners, "d"):
        margin = 1.05 if term.id != "meltwater-2022" else 1.2
        limits[term.id] = math.ceil(calls[mask, p].max() * margin) + 3
    return limits


def plant_daily_breaches(
    rng: np.random.Generator,
    terms: Terms,
    limits: dict[str, int],
    partners: tuple[PartnerProfile, ...],
    calls: np.ndarray,
) -> tuple[np.ndarray, list[PlantedEvent]]:
    """Four days on which the daily-limit partner makes 2-8 % more calls than its limit.

    Days are taken where that is at most a 1.5x jump over the planned day (1.7x when
    fewer than four qualify), so a breach does not also read as a volume spike.
    Returns the calls with the breaches in.
    """
    days = scenario_days()
    p, limit = _breach_target(terms, limits, partners, catalog.DAILY_LIMIT_PARTNER)
    calls = calls.copy()
    ratio = limit * 1.09 / np.maximum(calls[:, p], 1)
    allowed = PLANT_SEASON & ~HOLIDAY
    ok = np.flatnonzero(allowed & (ratio <= 1.5))
    if len(ok) < 4:
        ok = np.flatnonzero(allowed & (ratio <= 1.7))
    events = []
    for d in quiet_days(rng, ok, 4, 10):
        calls[d, p] = math.ceil(limit * rng.uniform(1.02, 1.08)) + 1
        events.append(
            PlantedEvent(
                days[d],
                catalog.DAILY_LIMIT_PARTNER,
                "daily_call_limit",
                f"{calls[d, p]} calls (limit {limit})",
            )
        )
    return calls, events


# --- items per month ----------------------------------------------------------------------


def size_monthly_limits(
    terms: Terms, partners: tuple[PartnerProfile, ...], items: np.ndarray
) -> dict[str, int]:
    """items_per_month over the biggest month in force: 4 % for the monthly-limit
    partner, 6 % for the others."""
    monthly_partner = next(
        i for i, p in enumerate(partners) if p.id == catalog.MONTHLY_LIMIT_PARTNER
    )
    limits: dict[str, int] = {}
    for p, term, mask in _limited_terms(terms, partners, "m"):
        sums = [np.rint(items[(m == MONTH) & mask, p]).sum() for m in range(1, 13)]
        margin = 1.04 if p == monthly_partner else 1.06
        limits[term.id] = math.ceil(max(sums) * margin) + 10
    return limits


def plant_monthly_breach(
    rng: np.random.Generator,
    terms: Terms,
    limits: dict[str, int],
    partners: tuple[PartnerProfile, ...],
    items: np.ndarray,
) -> tuple[np.ndarray, PlantedEvent]:
    """One month (April to November) in which the monthly-limit partner's items per call
    rise from one of its first days, so month-to-date items cross the limit with at least
    three days of the month left. Returns the (unrounded) items with the rise in."""
    days = scenario_days()
    p, limit = _breach_target(terms, limits, partners, catalog.MONTHLY_LIMIT_PARTNER)
    options = _crossing_options(items[:, p], limit)
    month, first, cross = options[int(rng.integers(len(options)))] if options else (11, 0, 0)
    idx = np.flatnonzero(month == MONTH)
    items = items.copy()
    items[idx[first:], p] *= MONTHLY_RISE
    event = PlantedEvent(
        days[idx[cross]],
        catalog.MONTHLY_LIMIT_PARTNER,
        "monthly_item_limit",
        f"items per call x{MONTHLY_RISE} from {days[idx[first]]}; month-to-date crosses {limit}",
    )
    return items, event


def _crossing_options(items: np.ndarray, limit: int) -> list[tuple[int, int, int]]:
    """(month, first day of the rise, day the limit is crossed) for every rise that
    crosses the limit at least three days before the month ends."""
    options = []
    for month in range(4, 12):
        idx = np.flatnonzero(month == MONTH)
        for first in range(3):
            boosted = items[idx].copy()
            boosted[first:] *= MONTHLY_RISE
            cum = np.cumsum(np.rint(boosted))
            cross = np.flatnonzero(cum > limit)
            if len(cross) and cross[0] <= len(idx) - 4:
                options.append((month, first, int(cross[0])))
    return options
