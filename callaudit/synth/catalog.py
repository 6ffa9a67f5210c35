"""The cast of the ``twitter-2022`` scenario: endpoints, partners, networks, holidays.

Static data only, modelled on public figures: one very large enterprise partner
(Microsoft, ~2.2 M calls/day), an AI lab, analytics firms, news organisations, ad-tech
and academic research, log-spread down to tens of calls a day. Everything seed-dependent
(which days carry which planted event) lives in ``plan.py``; this module is the same for
every seed so partners keep their character across runs.
"""

import datetime as dt
import fnmatch
import ipaddress
from dataclasses import dataclass, field

import numpy as np

SCENARIOS: tuple[str, ...] = ("twitter-2022",)
YEAR = 2022
YEAR_START = dt.date(YEAR, 1, 1)
YEAR_END = dt.date(YEAR, 12, 31)
DAYS = (YEAR_END - YEAR_START).days + 1

#: Volume floor (calls/day on a weekday at the start of the year) of an active partner,
#: so that tiny scales still give every partner enough calls for day-level statistics.
FLOOR_CALLS_PER_DAY = 40.0

#: Seed of the scenario's fixed character (endpoint mixes, IP pools, diurnal shapes).
CATALOG_SEED = 20220101


@dataclass(frozen=True)
class Endpoint:
    route: str
    items_per_call: float  # relative size of a successful response, in tweets
    latency_ms: float  # median server latency


ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint("GET /2/tweets/search/recent", 45, 180),
    Endpoint("GET /2/tweets/search/all", 85, 420),
    Endpoint("GET /2/tweets/search/stream", 30, 600),
    Endpoint("GET /2/tweets/sample/stream", 400, 950),
    Endpoint("GET /2/tweets/:id", 1, 45),
    Endpoint("GET /2/tweets", 40, 95),
    Endpoint("GET /2/tweets/counts/recent", 0, 110),
    Endpoint("GET /2/tweets/counts/all", 0, 260),
    Endpoint("GET /2/users/:id/tweets", 38, 130),
    Endpoint("GET /2/users/:id/mentions", 25, 140),
    Endpoint("GET /2/users/by/username/:username", 0, 35),
    Endpoint("GET /1.1/statuses/user_timeline.json", 60, 160),
    Endpoint("GET /1.1/search/tweets.json", 40, 210),
    Endpoint("POST /2/compliance/jobs", 0, 260),
    # Never part of a partner's normal mix: what unauthorised calls go to.
    Endpoint("GET /2/spaces/search", 0, 120),
    Endpoint("GET /2/dm_events", 0, 90),
    Endpoint("GET /2/lists/:id/tweets", 35, 150),
    Endpoint("GET /1.1/followers/ids.json", 0, 170),
)
ENDPOINT_INDEX = {e.route: i for i, e in enumerate(ENDPOINTS)}

#: Endpoint mix by kind of partner (weights, normalised later and jittered per partner).
MIXES: dict[str, dict[str, float]] = {
    "enterprise": {
        "GET /2/tweets/search/recent": 0.34,
        "GET /2/tweets/:id": 0.14,
        "GET /2/tweets": 0.20,
        "GET /2/users/:id/tweets": 0.14,
        "GET /1.1/statuses/user_timeline.json": 0.10,
        "GET /2/tweets/sample/stream": 0.02,
        "GET /2/tweets/counts/recent": 0.04,
        "POST /2/compliance/jobs": 0.02,
    },
    "ai": {
        "GET /2/tweets/search/all": 0.40,
        "GET /2/tweets": 0.25,
        "GET /2/users/:id/tweets": 0.20,
        "GET /2/tweets/sample/stream": 0.05,
        "GET /2/tweets/search/recent": 0.10,
    },
    "analytics": {
        "GET /2/tweets/search/recent": 0.40,
        "GET /2/tweets/search/all": 0.12,
        "GET /2/users/:id/tweets": 0.18,
        "GET /1.1/statuses/user_timeline.json": 0.14,
        "GET /2/tweets/counts/recent": 0.10,
        "POST /2/compliance/jobs": 0.03,
        "GET /1.1/search/tweets.json": 0.03,
    },
    "news": {
        "GET /2/tweets/search/recent": 0.45,
        "GET /2/tweets/:id": 0.30,
        "GET /2/tweets/search/stream": 0.10,
        "GET /2/users/:id/tweets": 0.15,
    },
    "adtech": {
        "GET /2/tweets/search/recent": 0.45,
        "GET /2/tweets": 0.30,
        "GET /2/users/by/username/:username": 0.15,
        "GET /2/tweets/sample/stream": 0.02,
        "GET /2/tweets/counts/recent": 0.08,
    },
    "academic": {
        "GET /2/tweets/search/all": 0.60,
        "GET /2/tweets/counts/all": 0.15,
        "GET /2/tweets": 0.15,
        "GET /2/users/:id/tweets": 0.10,
    },
    "social": {
        "GET /2/users/:id/tweets": 0.35,
        "GET /1.1/statuses/user_timeline.json": 0.20,
        "GET /2/tweets/search/recent": 0.25,
        "GET /2/tweets/:id": 0.10,
        "GET /2/users/:id/mentions": 0.10,
    },
}


