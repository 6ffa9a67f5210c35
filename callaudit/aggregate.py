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


def sums_fit_int64(valid: pl.DataFrame) -> bool:
    """True when no group of rows can sum past int64 in a summed column: rows x the
    largest magnitude fits. One min/max pass, the product exact in Python integers."""
    bounds = valid.select(
        *(pl.col(c).max().alias(f"max_{c}") for c in SUMMED),
        *(pl.col(c).min().alias(f"min_{c}") for c in SUMMED),
    ).row(0)
    largest = max((abs(int(b)) for b in bounds if b is not None), default=0)
    return valid.height * largest <= _INT64[1]


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
    if wide:
        # A partner's total can wrap when none of its app/endpoint groups does.
        _refuse_wrapped(USAGE_DAILY.name, usage_df, USAGE_DAILY.grain, SUMMED)
        _refuse_wrapped(PARTNER_DAILY.name, partner_df, PARTNER_DAILY.grain, SUMMED, usage_df)
        _refuse_wrapped(NETWORK_DAILY.name, network_df, NETWORK_DAILY.grain, ("items",))
    return DailyAggregates(
        usage_daily=USAGE_DAILY.conform(usage_df),
        partner_daily=PARTNER_DAILY.conform(partner_df),
        network_daily=NETWORK_DAILY.conform(network_df),
    )
