"""Planted volume spikes and drops: the ground truth of the statistical flags.

They go only to contracted partners whose agreements carry no limits, so a swing never
doubles as a limit breach; the late starter (whose early days are already planted as
missing an agreement) and Microsoft are left out too.
"""

from dataclasses import dataclass

import numpy as np

from callaudit.synth import catalog
from callaudit.synth.catalog import DAYS, PARTNERS, PartnerProfile
from callaudit.synth.planted import PlantedEvent, VolumeFlag
from callaudit.synth.schedule import HOLIDAY, PLANT_SEASON
from callaudit.synth.volume import scenario_days

_KINDS = ("spike_both", "spike_calls", "spike_items", "drop_both", "drop_items")
_METRICS = {"both": ("calls", "items"), "calls": ("calls",), "items": ("items",)}


@dataclass(frozen=True)
class VolumeSwings:
    calls_mult: np.ndarray  # [day, partner] 1.0 = no swing
    items_mult: np.ndarray  # [day, partner] 1.0 = no swing
    events: list[PlantedEvent]
    flags: list[VolumeFlag]


def plant_volume_swings(
    rng: np.random.Generator, partners: tuple[PartnerProfile, ...]
) -> VolumeSwings:
    """Each kind of swing twice, at most two per partner, four weeks apart."""
    days = scenario_days()
    eligible = [
        i
        for i, p in enumerate(PARTNERS)
        if not p.limits and p.id not in (catalog.LATE_START_PARTNER, "microsoft")
    ]
    kinds = list(_KINDS) * 2
    rng.shuffle(kinds)
    candidates = np.flatnonzero(~HOLIDAY & PLANT_SEASON)
    calls_mult = np.ones((DAYS, len(partners)))
    items_mult = np.ones((DAYS, len(partners)))
    events: list[PlantedEvent] = []
    flags: list[VolumeFlag] = []
    used: dict[int, list[int]] = {}
    for kind in kinds:
        p, d = _partner_day(rng, eligible, candidates, used)
        used.setdefault(p, []).append(d)
        spike = kind.startswith("spike")
        k = float(rng.uniform(3.5, 5.0) if spike else rng.uniform(0.12, 0.25))
        metrics = _METRICS[kind.split("_")[1]]
        if kind in ("spike_both", "drop_both"):
            calls_mult[d, p] = k
        elif kind == "spike_calls":
            calls_mult[d, p], items_mult[d, p] = k, 1.0 / k
        else:
            items_mult[d, p] = k
        flag = "volume_spike" if spike else "volume_drop"
        what = " and ".join(metrics)
        for metric in metrics:
            flags.append(
                VolumeFlag(days[d], partners[p].id, flag, metric, f"planted x{k:.2f} on {what}")
            )
        events.append(PlantedEvent(days[d], partners[p].id, flag, f"x{k:.2f} on {what}"))
    return VolumeSwings(calls_mult, items_mult, events, flags)


def _partner_day(
    rng: np.random.Generator,
    eligible: list[int],
    candidates: np.ndarray,
    used: dict[int, list[int]],
) -> tuple[int, int]:
    """A partner with fewer than two swings and a day 28+ days from them.

    After 50 draws the last one is kept even if it breaks the spacing, rather than failing
    the plan.
    """
    for _ in range(50):
        p = int(rng.choice(eligible))
        d = int(rng.choice(candidates))
        if len(used.get(p, [])) < 2 and all(abs(d - u) >= 28 for u in used.get(p, [])):
            break
    return p, d
