"""Rule plants that rewrite a few rows of a partner-day; the day's volume is unchanged.

Unauthorised apps and endpoints and calls from restricted networks change what a row
says, not how many rows there are, so they are planted as ``Replacement`` records that
``rows.py`` applies to the day it generates.
"""

import datetime as dt
import ipaddress
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from callaudit.synth import catalog
from callaudit.synth.activity import Activity
from callaudit.synth.agreements import Terms, in_force
from callaudit.synth.catalog import (
    DAYS,
    PARTNERS,
    RESTRICTED_NETWORKS,
    UNKNOWN_PARTNER,
    PartnerCharacter,
    PartnerProfile,
)
from callaudit.synth.planted import PlantedEvent, Replacement
from callaudit.synth.volume import scenario_days

#: Always planted first: one IPv4 and one IPv6 network, so both address kinds are exercised.
_FIRST_RESTRICTED = ("gov-agency-a", "gov-agency-c")


@dataclass
class RowRewrites:
    replacements: dict[tuple[int, int], list[Replacement]] = field(default_factory=dict)
    events: list[PlantedEvent] = field(default_factory=list)


@dataclass
class _Planter:
    """Picks days and sizes for rewrites and records them, in the order ``rng`` is drawn."""

    rng: np.random.Generator
    calls: np.ndarray
    columns: dict[str, int]  # partner id -> column of ``calls``
    open_days: dict[str, np.ndarray]  # per partner id: days in force and active
    rewrites: RowRewrites = field(default_factory=RowRewrites)
    days: list[dt.date] = field(default_factory=scenario_days)

    def pick_day(self, partner_id: str) -> int:
        """A day the partner calls under an agreement, with at least 20 calls so that a
        few rewritten ones stay a small share."""
        p = self.columns[partner_id]
        ok = np.flatnonzero(self.open_days[partner_id] & (self.calls[:, p] >= 20))
        return int(self.rng.choice(ok))

    def share(self, d: int, partner_id: str) -> int:
        """0.2-2 % of the day's calls, at least one and at most a quarter."""
        n = int(self.calls[d, self.columns[partner_id]])
        return int(max(1, min(n // 4, round(n * self.rng.uniform(0.002, 0.02)))))

    def rewrite(self, d: int, p: int, replacement: Replacement) -> None:
        self.rewrites.replacements.setdefault((d, p), []).append(replacement)

    def plant(
        self, d: int, partner_id: str, replacement: Replacement, kind: str, detail: str
    ) -> None:
        self.rewrite(d, self.columns[partner_id], replacement)
        self.rewrites.events.append(PlantedEvent(self.days[d], partner_id, kind, detail))


def plant_row_rewrites(
    rng: np.random.Generator,
    partners: tuple[PartnerProfile, ...],
    characters: list[PartnerCharacter],
    terms: Terms,
    activity: Activity,
    calls: np.ndarray,
    restricted_ips: dict[str, tuple[str, ...]],
) -> RowRewrites:
    """Unauthorised apps and endpoints, restricted-network calls, and the allowed
    partner's routine calls from its network."""
    columns = {p.id: i for i, p in enumerate(partners)}
    open_days = {
        p_id: days & activity.active[:, columns[p_id]] for p_id, days in in_force(terms).items()
    }
    planter = _Planter(rng, calls, columns, open_days)
    _plant_unlisted(
        planter,
        [p.id for p in PARTNERS if p.listed_apps],
        "app_id",
        "unauthorized_app",
        lambda p: catalog.rogue_apps(partners[p]),
        "{n} calls from app {value}",
    )
    _plant_unlisted(
        planter,
        [p.id for p in PARTNERS if p.listed_endpoints],
        "endpoint",
        "unauthorized_endpoint",
        lambda p: catalog.unauthorized_routes(characters[p].globs),
        "{n} calls to {value}",
    )
    _plant_restricted(planter, restricted_ips, activity.unknown_days)
    _routine_allowed_network(planter, restricted_ips)
    return planter.rewrites


def _plant_unlisted(
    planter: _Planter,
    partner_ids: list[str],
    column: str,
    kind: str,
    values_of: Callable[[int], Sequence[str]],
    detail: str,
) -> None:
    """Five partner-days where a few calls carry a value their agreement does not list."""
    rng = planter.rng
    for _ in range(5):
        p_id = str(rng.choice(partner_ids))
        d = planter.pick_day(p_id)
        value = str(rng.choice(values_of(planter.columns[p_id])))
        n = planter.share(d, p_id)
        planter.plant(
            d, p_id, Replacement(column, n, (value,)), kind, detail.format(n=n, value=value)
        )


def _plant_restricted(
    planter: _Planter, restricted_ips: dict[str, tuple[str, ...]], unknown_days: list[int]
) -> None:
    """Six partner-days with calls from a restricted network, and one from the unknown
    partner (a restricted call with no agreement at all)."""
    rng = planter.rng
    calls = planter.calls
    labels = [n.label for n in RESTRICTED_NETWORKS]
    callers = [p.id for p in PARTNERS if p.id != catalog.ALLOWED_NETWORK_PARTNER]
    for i in range(6):
        p_id = str(rng.choice(callers))
        label = _FIRST_RESTRICTED[i] if i < len(_FIRST_RESTRICTED) else str(rng.choice(labels))
        d = planter.pick_day(p_id)
        n = max(1, min(int(rng.integers(3, 40)), int(calls[d, planter.columns[p_id]]) // 4))
        planter.plant(
            d,
            p_id,
            Replacement("client_ip", n, restricted_ips[label]),
            "restricted_network",
            f"{n} calls from {label}",
        )
    d = unknown_days[int(rng.integers(len(unknown_days)))]
    n = max(1, min(5, int(calls[d, planter.columns[UNKNOWN_PARTNER.id]]) // 4))
    planter.plant(
        d,
        UNKNOWN_PARTNER.id,
        Replacement("client_ip", n, restricted_ips["gov-agency-c"]),
        "restricted_network",
        f"{n} calls from gov-agency-c with no agreement",
    )


def _routine_allowed_network(planter: _Planter, restricted_ips: dict[str, tuple[str, ...]]) -> None:
    """The partner allowed to reach its network does so routinely (about a third of
    days): never a violation, and nothing in the truth."""
    allowed = planter.columns[catalog.ALLOWED_NETWORK_PARTNER]
    for d in np.flatnonzero(planter.rng.random(DAYS) < 0.35):
        n = max(1, int(planter.calls[d, allowed] * 0.005))
        planter.rewrite(
            int(d), allowed, Replacement("client_ip", n, restricted_ips[catalog.ALLOWED_NETWORK])
        )


def restricted_pools() -> dict[str, tuple[str, ...]]:
    """A fixed pool of addresses inside each restricted network, by label."""
    pools = {}
    for network in RESTRICTED_NETWORKS:
        net = ipaddress.ip_network(network.cidr)
        if net.version == 4:
            pools[network.label] = tuple(str(net[i]) for i in range(10, 250, 10))
        else:
            pools[network.label] = tuple(str(net[(i << 64) + 0x10 + i]) for i in range(1, 25))
    return pools
