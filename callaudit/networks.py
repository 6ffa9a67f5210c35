"""Which caller addresses fall in a restricted network (IPv4 and IPv6).

Only distinct addresses are classified, not every row, and each once per process (they
recur day after day): IPv4 text is parsed to integers in Polars and range-checked per
CIDR; the few IPv6 (and odd) addresses go through Python's ``ipaddress``. The most
specific matching network wins.
"""

import ipaddress
import threading
from collections.abc import Sequence

import polars as pl

from callaudit.contracts import RestrictedNetwork

LABEL = "network_label"


def _ipv4_to_int(col: pl.Expr) -> pl.Expr:
    octets = col.str.split_exact(".", 3)
    parts = [octets.struct.field(f"field_{i}").cast(pl.Int64, strict=False) for i in range(4)]
    valid = pl.all_horizontal([(p >= 0) & (p <= 255) for p in parts])
    value = parts[0] * 16_777_216 + parts[1] * 65_536 + parts[2] * 256 + parts[3]
    return pl.when(valid).then(value).otherwise(None)


_SCHEMA = {"client_ip": pl.String(), LABEL: pl.String()}

#: Most addresses remembered per set of networks; past it the memory starts again.
_KNOWN_LIMIT = 200_000
#: Address text -> label (None: in no restricted network), per set of networks.
_known: dict[tuple[tuple[str, str], ...], dict[str, str | None]] = {}
_known_lock = threading.Lock()


def label_addresses(addresses: pl.Series, networks: Sequence[RestrictedNetwork]) -> pl.DataFrame:
    """Map distinct ``client_ip`` values to the label of the restricted network they are in.

    Returns columns ``client_ip`` and ``network_label`` for restricted addresses only.

    Each address is classified once per process and set of networks, then remembered:
    callers come back day after day (a year at scale 0.01 holds 639 distinct addresses
    and each day ~500 of them; a full-size day 590), and classifying a day's ~500 cost
    ~1.9 thread-ms against ~0.2 to look them up.
    """
    if not networks or addresses.is_empty():
        return pl.DataFrame(schema=_SCHEMA)
    distinct = addresses.to_frame().select(pl.first().unique().drop_nulls().cast(pl.String))
    texts = distinct.to_series().to_list()
    key = tuple((n.label, n.cidr) for n in networks)
    with _known_lock:  # days run in threads
        known = _known.setdefault(key, {})
        if len(known) > _KNOWN_LIMIT:
            known.clear()
        found = {text: known[text] for text in texts if text in known}
    if new := [text for text in texts if text not in found]:
        labels = dict(_classify(pl.Series("client_ip", new), networks).iter_rows())
        fresh = {text: labels.get(text) for text in new}
        found.update(fresh)
        with _known_lock:
            known.update(fresh)
    rows = [(text, label) for text in texts if (label := found[text]) is not None]
    return pl.DataFrame(rows, schema=_SCHEMA, orient="row")


def _classify(addresses: pl.Series, networks: Sequence[RestrictedNetwork]) -> pl.DataFrame:
    """``label_addresses`` computed: distinct non-null address texts in, restricted ones
    with their label out. IPv4 text is parsed in Polars, the rest in Python."""
    # One call for both kinds of address, not five eager ones (~0.3 ms each, however
    # few the addresses).
    ips = pl.LazyFrame({"client_ip": addresses})
    v4_nets = sorted(
        (n for n in networks if n.network.version == 4),
        key=lambda n: n.network.prefixlen,
        reverse=True,
    )
    label_expr = pl.lit(None, dtype=pl.String)
    for net in reversed(v4_nets):  # most specific last, so it ends up outermost
        low = int(net.network.network_address)
        high = int(net.network.broadcast_address)
        label_expr = (
            pl.when(pl.col("_int").is_between(low, high))
            .then(pl.lit(net.label))
            .otherwise(label_expr)
        )
    dotted = pl.col("client_ip").str.contains(":").not_()
    v4_plan = (
        ips.filter(dotted)
        .with_columns(_ipv4_to_int(pl.col("client_ip")).alias("_int"))
        .select("client_ip", label_expr.alias(LABEL))
        .drop_nulls(LABEL)
    )
    v4, colons = pl.collect_all([v4_plan, ips.filter(~dotted)], engine="in-memory")
    others = colons.get_column("client_ip").to_list()
    by_specificity = sorted(networks, key=lambda n: n.network.prefixlen, reverse=True)
    v6_rows = []
    for text in others:
        try:
            address = ipaddress.ip_address(text.strip().split("%", 1)[0])
        except ValueError:
            continue
        mapped = getattr(address, "ipv4_mapped", None)
        candidates = [address] + ([mapped] if mapped is not None else [])
        for net in by_specificity:
            if any(a.version == net.network.version and a in net.network for a in candidates):
                v6_rows.append((text, net.label))
                break
    v6 = pl.DataFrame(v6_rows, schema=_SCHEMA, orient="row")
    return pl.concat([v4, v6]) if v6.height else v4
