"""Rows of one partner-day, vectorised, matching the plan's calls and items exactly.

Strings (partner, app, endpoint, client IP) are integer indices into day-independent
dictionaries, so a day is a handful of numpy arrays and the Parquet writer gets
dictionary arrays without hashing millions of strings.
"""

import datetime as dt
from dataclasses import dataclass, field

import numpy as np

from callaudit.synth import catalog
from callaudit.synth.plan import Plan, app_weights

DAY_US = 86_400_000_000
MINUTE_US = 60_000_000
EPOCH = dt.date(1970, 1, 1)

_ERROR_CODES = np.array([429, 400, 401, 403, 404, 500, 502, 503, 504], dtype=np.int32)
_ERROR_CUM = np.cumsum([0.35, 0.10, 0.05, 0.05, 0.10, 0.10, 0.05, 0.15, 0.05])
_ERROR_CUM /= _ERROR_CUM[-1]

#: Request-id slots (bits 40-45 of the counter) reserved for rows that are not calls.
BAD_ROW_SLOT = 62

#: Most blocks one day may be generated in (``day_rows(block=)``): block b's calls use
#: request-id slot b and its bad rows slot ``BAD_ROW_SLOT - b``, so blocks never share an id.
MAX_BLOCKS = 30


def day_start_us(day: dt.date) -> int:
    return (day - EPOCH).days * DAY_US


def request_ids(seed: int, doy: int, slot: int, rows: np.ndarray) -> np.ndarray:
    """Unique, random-looking uint64 ids: a bijective mix of (day, slot, row)."""
    key = np.uint64((seed * 0x9E3779B97F4A7C15) & 0xFFFFFFFFFFFFFFFF)
    x = (np.uint64(doy) << np.uint64(46)) | (np.uint64(slot) << np.uint64(40))
    x = (rows.astype(np.uint64) | x) ^ key
    x ^= x >> np.uint64(30)
    x *= np.uint64(0xBF58476D1CE4E5B9)
    x ^= x >> np.uint64(27)
    x *= np.uint64(0x94D049BB133111EB)
    x ^= x >> np.uint64(31)
    return x


@dataclass
class Dictionaries:
    """Every string value a day can contain, with fast look-ups."""

    partner_ids: list[str]
    app_ids: list[str]
    routes: list[str]
    ips: list[str]
    ip_label: np.ndarray  # per ip: index into labels, -1 when not restricted
    labels: list[str]
    app_index: dict[str, int]
    route_index: dict[str, int]
    ip_index: dict[str, int]
    item_means: np.ndarray  # per route
    log_latency: np.ndarray  # per route
    partner_ip_ids: list[np.ndarray]
    partner_route_ids: list[np.ndarray]
    route_cum: np.ndarray  # combined per-partner cumulative weights (see _combined_cum)
    ip_cum: np.ndarray
    error_rate: np.ndarray  # per partner
    arrow: dict = field(default_factory=dict)  # the string lists as Arrow arrays, built once


def build_dictionaries(plan: Plan) -> Dictionaries:
    app_ids: list[str] = []
    for p in plan.partners:
        app_ids += [*p.apps, *catalog.rogue_apps(p)]
    app_ids = list(dict.fromkeys(app_ids))
    routes = [e.route for e in catalog.ENDPOINTS]
    labels = [n.label for n in catalog.RESTRICTED_NETWORKS]
    ips: list[str] = []
    ip_label: list[int] = []
    partner_ip_ids = []
    for character in plan.characters:
        partner_ip_ids.append(np.arange(len(ips), len(ips) + len(character.ips), dtype=np.int32))
        ips += character.ips
        ip_label += [-1] * len(character.ips)
    for i, label in enumerate(labels):
        pool = plan.restricted_ips[label]
        ips += pool
        ip_label += [i] * len(pool)
    return Dictionaries(
        partner_ids=[p.id for p in plan.partners],
        app_ids=app_ids,
        routes=routes,
        ips=ips,
        ip_label=np.array(ip_label, dtype=np.int8),
        labels=labels,
        app_index={a: i for i, a in enumerate(app_ids)},
        route_index={r: i for i, r in enumerate(routes)},
        ip_index={ip: i for i, ip in enumerate(ips)},
        item_means=np.array([e.items_per_call for e in catalog.ENDPOINTS]),
        log_latency=np.log([e.latency_ms for e in catalog.ENDPOINTS]),
        partner_ip_ids=partner_ip_ids,
        partner_route_ids=[c.endpoint_ids for c in plan.characters],
        route_cum=_combined_cum([c.endpoint_weights for c in plan.characters]),
        ip_cum=_combined_cum([c.ip_weights for c in plan.characters]),
        error_rate=np.array([c.error_rate for c in plan.characters]),
    )


