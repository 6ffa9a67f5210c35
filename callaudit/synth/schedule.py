"""The scenario year as day indices: the masks the plan's builders share.

The plan holds ``[day, partner]`` arrays, so agreements, months, holidays and the season
in which events are planted are boolean masks over day indices, computed here once.
Planted events stay between March 1 and November 30: every one has two months of
ordinary history before it (the volume detectors score a day against its past) and
the edges of the year stay ordinary.
"""

import datetime as dt

import numpy as np

from callaudit.synth import catalog
from callaudit.synth.catalog import DAYS, YEAR_START
from callaudit.synth.volume import scenario_days


def day_index(day: dt.date) -> int:
    """Row of ``day`` in the plan's ``[day, partner]`` arrays."""
    return (day - YEAR_START).days


def _read_only(mask: np.ndarray) -> np.ndarray:
    mask.flags.writeable = False
    return mask


FIRST_PLANT_DAY = day_index(dt.date(2022, 3, 1))
LAST_PLANT_DAY = day_index(dt.date(2022, 11, 30))

#: Days inside the planting season (both ends included).
PLANT_SEASON = _read_only(
    (np.arange(DAYS) >= FIRST_PLANT_DAY) & (np.arange(DAYS) <= LAST_PLANT_DAY)
)
HOLIDAY = _read_only(np.array([d in catalog.HOLIDAYS for d in scenario_days()]))
WEEKDAY = _read_only(np.array([d.weekday() < 5 for d in scenario_days()]))
MONTH = _read_only(np.array([d.month for d in scenario_days()]))


def window(start: dt.date, end: dt.date | None) -> np.ndarray:
    """Days of the year from ``start`` to ``end`` inclusive (``None``: open-ended)."""
    days = np.arange(DAYS)
    lo = day_index(start)
    hi = DAYS - 1 if end is None else day_index(end)
    return (days >= lo) & (days <= hi)


def quiet_days(rng: np.random.Generator, candidates: np.ndarray, n: int, gap: int) -> list[int]:
    """Pick up to ``n`` candidate days at least ``gap`` days apart."""
    chosen: list[int] = []
    for d in rng.permutation(candidates):
        if all(abs(int(d) - c) >= gap for c in chosen):
            chosen.append(int(d))
        if len(chosen) == n:
            break
    return sorted(chosen)
