"""When each partner calls, and how much, before any limit breach is planted.

The seed-free model (``volume.py``) gives each partner's expected day; the seed adds
when the late-starting partner begins, the days the unknown partner appears, day-to-day
noise and intraday bursts. The days with no agreement in force follow from those
windows, so their events are derived here too.
"""

import datetime as dt
from dataclasses import dataclass

import numpy as np

from callaudit.synth import catalog
from callaudit.synth.catalog import DAYS, UNKNOWN_PARTNER, PartnerProfile
from callaudit.synth.planted import PlantedEvent
from callaudit.synth.schedule import FIRST_PLANT_DAY, LAST_PLANT_DAY, day_index
from callaudit.synth.volume import expected_calls, scenario_days


@dataclass(frozen=True)
class Activity:
    """Which partners call on which days."""

    late_start: dt.date  # the late-starting partner's agreement begins
    early_days: int  # days it calls before that, with no agreement
    unknown_days: list[int]  # the only days the unknown partner calls
    active: np.ndarray  # [day, partner] calls at all

    @property
    def first_late_call(self) -> int:
        return day_index(self.late_start) - self.early_days


def draw_activity(rng: np.random.Generator, partners: tuple[PartnerProfile, ...]) -> Activity:
    """Seed the activity windows; every other partner calls every day of the year."""
    late_start = dt.date(2022, 4, 4) + dt.timedelta(days=int(rng.integers(0, 70)))
    early_days = int(rng.integers(7, 15))
    unknown_days = sorted(
        int(d) for d in rng.choice(np.arange(FIRST_PLANT_DAY, LAST_PLANT_DAY), 4, replace=False)
    )
    column = {p.id: i for i, p in enumerate(partners)}
    active = np.ones((DAYS, len(partners)), dtype=bool)
    active[: day_index(late_start) - early_days, column[catalog.LATE_START_PARTNER]] = False
    active[:, column[UNKNOWN_PARTNER.id]] = False
    active[unknown_days, column[UNKNOWN_PARTNER.id]] = True
    return Activity(late_start, early_days, unknown_days, active)


@dataclass(frozen=True)
class Noise:
    """Day-to-day multipliers, clipped so noise alone stays far from a planted swing."""

    calls: np.ndarray  # [day, partner]
    items: np.ndarray  # [day, partner]


def draw_noise(rng: np.random.Generator, n_partners: int) -> Noise:
    calls = np.clip(rng.normal(1.0, 0.045, (DAYS, n_partners)), 0.87, 1.13)
    items = np.clip(rng.normal(1.0, 0.03, (DAYS, n_partners)), 0.92, 1.08)
    return Noise(calls, items)


@dataclass(frozen=True)
class Bursts:
    """Natural intraday bursts: they move calls between minutes, never change a day's total."""

    start: np.ndarray  # [day, partner] first minute of the burst window
    length: np.ndarray  # [day, partner] minutes
    factor: np.ndarray  # [day, partner] 1.0 = no burst

    def minute_weights(self, diurnal: np.ndarray, d: int, p: int) -> np.ndarray:
        """Probability of each minute of day ``d`` for partner ``p`` (diurnal x burst)."""
        weights = diurnal.copy()
        if self.factor[d, p] > 1.0:
            start = int(self.start[d, p])
            weights[start : start + int(self.length[d, p])] *= self.factor[d, p]
        return weights / weights.sum()


def draw_bursts(rng: np.random.Generator, n_partners: int) -> Bursts:
    shape = (DAYS, n_partners)
    burst_on = rng.random(shape) < 0.12
    start = rng.integers(0, 1440 - 30, shape)
    length = rng.integers(3, 20, shape)
    factor = np.where(burst_on, rng.uniform(2.0, 4.0, shape), 1.0)
    return Bursts(start, length, factor)


def planned_calls(
    partners: tuple[PartnerProfile, ...],
    scale: float,
    activity: Activity,
    noise: Noise,
    calls_mult: np.ndarray,
) -> np.ndarray:
    """Calls per partner-day: expected x noise x planted swing, at least 1 on active days."""
    expected = np.stack([expected_calls(p, scale) for p in partners], axis=1) * activity.active
    calls = np.rint(expected * noise.calls * calls_mult).astype(np.int64)
    calls[activity.active & (calls < 1)] = 1
    return calls


def planned_items(
    partners: tuple[PartnerProfile, ...], calls: np.ndarray, noise: Noise, items_mult: np.ndarray
) -> np.ndarray:
    """Unrounded items per partner-day, from the final calls (breaches included)."""
    items_per_call = np.array([p.items_per_call for p in partners])
    return calls * items_per_call * noise.items * items_mult


def no_agreement_events(activity: Activity) -> list[PlantedEvent]:
    """Days a partner calls with no agreement in force: before start, unknown, after end."""
    days = scenario_days()
    events = [
        PlantedEvent(
            days[d],
            catalog.LATE_START_PARTNER,
            "no_agreement",
            f"calling before its agreement starts on {activity.late_start}",
        )
        for d in range(activity.first_late_call, day_index(activity.late_start))
    ]
    events += [
        PlantedEvent(
            days[d], UNKNOWN_PARTNER.id, "no_agreement", "partner id not in contracts.yaml"
        )
        for d in activity.unknown_days
    ]
    events += [
        PlantedEvent(
            days[d],
            catalog.ENDED_PARTNER,
            "no_agreement",
            f"calling after its agreement ended on {catalog.ENDED_ON}",
        )
        for d in range(day_index(catalog.ENDED_ON) + 1, DAYS)
    ]
    return events
