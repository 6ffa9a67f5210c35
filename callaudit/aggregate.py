"""Daily aggregates from a day's valid calls: usage_daily, partner_daily, network_daily.

All three come from one frame in one ``collect_all`` so Polars shares the scan.

Every written sum is exact. Polars sums wrap silently (Int32 past 2^31, Int64 past
2^63), so before summing in Int64 the day proves no sum can wrap: no group's sum exceeds
rows x the largest magnitude, and when that product fits int64 every sum does (a
full-size day: 2.8 M rows x 1.4 MB = 4 x 10^12; the proof costs ~4 ms). Otherwise the
sums are taken in Int128, and a total that does not fit int64 refuses the day naming
partner, app and endpoint rather than write a wrapped figure. Under the ingest's
per-call maxima (``schema.PLAUSIBLE_MAX``) a day takes that path only with over 9
million calls of a terabyte each.
"""

from collections.abc import Sequence
from dataclasses import dataclass

import polars as pl

from callaudit.contracts import RestrictedNetwork
from callaudit.networks import LABEL, label_addresses
from callaudit.schema import NETWORK_DAILY, PARTNER_DAILY, USAGE_DAILY

_MICROS_PER_MINUTE = 60_000_000
_INT64 = (-(2**63), 2**63 - 1)

#: Raw columns summed into a table (the other sums count rows and cannot wrap).
SUMMED: tuple[str, ...] = ("items", "bytes")


class SumOverflowError(ValueError):
    """A day's total does not fit the tables' int64: the day is refused, not wrapped."""


@dataclass
class DailyAggregates:
    usage_daily: pl.DataFrame
    partner_daily: pl.DataFrame
    network_daily: pl.DataFrame


def _largest(valid: pl.DataFrame) -> int:
    """The largest magnitude in a summed column (0 for no rows)."""
    # Series reductions, not a select: no query to plan (0.02 thread-ms against 0.3).
    bounds = [bound for c in SUMMED for bound in (valid[c].max(), valid[c].min())]
    return max((abs(int(b)) for b in bounds if b is not None), default=0)


def sums_fit_int64(valid: pl.DataFrame) -> bool:
    """True when no group of rows can sum past int64 in a summed column: rows x the
    largest magnitude fits. One min/max pass, the product exact in Python integers."""
    return valid.height * _largest(valid) <= _INT64[1]


def _count(condition: pl.Expr) -> pl.Expr:
    return condition.cast(pl.Int64).sum()


def _named(row: dict, keys: Sequence[str]) -> str:
    return ", ".join(f"{key} {row[key]!r}" for key in keys)


def _refuse_wrapped(
    table: str,
    frame: pl.DataFrame,
    grain: Sequence[str],
    columns: Sequence[str],
    usage: pl.DataFrame | None = None,
) -> None:
    """Raise naming the first group whose Int128 total does not fit int64, and for a
    coarser table the usage groups (app, endpoint) it adds up, largest first."""
    for column in columns:
        outside = frame.filter(~pl.col(column).is_between(*_INT64))
        if outside.is_empty():
            continue
        row = outside.row(0, named=True)
        message = f"{table}: {column} of {_named(row, grain)} totals {row[column]}"
        if usage is not None:
            parts = usage.filter(pl.all_horizontal(pl.col(k) == row[k] for k in grain)).sort(
                column, descending=True
            )
            listed = "; ".join(
                f"{_named(part, USAGE_DAILY.grain[len(grain) :])}: {part[column]}"
                for part in parts.head(3).iter_rows(named=True)
            )
            message += f", from {parts.height} app/endpoint groups ({listed})"
        more = f" ({outside.height} groups in all)" if outside.height > 1 else ""
        raise SumOverflowError(
            f"{message}, beyond int64 ({_INT64[1]}){more}: the day is refused rather than "
            "written wrapped"
        )


def _marked_calls(
    valid: pl.DataFrame, networks: Sequence[RestrictedNetwork]
) -> tuple[pl.LazyFrame, pl.DataFrame | None]:
    """The calls with ``_restricted`` (from any restricted network), and the labels of
    the restricted addresses among them (None without networks)."""
    ip_type = valid.schema["client_ip"]
    labels = None
    restricted_ips = pl.Series("client_ip", [], dtype=ip_type)
    if networks:
        found = label_addresses(valid["client_ip"], networks)
        restricted_ips = found["client_ip"].cast(ip_type)  # a Series cast: no query
        labels = pl.DataFrame([restricted_ips, found[LABEL]])
    calls = valid.lazy().with_columns(
        pl.col("client_ip").is_in(restricted_ips.implode()).alias("_restricted"),
    )
    return calls, labels