@dataclass(frozen=True)
class PartnerProfile:
    """How one partner uses the API at scale 1.0."""

    id: str
    name: str
    kind: str
    calls_per_day: float  # weekday level on 2022-01-01
    items_per_call: float  # average tweets per call (errors included)
    apps: tuple[str, ...]
    limits: str = ""  # which limits its agreement carries: d=day, m=month, r=minute
    growth: float = 0.2  # relative growth over the year
    weekend: float = 0.8  # Saturday/Sunday factor
    peak_hour_utc: int = 16
    listed_apps: bool = True  # agreement lists its apps
    listed_endpoints: bool = True  # agreement lists endpoint globs
    app_since: dict[str, dt.date] = field(default_factory=dict)  # apps that start later


_MSFT_APPS = (
    "msft-bing-social",
    "msft-xbox-feed",
    "msft-ads-insights",
    "msft-news-start",
    "msft-azure-cognitive",
    "msft-linkedin-trends",
    "msft-teams-previews",
    "msft-research-sigma",
)

PARTNERS: tuple[PartnerProfile, ...] = (
    PartnerProfile("microsoft", "Microsoft", "enterprise", 2_090_000, 34.4, _MSFT_APPS, "dmr", 0.2, 0.85, 17),
    PartnerProfile("openai", "OpenAI", "ai", 180_000, 48, ("openai-webtext-crawl", "openai-eval-feeds"), "", 0.35, 0.97, 20, listed_endpoints=False),
    PartnerProfile("brandwatch", "Brandwatch", "analytics", 95_000, 30, ("bw-consumer-research", "bw-vizia"), "m", 0.3, 0.8, 11),
    PartnerProfile("sprinklr", "Sprinklr", "analytics", 80_000, 26, ("sprinklr-listening", "sprinklr-care"), "d", 0.25, 0.8, 15),
    PartnerProfile("meltwater", "Meltwater", "analytics", 60_000, 28, ("meltwater-monitor", "meltwater-explore", "meltwater-radarly"), "dm", 0.2, 0.8, 10, app_since={"meltwater-radarly": dt.date(2022, 7, 1)}),
    PartnerProfile("dataminr", "Dataminr", "news", 50_000, 22, ("dataminr-pulse", "dataminr-first-alert"), "", 0.15, 0.95, 14),
    PartnerProfile("talkwalker", "Talkwalker", "analytics", 35_000, 24, ("talkwalker-analytics",), "r", 0.25, 0.8, 9),
    PartnerProfile("hootsuite", "Hootsuite", "social", 30_000, 12, ("hootsuite-dashboard", "hootsuite-insights"), "r", 0.1, 0.75, 17),
    PartnerProfile("sprout-social", "Sprout Social", "social", 25_000, 14, ("sprout-smart-inbox", "sprout-listening"), "", 0.2, 0.75, 16),
    PartnerProfile("the-trade-desk", "The Trade Desk", "adtech", 20_000, 18, ("ttd-audience", "ttd-brand-safety"), "", 0.3, 0.9, 18),
    PartnerProfile("nytimes", "The New York Times", "news", 15_000, 9, ("nyt-newsroom", "nyt-graphics"), "d", 0.1, 0.9, 15),
    PartnerProfile("reuters", "Reuters", "news", 12_000, 11, ("reuters-connect",), "", 0.1, 0.9, 12),
    PartnerProfile("bbc-news", "BBC News", "news", 9_000, 10, ("bbc-newsgathering", "bbc-verify"), "", 0.12, 0.9, 10),
    PartnerProfile("criteo", "Criteo", "adtech", 7_000, 16, ("criteo-contextual",), "", 0.2, 0.9, 11),
    PartnerProfile("integral-ad-science", "Integral Ad Science", "adtech", 5_000, 15, ("ias-context-control",), "", 0.25, 0.9, 15),
    PartnerProfile("nielsen", "Nielsen", "analytics", 4_000, 27, ("nielsen-social-content-ratings",), "", 0.1, 0.85, 16),
    PartnerProfile("similarweb", "Similarweb", "analytics", 3_000, 21, ("similarweb-social",), "d", 0.3, 0.8, 9),
    PartnerProfile("pulsar", "Pulsar Platform", "analytics", 2_000, 25, ("pulsar-trac",), "", 0.2, 0.8, 10),
    PartnerProfile("netbase-quid", "NetBase Quid", "analytics", 1_500, 30, ("netbase-insight",), "", 0.15, 0.8, 17),
    PartnerProfile("stanford-io", "Stanford Internet Observatory", "academic", 1_000, 70, ("sio-research",), "m", 0.4, 0.7, 19),
    PartnerProfile("oii-oxford", "Oxford Internet Institute", "academic", 600, 65, ("oii-compprop",), "m", 0.3, 0.7, 11),
    PartnerProfile("mit-media-lab", "MIT Media Lab", "academic", 400, 60, ("mit-ccc",), "", 0.2, 0.7, 18),
    PartnerProfile("iu-osome", "Indiana University OSoMe", "academic", 300, 75, ("osome-botometer", "osome-hoaxy"), "", 0.25, 0.8, 17),
    PartnerProfile("gdelt", "GDELT Project", "news", 250, 40, ("gdelt-gkg",), "", 0.1, 1.0, 0, listed_apps=False, listed_endpoints=False),
    PartnerProfile("ap-news", "Associated Press", "news", 200, 8, ("ap-newsroom",), "", 0.1, 0.9, 14),
    PartnerProfile("politifact", "PolitiFact", "news", 120, 12, ("politifact-factcheck",), "", 0.3, 0.8, 15, listed_apps=False),
    PartnerProfile("uw-cip", "UW Center for an Informed Public", "academic", 80, 55, ("cip-rapid-response",), "", 0.3, 0.7, 20),
    PartnerProfile("berkman-klein", "Berkman Klein Center", "academic", 50, 50, ("bkc-media-cloud",), "", 0.2, 0.7, 16),
    PartnerProfile("texas-tribune", "The Texas Tribune", "news", 30, 7, ("txtrib-newsroom",), "", 0.1, 0.85, 18, listed_endpoints=False),
    PartnerProfile("emplifi", "Emplifi", "social", 20, 13, ("emplifi-listening",), "", 0.2, 0.8, 12, listed_apps=False),
)  # fmt: skip

