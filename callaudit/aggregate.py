"""Daily aggregates from a day's valid calls: usage_daily, partner_daily, network_daily.

All three come from one frame in one ``collect_all`` so Polars shares the scan. Counts
are cast to Int64 before summing: Int32 sums wrap silently past 2^31 and a large
partner's daily bytes do.
"""

from collections.abc import Sequence
from dataclasses import dataclass

import polars as pl

from callaudit.contracts import RestrictedNetwork
from callaudit.networks import LABEL, label_addresses
from callaudit.schema import NETWORK_DAILY, PARTNER_DAILY, USAGE_DAILY

_MICROS_PER_MINUTE = 60_000_000


@dataclass
class DailyAggregates:
    usage_daily: pl.DataFrame
    partner_daily: pl.DataFrame
    network_daily: pl.DataFrame


def _sum(name: str) -> pl.Expr:
    return pl.col(name).cast(pl.Int64).sum()


def _count(condition: pl.Expr) -> pl.Expr:
    return condition.cast(pl.Int64).sum()


def aggregate_day(valid: pl.DataFrame, networks: Sequence[RestrictedNetwork]) -> DailyAggregates:
    """Aggregate one day's valid, de-duplicated calls.

    ``restricted_calls`` counts calls from any restricted network; whether an agreement
    allows that network is the flags' business, not the aggregate's.
    """
    ip_type = valid.schema["client_ip"]
    labels = None
    if networks:
        labels = label_addresses(valid["client_ip"].unique(), networks).with_columns(
            pl.col("client_ip").cast(ip_type)
        )
    restricted_ips = labels["client_ip"] if labels is not None else pl.Series([], dtype=ip_type)
    status = pl.col("status")
    calls = valid.lazy().with_columns(
        pl.col("client_ip").is_in(restricted_ips.implode()).alias("_restricted"),
    )

    usage = (
        calls.group_by("partner_id", "app_id", "endpoint")
        .agg(
            pl.len().cast(pl.Int64).alias("calls"),
            _sum("items").alias("items"),
            _sum("bytes").alias("bytes"),
            _count(status.is_between(400, 499)).alias("errors_4xx"),
            _count(status.is_between(500, 599)).alias("errors_5xx"),
            _count(status == 429).alias("throttled"),
            _count(pl.col("_restricted")).alias("restricted_calls"),
            pl.col("latency_ms")
            .quantile(0.95, interpolation="nearest")
            .cast(pl.Int64)
            .alias("latency_p95_ms"),
        )
        .sort("partner_id", "app_id", "endpoint")
    )
    per_minute_peak = (
        calls.group_by(
            "partner_id", (pl.col("ts").dt.epoch("us") // _MICROS_PER_MINUTE).alias("_minute")
        )
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
    usage_df, partner_df, network_df = pl.collect_all([usage, partner, network])
    return DailyAggregates(
        usage_daily=USAGE_DAILY.conform(usage_df),
        partner_daily=PARTNER_DAILY.conform(partner_df),
        network_daily=NETWORK_DAILY.conform(network_df),
    )
