"""The expected-volume model: how many calls and tweets each partner makes per day.

Seed-free: scale, growth over the year, day of week and holidays only. It is what
headline figures are asserted on (Microsoft > 780 M calls and > 26 B tweets at scale
1.0) without generating a year of rows, and the base the seeded plan adds noise and
planted events to.
"""

import datetime as dt

import numpy as np

from callaudit.synth.catalog import DAYS, FLOOR_CALLS_PER_DAY, HOLIDAYS, YEAR_START, PartnerProfile

SCALE_MIN = 0.0001
SCALE_MAX = 1.0


def check_scale(scale: float) -> float:
    if not SCALE_MIN <= float(scale) <= SCALE_MAX:
        raise ValueError(f"scale must be between {SCALE_MIN} and {SCALE_MAX}, got {scale}")
    return float(scale)


def scenario_days() -> list[dt.date]:
    return [YEAR_START + dt.timedelta(days=i) for i in range(DAYS)]


def day_factors(partner: PartnerProfile) -> np.ndarray:
    """Per-day multiplier of a partner's base volume: growth x weekday x holiday."""
    days = scenario_days()
    growth = 1.0 + partner.growth * np.arange(DAYS) / (DAYS - 1)
    weekend = np.array([partner.weekend if d.weekday() >= 5 else 1.0 for d in days])
    holiday = np.array([HOLIDAYS.get(d, 1.0) for d in days])
    return growth * weekend * holiday


def base_calls(partner: PartnerProfile, scale: float) -> float:
    """Weekday calls at the start of the year, floored so tiny scales stay measurable."""
    return max(partner.calls_per_day * scale, FLOOR_CALLS_PER_DAY)


def expected_calls(partner: PartnerProfile, scale: float) -> np.ndarray:
    """Expected calls per day of the scenario year (before activity windows and events)."""
    return base_calls(partner, scale) * day_factors(partner)


def expected_items(partner: PartnerProfile, scale: float) -> np.ndarray:
    return expected_calls(partner, scale) * partner.items_per_call