#: A partner id that calls on a few days but is in no agreement at all.
UNKNOWN_PARTNER = PartnerProfile(
    "xdh-harvest", "xdh-harvest", "analytics", 60, 40, ("xdh-crawler-1",), "", 0.0, 1.0, 3
)

# Roles in the plan (fixed partners so the agreement shapes stay recognisable).
DAILY_LIMIT_PARTNER = "sprinklr"
MONTHLY_LIMIT_PARTNER = "brandwatch"
RATE_LIMIT_PARTNER = "talkwalker"
RENEWAL_PARTNER = "meltwater"
LATE_START_PARTNER = "similarweb"
ENDED_PARTNER = "openai"
ENDED_ON = dt.date(2022, 12, 15)
ALLOWED_NETWORK_PARTNER = "dataminr"
ALLOWED_NETWORK = "gov-agency-b"


@dataclass(frozen=True)
class RestrictedNetwork:
    cidr: str
    label: str


RESTRICTED_NETWORKS: tuple[RestrictedNetwork, ...] = (
    RestrictedNetwork("192.0.2.0/24", "gov-agency-a"),
    RestrictedNetwork("198.51.100.0/24", ALLOWED_NETWORK),
    RestrictedNetwork("2001:db8:77::/48", "gov-agency-c"),
)

#: Holidays with their volume factor (mild dips: never an anomaly).
HOLIDAYS: dict[dt.date, float] = {
    dt.date(2022, 1, 1): 0.75,
    dt.date(2022, 1, 17): 0.9,
    dt.date(2022, 4, 15): 0.88,
    dt.date(2022, 4, 18): 0.88,
    dt.date(2022, 5, 30): 0.85,
    dt.date(2022, 7, 4): 0.8,
    dt.date(2022, 9, 5): 0.85,
    dt.date(2022, 11, 24): 0.78,
    dt.date(2022, 11, 25): 0.85,
    dt.date(2022, 12, 24): 0.8,
    dt.date(2022, 12, 25): 0.72,
    dt.date(2022, 12, 26): 0.8,
    dt.date(2022, 12, 31): 0.78,
}

#: Names of apps that appear without authorisation (suffixes to a partner prefix).
ROGUE_APP_SUFFIXES = ("scraper", "test-key", "legacy-v1", "shadow-ingest", "intern-tool")