def _usage_sums(sum_type: pl.DataType) -> list[pl.Expr]:
    """usage_daily's additive columns: calls, sums and counts."""
    status = pl.col("status")
    return [
        pl.len().cast(pl.Int64).alias("calls"),
        pl.col("items").cast(sum_type).sum().alias("items"),
        pl.col("bytes").cast(sum_type).sum().alias("bytes"),
        _count(status.is_between(400, 499)).alias("errors_4xx"),
        _count(status.is_between(500, 599)).alias("errors_5xx"),
        _count(status == 429).alias("throttled"),
        _count(pl.col("_restricted")).alias("restricted_calls"),
    ]


def _minute() -> pl.Expr:
    return (pl.col("ts").dt.epoch("us") // _MICROS_PER_MINUTE).alias("_minute")


#: The tables ``aggregate_day`` makes, in the order it makes them.
_TABLES = (USAGE_DAILY, PARTNER_DAILY, NETWORK_DAILY)


def aggregate_day(valid: pl.DataFrame, networks: Sequence[RestrictedNetwork]) -> DailyAggregates:
    """Aggregate one day's valid, de-duplicated calls.

    ``restricted_calls`` counts calls from any restricted network; whether an agreement
    allows that network is the flags' business, not the aggregate's. Raises
    ``SumOverflowError`` when a total does not fit int64.
    """
    # Int64 when every sum provably fits (the hot path), Int128 checked otherwise.
    wide = not sums_fit_int64(valid)
    sum_type = pl.Int128 if wide else pl.Int64

    def _sum(name: str) -> pl.Expr:
        return pl.col(name).cast(sum_type).sum()

    status = pl.col("status")
    calls, labels = _marked_calls(valid, networks)

    usage = (
        calls.group_by("partner_id", "app_id", "endpoint")
        .agg(
            *_usage_sums(sum_type),
            pl.col("latency_ms")
            .quantile(0.95, interpolation="nearest")
            .cast(pl.Int64)
            .alias("latency_p95_ms"),
        )
        .sort("partner_id", "app_id", "endpoint")
    )
    per_minute_peak = (
        calls.group_by("partner_id", _minute())
        .len()
        .group_by("partner_id")
        .agg(pl.col("len").max().cast(pl.Int64).alias("peak_calls_per_minute"))
    )
    partner = (
        calls.group_by("partner_id")
        .agg(
            pl.len().cast(pl.Int64).alias("calls"),
            _sum("items").alias("items"),
            _sum("bytes").alias("bytes"),
            _count(status >= 400).alias("errors"),
            pl.col("app_id").n_unique().cast(pl.Int64).alias("apps"),
            pl.col("endpoint").n_unique().cast(pl.Int64).alias("endpoints"),
            _count(pl.col("_restricted")).alias("restricted_calls"),
            pl.col("client_ip").drop_nulls().n_unique().cast(pl.Int64).alias("distinct_client_ips"),
        )
        .join(per_minute_peak, on="partner_id", how="left")
        .sort("partner_id")
    )
    if labels is not None and labels.height:
        network = (
            calls.filter(pl.col("_restricted"))
            .join(labels.lazy(), on="client_ip", how="inner")
            .group_by("partner_id", "app_id", LABEL)
            .agg(
                pl.len().cast(pl.Int64).alias("calls"),
                _sum("items").alias("items"),
                pl.col("client_ip").n_unique().cast(pl.Int64).alias("distinct_client_ips"),
            )
            .sort("partner_id", "app_id", LABEL)
        )
    else:
        network = NETWORK_DAILY.empty().lazy()
    # Polars' in-memory engine, not the streaming one it picks by default: on a frame
    # already in memory, aggregate_day took 10.5-11.8 thread-ms a small day with the
    # streaming engine against 8.0-9.0 (a full-size day: 491-501 against 432-493), with
    # equal tables.
    plans = [usage, partner, network]
    if not wide:  # conformed in the same call: three selects after it cost ~0.8 thread-ms
        plans = [t.conform(plan) for t, plan in zip(_TABLES, plans, strict=True)]
    usage_df, partner_df, network_df = pl.collect_all(plans, engine="in-memory")
    return _checked(usage_df, partner_df, network_df, wide=wide)


def _checked(
    usage: pl.DataFrame, partner: pl.DataFrame, network: pl.DataFrame, *, wide: bool
) -> DailyAggregates:
    """The three tables in their written types; when a sum could not be proved to fit
    int64 (``wide``: summed in Int128), first refuse any total that does not fit."""
    if wide:
        # A partner's total can wrap when none of its app/endpoint groups does.
        _refuse_wrapped(USAGE_DAILY.name, usage, USAGE_DAILY.grain, SUMMED)
        _refuse_wrapped(PARTNER_DAILY.name, partner, PARTNER_DAILY.grain, SUMMED, usage)
        _refuse_wrapped(NETWORK_DAILY.name, network, NETWORK_DAILY.grain, ("items",))
    return DailyAggregates(
        usage_daily=USAGE_DAILY.conformed(usage),
        partner_daily=PARTNER_DAILY.conformed(partner),
        network_daily=NETWORK_DAILY.conformed(network),
    )


# --- A day in slices -------------------------------------------------------------------
#
# A day too big to hold whole is aggregated one request_id slice at a time (every
# delivery of a call is in one slice, so each slice is de-duplicated on its own). Each
# slice is reduced to parts that add up exactly: counts and sums (in Int128, proved to
# fit int64 for the whole day or refused as above), distinct values as sets (a partner's
# client addresses; its apps and endpoints are read off the merged usage groups),
# calls per partner and minute (the busiest minute is taken after adding them up), and
# per group a histogram of the integer latencies, from which the nearest-rank p95 is
# read exactly as ``quantile(0.95, interpolation="nearest")`` picks it.

_USAGE_KEYS: tuple[str, ...] = tuple(USAGE_DAILY.grain)
_NETWORK_KEYS: tuple[str, ...] = ("partner_id", "app_id", LABEL)
_USAGE_COUNTS: tuple[str, ...] = ("errors_4xx", "errors_5xx", "throttled", "restricted_calls")
_P95 = 0.95


@dataclass
class SliceAggregates:
    """One slice's share of a day's aggregates, in a form that merges exactly."""

    rows: int
    #: largest magnitude in a summed column, for the day's int64 proof
    largest: int
    usage: pl.DataFrame  # usage grain: calls, items, bytes (Int128), the usage counts
    latencies: pl.DataFrame  # usage grain x latency_ms (non-null): n
    partner: pl.DataFrame  # partner_id: calls, items, bytes (Int128), errors, restricted
    client_ips: pl.DataFrame  # distinct (partner_id, client_ip), nulls left out
    minutes: pl.DataFrame  # partner_id x minute: n
    network: pl.DataFrame  # network grain: calls, items (Int128)
    network_ips: pl.DataFrame  # distinct (partner_id, app_id, label, client_ip)


def slice_aggregates(valid: pl.DataFrame, networks: Sequence[RestrictedNetwork]) -> SliceAggregates:
    """Reduce one slice's valid, de-duplicated calls to mergeable parts."""

    def _sum(name: str) -> pl.Expr:
        return pl.col(name).cast(pl.Int128).sum()

    status = pl.col("status")
    calls, labels = _marked_calls(valid, networks)
    usage = calls.group_by(*_USAGE_KEYS).agg(_usage_sums(pl.Int128()))
    latencies = (
        calls.filter(pl.col("latency_ms").is_not_null())
        .group_by(*_USAGE_KEYS, "latency_ms")
        .agg(pl.len().cast(pl.Int64).alias("n"))
    )
    partner = calls.group_by("partner_id").agg(
        pl.len().cast(pl.Int64).alias("calls"),
        _sum("items").alias("items"),
        _sum("bytes").alias("bytes"),
        _count(status >= 400).alias("errors"),
        _count(pl.col("_restricted")).alias("restricted_calls"),
    )
    client_ips = calls.select("partner_id", "client_ip").drop_nulls("client_ip").unique()
    minutes = (
        calls.group_by("partner_id", _minute())
        .len()
        .rename({"len": "n"})
        .with_columns(pl.col("n").cast(pl.Int64))
    )
    if labels is not None and labels.height:
        labelled = calls.filter(pl.col("_restricted")).join(
            labels.lazy(), on="client_ip", how="inner"
        )
        network = labelled.group_by(*_NETWORK_KEYS).agg(
            pl.len().cast(pl.Int64).alias("calls"), _sum("items").alias("items")
        )
        network_ips = labelled.select(*_NETWORK_KEYS, "client_ip").unique()
    else:
        network = pl.LazyFrame(
            schema={
                "partner_id": valid.schema["partner_id"],
                "app_id": valid.schema["app_id"],
                LABEL: pl.String(),
                "calls": pl.Int64(),
                "items": pl.Int128(),
            }
        )
        network_ips = pl.LazyFrame(
            schema={
                "partner_id": valid.schema["partner_id"],
                "app_id": valid.schema["app_id"],
                LABEL: pl.String(),
                "client_ip": valid.schema["client_ip"],
            }
        )
    frames = pl.collect_all([usage, latencies, partner, client_ips, minutes, network, network_ips])
    return SliceAggregates(valid.height, _largest(valid), *frames)


def _round_half_away(value: pl.Expr) -> pl.Expr:
    """Round a non-negative float half away from zero, as Rust's ``f64::round`` (the
    nearest-rank quantile's index) does; Polars' own ``round`` rounds half to even."""
    return value.floor() + (value - value.floor() >= 0.5).cast(pl.Float64)


def nearest_rank_p95(histogram: pl.DataFrame, keys: Sequence[str]) -> pl.DataFrame:
    """Per group of ``keys``, the latency ``quantile(0.95, interpolation="nearest")``
    returns on the group's values, read from their histogram (``latency_ms``, ``n``):
    the value at 0-based rank round((n - 1) x 0.95) of the sorted non-null values."""
    ranked = (
        histogram.lazy()
        .group_by(*keys, "latency_ms")
        .agg(pl.col("n").sum())
        .sort(*keys, "latency_ms")
        .with_columns(
            pl.col("n").cum_sum().over(keys).alias("_through"),
            pl.col("n").sum().over(keys).alias("_total"),
        )
        .with_columns(
            _round_half_away((pl.col("_total") - 1).cast(pl.Float64) * _P95).alias("_rank")
        )
    )
    return (
        ranked.filter(pl.col("_through").cast(pl.Float64) > pl.col("_rank"))
        .group_by(*keys)
        .agg(pl.col("latency_ms").min().cast(pl.Int64).alias("latency_p95_ms"))
        .collect()
    )


def merge_slices(parts: Sequence[SliceAggregates]) -> DailyAggregates:
    """A day's aggregates from its slices', equal to ``aggregate_day`` on the whole day:
    same rows, same order, same refusals."""
    rows = sum(p.rows for p in parts)
    largest = max((p.largest for p in parts), default=0)
    wide = rows * largest > _INT64[1]

    def stacked(name: str) -> pl.LazyFrame:
        return pl.concat([getattr(p, name) for p in parts], how="vertical").lazy()

    def summed(columns: Sequence[str]) -> list[pl.Expr]:
        return [pl.col(c).sum() for c in columns]

    usage = (
        stacked("usage")
        .group_by(*_USAGE_KEYS)
        .agg(summed(("calls", "items", "bytes", *_USAGE_COUNTS)))
        .collect()
    )
    p95 = nearest_rank_p95(pl.concat([p.latencies for p in parts]), _USAGE_KEYS)
    usage = usage.join(p95, on=list(_USAGE_KEYS), how="left").sort(*_USAGE_KEYS)
    peaks = (
        stacked("minutes")
        .group_by("partner_id", "_minute")
        .agg(pl.col("n").sum())
        .group_by("partner_id")
        .agg(pl.col("n").max().alias("peak_calls_per_minute"))
    )
    ips = stacked("client_ips").unique().group_by("partner_id").len()
    spread = (
        usage.lazy()
        .group_by("partner_id")
        .agg(
            pl.col("app_id").n_unique().cast(pl.Int64).alias("apps"),
            pl.col("endpoint").n_unique().cast(pl.Int64).alias("endpoints"),
        )
    )
    partner = (
        stacked("partner")
        .group_by("partner_id")
        .agg(summed(("calls", "items", "bytes", "errors", "restricted_calls")))
        .join(spread, on="partner_id", how="left")
        .join(ips, on="partner_id", how="left")
        .with_columns(pl.col("len").fill_null(0).cast(pl.Int64).alias("distinct_client_ips"))
        .join(peaks, on="partner_id", how="left")
        .sort("partner_id")
    )
    network_ips = stacked("network_ips").unique().group_by(*_NETWORK_KEYS).len()
    network = (
        stacked("network")
        .group_by(*_NETWORK_KEYS)
        .agg(summed(("calls", "items")))
        .join(network_ips, on=list(_NETWORK_KEYS), how="left")
        .with_columns(pl.col("len").cast(pl.Int64).alias("distinct_client_ips"))
        .sort(*_NETWORK_KEYS)
    )
    partner_df, network_df = pl.collect_all([partner, network])
    return _checked(usage, partner_df, network_df, wide=wide)