@dataclass
class DayRows:
    """A day's valid rows, ordered by shipper file (6-hour window), partner and minute."""

    columns: dict[str, np.ndarray]
    file_bounds: np.ndarray  # rows of file f are file_bounds[f]:file_bounds[f + 1]
    partner: np.ndarray  # partner index per row
    peak_calls_per_minute: np.ndarray  # per partner
    #: valid calls per partner and minute of the day (n_partners x 1440)
    minute_calls: np.ndarray | None = None


def _pick(cum: np.ndarray, u: np.ndarray) -> np.ndarray:
    return np.minimum(np.searchsorted(cum, u * cum[-1], side="right"), len(cum) - 1)


def _combined_cum(weights: list[np.ndarray]) -> np.ndarray:
    """Cumulative weights of several partners on one axis: partner p spans (p, p + 1]."""
    parts = []
    for p, w in enumerate(weights):
        cum = np.cumsum(w) / w.sum()
        cum[-1] = 1.0
        parts.append(cum + p)
    return np.concatenate(parts)


def _pick_per_partner(combined: np.ndarray, partner: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Index into the concatenated choices of each row's partner, drawn with ``u``."""
    return np.searchsorted(combined, partner + u, side="right")


def distribute(
    total: np.ndarray, shape: np.ndarray, partner: np.ndarray, starts: np.ndarray
) -> np.ndarray:
    """Integers per row, proportional to ``shape`` within each partner, summing to ``total[p]``.

    Rows must be sorted by partner; partner p's rows are ``starts[p]:starts[p + 1]``.
    Cumulative shares are floored, so a block sums exactly to its total (its last share
    is exactly 1.0) and zero-shape rows get 0.
    """
    cum = np.concatenate([[0.0], np.cumsum(shape)])
    ends = np.r_[starts[1:], len(shape)]
    before = cum[starts]
    block_total = cum[ends] - before
    denominator = block_total[partner]
    share = np.divide(
        cum[1:] - before[partner], denominator, out=np.zeros(len(shape)), where=denominator > 0
    )
    level = np.floor(share * total[partner]).astype(np.int64)
    out = np.diff(level, prepend=0)
    first = starts[ends > starts]
    out[first] = level[first]
    return out


_BIG = 50_000  # partners with more calls a day draw their minutes with one multinomial


def block_seed(seed: int, stream: int, d: int, block: int) -> list[int]:
    """The RNG seed of one block of a day: block 0 is the day as it always was, so scales
    up to 1.0 stay byte-identical; a larger scale adds blocks with seeds of their own."""
    return [seed, stream, d] if block == 0 else [seed, stream, d, block]


def day_rows(plan: Plan, dicts: Dictionaries, d: int, block: int = 0) -> DayRows:
    """Generate all valid calls of day index ``d`` (exactly the plan's calls and items).

    ``block`` > 0 draws another, independent copy of the day's traffic (its own random
    rows and request ids): a day above scale 1.0 is several blocks, written one by one.
    """
    day = plan.days[d]
    rng = np.random.default_rng(block_seed(plan.seed, 11, d, block))
    n_partners = len(plan.partners)
    calls = plan.calls[d].astype(np.int64)
    base = calls - plan.rate_extra[d]

    # Calls per partner and minute.
    weights = [
        plan.minute_weights(d, p) if calls[p] else plan.characters[p].diurnal
        for p in range(n_partners)
    ]
    counts = np.zeros((n_partners, 1440), dtype=np.int64)
    small = (calls > 0) & (base < _BIG)
    for p in np.flatnonzero(base >= _BIG):
        counts[p] = rng.multinomial(base[p], weights[p])
    if small.any():
        owners = np.repeat(np.arange(n_partners), np.where(small, base, 0))
        slot = _pick_per_partner(_combined_cum(weights), owners, rng.random(len(owners)))
        counts += np.bincount(slot, minlength=n_partners * 1440).reshape(n_partners, 1440)
    for p in np.flatnonzero(plan.rate_extra[d]):
        counts[p, plan.rate_minute[d, p]] += plan.rate_extra[d, p]

    # Rows in file order: file (6-hour window), then partner, then minute.
    files = 4
    per_file = counts.reshape(n_partners, files, 1440 // files).transpose(1, 0, 2)
    minute_of = np.broadcast_to(np.arange(1440).reshape(files, 1, 1440 // files), per_file.shape)
    partner_of = np.broadcast_to(np.arange(n_partners).reshape(1, n_partners, 1), per_file.shape)
    flat_counts = per_file.ravel()
    minute = np.repeat(minute_of.ravel().astype(np.int64), flat_counts)
    partner = np.repeat(partner_of.ravel().astype(np.int32), flat_counts)
    n = len(minute)
    file_rows = per_file.sum(axis=(1, 2))
    file_bounds = np.concatenate([[0], np.cumsum(file_rows)])

    u = rng.random((6, n))
    ts = day_start_us(day) + minute * MINUTE_US + (u[0] * MINUTE_US).astype(np.int64)
    app_weight_list = [app_weights(plan, p, day) for p in range(n_partners)]
    app_lookup = np.concatenate(
        [
            np.array([dicts.app_index[a] for a in plan.partners[p].apps], dtype=np.int32)
            for p in range(n_partners)
        ]
    )
    app = app_lookup[_pick_per_partner(_combined_cum(app_weight_list), partner, u[1])]
    route = np.concatenate(dicts.partner_route_ids)[
        _pick_per_partner(dicts.route_cum, partner, u[2])
    ]
    ip = np.concatenate(dicts.partner_ip_ids)[_pick_per_partner(dicts.ip_cum, partner, u[3])]

    error = u[4] < dicts.error_rate[partner]
    status = np.full(n, 200, dtype=np.int32)
    status[error] = _ERROR_CODES[_pick(_ERROR_CUM, u[5][error])]
    shape = dicts.item_means[route] * (0.25 + 1.5 * u[5])
    shape[error] = 0.0

    # Items: the plan's total per partner, spread over its successful calls. The
    # distribution needs each partner's rows together, so work in partner order.
    by_partner = np.argsort(partner, kind="stable")
    sorted_partner = partner[by_partner]
    starts = np.searchsorted(sorted_partner, np.arange(n_partners))
    present = np.flatnonzero(calls > 0)
    sorted_shape = shape[by_partner]
    totals = plan.items[d].astype(np.int64)
    sums = np.bincount(sorted_partner, weights=sorted_shape, minlength=n_partners)
    for p in present:
        if totals[p] > 0 and sums[p] <= 0:
            # Only empty responses drawn: make the partner's first call a successful search.
            row = by_partner[starts[p]]
            status[row] = 200
            error[row] = False
            route[row] = dicts.route_index["GET /2/tweets/search/recent"]
            shape[row] = sorted_shape[starts[p]] = 1.0
    items = np.empty(n, dtype=np.int64)
    items[by_partner] = distribute(totals, sorted_shape, sorted_partner, starts)
    size = rng.integers(2300, 2700, n)
    nbytes = items * size + rng.integers(350, 1400, n)
    nbytes[error] = size[error] // 10
    latency = np.exp(dicts.log_latency[route] + 0.45 * rng.standard_normal(n)).astype(np.int64) + 1

    for (rd, p), replacements in plan.replacements.items():
        if rd != d:
            continue
        rows_of_p = by_partner[starts[p] : starts[p] + calls[p]]
        for replacement in replacements:
            rows = rng.choice(rows_of_p, size=min(replacement.count, len(rows_of_p)), replace=False)
            index = {
                "app_id": dicts.app_index,
                "endpoint": dicts.route_index,
                "client_ip": dicts.ip_index,
            }
            values = np.array(
                [index[replacement.column][v] for v in replacement.values], dtype=np.int32
            )
            target = {"app_id": app, "endpoint": route, "client_ip": ip}[replacement.column]
            target[rows] = values[rng.integers(len(values), size=len(rows))]

    columns = {
        "request_id": request_ids(plan.seed, d, block, np.arange(n)),
        "ts": ts,
        "partner_id": partner,
        "app_id": app.astype(np.int32, copy=False),
        "endpoint": route.astype(np.int32, copy=False),
        "status": status,
        "items": items,
        "bytes": nbytes,
        "latency_ms": latency,
        "client_ip": ip.astype(np.int32, copy=False),
    }
    return DayRows(columns, file_bounds, partner, counts.max(axis=1), counts)