_PUBLIC_FIRST_OCTETS = (3, 13, 18, 23, 34, 35, 44, 54, 64, 66, 69, 99, 104, 107, 136, 143, 146, 151, 159, 162, 167, 185, 188, 193, 195, 212, 213)  # fmt: skip
_IPV6_PREFIXES = ("2600:1f18", "2a05:d014", "2606:4700", "2a00:1450", "2620:10d", "2a02:26f0")


def rogue_apps(partner: PartnerProfile) -> tuple[str, ...]:
    prefix = partner.apps[0].split("-")[0]
    return tuple(f"{prefix}-{suffix}" for suffix in ROGUE_APP_SUFFIXES)


def endpoint_glob(route: str) -> str:
    """The glob an agreement would grant for ``route``: its first two path segments."""
    method, path = route.split(" ", 1)
    segments = path.strip("/").split("/")
    if len(segments) <= 2:
        return route
    return f"{method} /{segments[0]}/{segments[1]}/*"


@dataclass(frozen=True)
class PartnerCharacter:
    """Seed-independent per-partner arrays derived from a profile."""

    endpoint_ids: np.ndarray  # global endpoint indices of its mix
    endpoint_weights: np.ndarray  # normalised
    globs: tuple[str, ...]
    ips: tuple[str, ...]
    ip_weights: np.ndarray
    diurnal: np.ndarray  # 1440 minute weights, mean 1
    error_rate: float


def _ip_pool(rng: np.random.Generator, index: int, size: int, v6_share: float) -> list[str]:
    firsts = (20, 40, 52) if index == 0 else rng.choice(_PUBLIC_FIRST_OCTETS, 2, replace=False)
    pool: set[str] = set()
    n6 = round(size * v6_share)
    prefix6 = "2a01:111:f400" if index == 0 else str(rng.choice(_IPV6_PREFIXES))
    while len(pool) < size - n6:
        a = int(rng.choice(firsts))
        b, c, d = (int(x) for x in rng.integers([0, 0, 1], [256, 256, 255]))
        pool.add(f"{a}.{b}.{c}.{d}")
    v6: set[str] = set()
    while len(v6) < n6:
        x, y = (int(v) for v in rng.integers(0, 65536, 2))
        v6.add(str(ipaddress.IPv6Address(f"{prefix6}:{x:x}::{y:x}")))
    return sorted(pool) + sorted(v6)


def build_characters(partners: tuple[PartnerProfile, ...]) -> list[PartnerCharacter]:
    """Endpoint mixes, IP pools and daily rhythms, fixed by ``CATALOG_SEED``."""
    restricted = [ipaddress.ip_network(n.cidr) for n in RESTRICTED_NETWORKS]
    characters = []
    minutes = np.arange(1440) / 1440.0
    for index, partner in enumerate(partners):
        rng = np.random.default_rng([CATALOG_SEED, index])
        mix = MIXES[partner.kind]
        routes = list(mix)
        weights = np.array([mix[r] for r in routes]) * rng.uniform(0.7, 1.3, len(routes))
        ids = np.array([ENDPOINT_INDEX[r] for r in routes], dtype=np.int32)
        globs = tuple(dict.fromkeys(endpoint_glob(r) for r in routes))
        size = int(np.clip(3 + 4 * np.log10(max(partner.calls_per_day, 10)), 4, 40))
        if index == 0:
            size = 96
        ips = _ip_pool(rng, index, size, 0.2 if index % 3 == 0 else 0.0)
        for ip in ips:
            addr = ipaddress.ip_address(ip)
            assert not any(addr in net for net in restricted if net.version == addr.version)
        ip_weights = 1.0 / np.arange(1, len(ips) + 1) ** 0.8
        amplitude = rng.uniform(0.35, 0.6)
        phase = partner.peak_hour_utc / 24.0
        diurnal = (
            1
            + amplitude * np.cos(2 * np.pi * (minutes - phase))
            + 0.1 * np.cos(4 * np.pi * (minutes - phase))
        )
        characters.append(
            PartnerCharacter(
                endpoint_ids=ids,
                endpoint_weights=weights / weights.sum(),
                globs=globs,
                ips=tuple(ips),
                ip_weights=ip_weights / ip_weights.sum(),
                diurnal=diurnal / diurnal.mean(),
                error_rate=float(rng.uniform(0.01, 0.03)),
            )
        )
    return characters


def unauthorized_routes(globs: tuple[str, ...]) -> list[str]:
    """Catalogue routes that match none of ``globs`` (candidates for unauthorised calls)."""
    return [e.route for e in ENDPOINTS if not any(fnmatch.fnmatchcase(e.route, g) for g in globs)]
