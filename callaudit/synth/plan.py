"""The seeded plan of a scenario year: exact calls and items per partner-day, the
agreements (with limits derived from those volumes) and every planted event.

Computing the whole year's partner-day totals first is cheap (365 x 31 numbers) and is
what makes the truth trustworthy: limits are set with a margin over the volumes that
will really be generated, so nothing crosses a limit unless it was planted there, and a
short range still knows its month-to-date items and the year's agreements. Rows are
then generated to match these totals exactly (``rows.py``).

``build_plan`` only sequences the steps; each lives in a module with one job:
``activity`` (who calls when, noise, bursts), ``swings`` (volume spikes and drops),
``agreements`` (terms and specs), ``limits`` (sizing and breaches) and ``rewrites``
(rows that name an unlisted app, endpoint or network).
"""

import datetime as dt
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from callaudit.synth import catalog
from callaudit.synth.activity import (
    Bursts,
    draw_activity,
    draw_bursts,
    draw_noise,
    no_agreement_events,
    planned_calls,
    planned_items,
)
from callaudit.synth.agreements import AgreementSpec, agreement_specs, agreement_terms
from callaudit.synth.catalog import (
    PARTNERS,
    UNKNOWN_PARTNER,
    YEAR_START,
    PartnerCharacter,
    PartnerProfile,
)
from callaudit.synth.limits import (
    Limits,
    plant_daily_breaches,
    plant_monthly_breach,
    plant_rate_breaches,
    size_daily_limits,
    size_monthly_limits,
    size_rate_limits,
)
from callaudit.synth.planted import PlantedEvent, Replacement, VolumeFlag
from callaudit.synth.rewrites import plant_row_rewrites, restricted_pools
from callaudit.synth.swings import plant_volume_swings
from callaudit.synth.volume import day_factors, scenario_days

PLAN_VERSION = 1


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
    bursts: Bursts  # natural intraday bursts
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
        return self.bursts.minute_weights(self.characters[p].diurnal, d, p)


def build_plan(seed: int, scale: float) -> Plan:
    """Everything about the year that does not need rows, for ``seed`` and ``scale``.

    The steps run in the order they draw from one generator: moving a step, or a draw
    inside one, changes every later draw and so every archive of that seed.
    """
    rng = np.random.default_rng([seed, 1])
    partners = (*PARTNERS, UNKNOWN_PARTNER)
    characters = catalog.build_characters(partners)
    activity = draw_activity(rng, partners)
    noise = draw_noise(rng, len(partners))
    swings = plant_volume_swings(rng, partners)
    bursts = draw_bursts(rng, len(partners))
    calls = planned_calls(partners, scale, activity, noise, swings.calls_mult)
    terms = agreement_terms(rng, activity.late_start)

    # Each limit is sized on the calls as they stand after the breaches planted before it.
    rate_limits = size_rate_limits(terms, partners, characters, bursts, calls)
    rate = plant_rate_breaches(rng, terms, rate_limits, partners, characters, bursts)
    calls = calls + rate.extra
    day_limits = size_daily_limits(terms, partners, calls)
    calls, daily_events = plant_daily_breaches(rng, terms, day_limits, partners, calls)
    items = planned_items(partners, calls, noise, swings.items_mult)
    month_limits = size_monthly_limits(terms, partners, items)
    items, monthly_event = plant_monthly_breach(rng, terms, month_limits, partners, items)
    limits = Limits(rate_limits, day_limits, month_limits)

    restricted_ips = restricted_pools()
    rewrites = plant_row_rewrites(rng, partners, characters, terms, activity, calls, restricted_ips)
    agreements = agreement_specs(rng, terms, partners, characters, limits.of, scale)
    events = [
        *swings.events,
        *rate.events,
        *daily_events,
        monthly_event,
        *rewrites.events,
        *no_agreement_events(activity),
    ]
    events.sort(key=lambda e: (e.day, e.partner_id, e.kind))
    return Plan(
        seed=seed,
        scale=scale,
        partners=partners,
        characters=characters,
        calls=calls,
        items=np.rint(items).astype(np.int64),
        rate_extra=rate.extra,
        rate_minute=rate.minute,
        bursts=bursts,
        agreements=agreements,
        replacements=rewrites.replacements,
        events=events,
        volume_flags=swings.flags,
        restricted_ips=restricted_ips,
    )


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
