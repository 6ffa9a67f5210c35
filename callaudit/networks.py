"""Which caller addresses fall in a restricted network (IPv4 and IPv6).

Only the day's distinct addresses are classified, not every row: IPv4 text is parsed to
integers in Polars and range-checked per CIDR; the few IPv6 (and odd) addresses go
through Python's ``ipaddress``. The most specific matching network wins.
"""

import ipaddress
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


def label_addresses(addresses: pl.Series, networks: Sequence[RestrictedNetwork]) -> pl.DataFrame:
    """Map distinct ``client_ip`` values to the label of the restricted network they are in.

    Returns columns ``client_ip`` and ``network_label`` for restricted addresses only.
    """
    empty = pl.DataFrame(schema={"client_ip": pl.String(), LABEL: pl.String()})
    if not networks or addresses.is_empty():
        return empty
    ips = pl.DataFrame({"client_ip": addresses.cast(pl.String)}).unique().drop_nulls()
    v4_nets = sorted(
        (n for n in networks if n.network.version == 4),
        key=lambda n: n.network.prefixlen,
        reverse=True,
    )
    dotted = ips.filter(~pl.col("client_ip").str.contains(":"))
    labelled = dotted.with_columns(_ipv4_to_int(pl.col("client_ip")).alias("_int"))
    label_expr = pl.lit(None, dtype=pl.String)
    for net in reversed(v4_nets):  # most specific last, so it ends up outermost
        low = int(net.network.network_address)
        high = int(net.network.broadcast_address)
        label_expr = (
            pl.when(pl.col("_int").is_between(low, high))
            .then(pl.lit(net.label))
            .otherwise(label_expr)
        )
    v4 = labelled.select("client_ip", label_expr.alias(LABEL)).drop_nulls(LABEL)

    others = ips.filter(pl.col("client_ip").str.contains(":"))["client_ip"].to_list()
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
    v6 = pl.DataFrame(v6_rows, schema=empty.schema, orient="row")
    return pl.concat([v4, v6]) if v6.height else v4
