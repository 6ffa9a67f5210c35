"""The scenario's agreements, in two steps: their terms first, their specs last.

Terms (id, dates, apps) come first because every limit is sized over the days its
agreement is in force; the specs written to contracts.yaml come last because they carry
those limits.
"""

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from callaudit.synth import catalog
from callaudit.synth.catalog import PARTNERS, PartnerCharacter, PartnerProfile
from callaudit.synth.schedule import window


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


class Term(NamedTuple):
    """One agreement before its limits are known."""

    id: str
    start: dt.date
    end: dt.date | None
    apps: tuple[str, ...] | None  # None: the agreement does not list apps


#: Terms per contracted partner id, in catalogue order.
Terms = dict[str, list[Term]]


def agreement_terms(rng: np.random.Generator, late_start: dt.date) -> Terms:
    """The fixed shapes (renewal, ended, late start) for their partners; a seeded
    two-year agreement for everyone else."""
    terms: Terms = {}
    for p in PARTNERS:
        apps = p.apps if p.listed_apps else None
        if p.id == "microsoft":
            terms[p.id] = [
                Term("msft-enterprise-2021", dt.date(2021, 7, 1), dt.date(2023, 6, 30), apps)
            ]
        elif p.id == catalog.ENDED_PARTNER:
            terms[p.id] = [
                Term("openai-research-2021", dt.date(2021, 10, 1), catalog.ENDED_ON, apps)
            ]
        elif p.id == catalog.RENEWAL_PARTNER:
            first = tuple(a for a in p.apps if a not in p.app_since)
            terms[p.id] = [
                Term("meltwater-2021", dt.date(2021, 7, 1), dt.date(2022, 6, 30), first),
                Term("meltwater-2022", dt.date(2022, 7, 1), dt.date(2023, 6, 30), p.apps),
            ]
        elif p.id == catalog.LATE_START_PARTNER:
            terms[p.id] = [Term("similarweb-2022", late_start, dt.date(2023, 3, 31), apps)]
        else:
            month = 1 + int(rng.integers(0, 12))
            end = dt.date(2023, month, 1) - dt.timedelta(days=1)
            terms[p.id] = [Term(f"{p.id}-2021", dt.date(2021, month, 1), end, apps)]
    return terms


def in_force(terms: Terms) -> dict[str, np.ndarray]:
    """Per partner id, the days of the year on which one of its agreements is in force."""
    return {
        p_id: np.any([window(t.start, t.end) for t in spans], axis=0)
        for p_id, spans in terms.items()
    }


def agreement_specs(
    rng: np.random.Generator,
    terms: Terms,
    partners: tuple[PartnerProfile, ...],
    characters: list[PartnerCharacter],
    limits_of: Callable[[str], dict[str, int]],
    scale: float,
) -> dict[str, list[AgreementSpec]]:
    """The contracts.yaml agreements: terms plus endpoints, sized limits and pricing."""
    column = {p.id: i for i, p in enumerate(partners)}
    agreements: dict[str, list[AgreementSpec]] = {}
    for p_id, spans in terms.items():
        profile = partners[column[p_id]]
        agreements[p_id] = [
            AgreementSpec(
                id=term.id,
                start=term.start,
                end=term.end,
                apps=term.apps,
                endpoints=characters[column[p_id]].globs if profile.listed_endpoints else None,
                limits=limits_of(term.id),
                pricing=_pricing(profile, scale, rng),
                allow_networks=(catalog.ALLOWED_NETWORK,)
                if p_id == catalog.ALLOWED_NETWORK_PARTNER
                else (),
            )
            for term in spans
        ]
    return agreements


def _pricing(partner: PartnerProfile, scale: float, rng: np.random.Generator) -> dict:
    monthly_items = partner.calls_per_day * partner.items_per_call * 30 * scale
    return {
        "monthly_fee": float(max(500, round(partner.calls_per_day * 0.2, -2))),
        "included_items": round(monthly_items * 0.8),
        "overage_per_1k_items": round(float(rng.uniform(0.5, 1.2)), 2),
    }
