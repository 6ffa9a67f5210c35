"""Exact reconciliations between tables, in Polars, one finding per day.

These are the sums a legal letter relies on: every row read is accounted for, every
valid row is a call in usage_daily, and partner_daily is usage_daily rolled up. They are
exact (integer equality, no tolerance) and always critical.
"""

import datetime as dt
from collections.abc import Iterable, Sequence

import polars as pl

from callaudit.schema import DATE_COLUMN, QUARANTINE_REASONS
from callaudit.validation.outcome import CRITICAL, SAMPLE_SIZE, Finding

#: partner_daily columns that are plain sums of usage_daily columns.
_SUMMED = ("calls", "items", "bytes", "restricted_calls")


def findings_per_day(
    offending: pl.DataFrame,
    days: Sequence[dt.date],
    *,
    check: str,
    table: str,
    expectation: str,
    column: str = "",
    severity: str = CRITICAL,
) -> list[Finding]:
    """A finding per day: failed when ``offending`` (rows with a ``date``) has rows that day."""
    findings = []
    # Sorted, so the sample (and a message quoting it) is the same on every run.
    ordered = offending.sort(offending.columns, nulls_last=True) if offending.height else offending
    by_day = ordered.partition_by(DATE_COLUMN, as_dict=True) if ordered.height else {}
    for day in days:
        rows = by_day.get((day,))
        count = rows.height if rows is not None else 0
        sample = (
            tuple(
                _describe(r) for r in rows.drop(DATE_COLUMN).head(SAMPLE_SIZE).iter_rows(named=True)
            )
            if rows is not None
            else ()
        )
        findings.append(
            Finding(day, check, table, expectation, column, severity, count == 0, count, sample)
        )
    return findings


def _describe(row: dict) -> str:
    return ", ".join(f"{k}={'null' if v is None else v}" for k, v in row.items())


def _days_frame(days: Iterable[dt.date]) -> pl.DataFrame:
    return pl.DataFrame({DATE_COLUMN: sorted(set(days))}, schema={DATE_COLUMN: pl.Date()})


def partitions_have_rows(
    frame: pl.DataFrame,
    days: Sequence[dt.date],
    present: Iterable[dt.date],
    *,
    check: str,
    table: str,
    min_rows: int = 1,
) -> list[Finding]:
    """Each day has a written partition with at least ``min_rows`` rows.

    A missing or empty day would otherwise pass every row-level expectation unseen.
    """
    present = set(present)
    counts = frame.group_by(DATE_COLUMN).agg(pl.len().cast(pl.Int64).alias("rows"))
    per_day = (
        _days_frame(days)
        .join(counts, on=DATE_COLUMN, how="left")
        .with_columns(
            pl.col("rows").fill_null(0),
            pl.col(DATE_COLUMN).is_in(sorted(present)).alias("partition_written"),
        )
    )
    offending = per_day.filter(~pl.col("partition_written") | (pl.col("rows") < min_rows))
    return findings_per_day(
        offending,
        days,
        check=check,
        table=table,
        expectation=f"partition_has_at_least_{min_rows}_rows",
    )


def ingest_adds_up(ingest: pl.DataFrame, days: Sequence[dt.date], *, check: str) -> list[Finding]:
    """rows_read = rows_valid + duplicates + quarantined, and quarantined = the sum of reasons."""
    accounted = pl.col("rows_valid") + pl.col("duplicates") + pl.col("quarantined")
    by_reason = pl.sum_horizontal(pl.col(f"quarantined_{r}") for r in QUARANTINE_REASONS)
    rows_read = ingest.filter(pl.col("rows_read") != accounted).select(
        DATE_COLUMN, "rows_read", accounted.alias("valid_plus_duplicates_plus_quarantined")
    )
    reasons = ingest.filter(pl.col("quarantined") != by_reason).select(
        DATE_COLUMN, "quarantined", by_reason.alias("sum_of_reasons")
    )
    common = {"check": check, "table": "ingest_daily"}
    return [
        *findings_per_day(
            rows_read,
            days,
            **common,
            expectation="rows_read_equals_valid_plus_duplicates_plus_quarantined",
            column="rows_read",
        ),
        *findings_per_day(
            reasons,
            days,
            **common,
            expectation="quarantined_equals_sum_of_reasons",
            column="quarantined",
        ),
    ]


def quarantine_matches_ingest(
    quarantine: pl.DataFrame, ingest: pl.DataFrame, days: Sequence[dt.date], *, check: str
) -> list[Finding]:
    """Every rejected row is in quarantine: per day and reason, its rows equal
    ingest_daily's ``quarantined_<reason>`` (a row lost or written twice shows here)."""
    counted = (
        quarantine.group_by(DATE_COLUMN, "reason")
        .agg(pl.len().cast(pl.Int64).alias("quarantine_rows"))
        .pivot(on="reason", index=DATE_COLUMN, values="quarantine_rows")
        if quarantine.height
        else pl.DataFrame(schema={DATE_COLUMN: pl.Date()})
    )
    in_quarantine = [
        (pl.col(r) if r in counted.columns else pl.lit(0, pl.Int64)).fill_null(0).alias(r)
        for r in QUARANTINE_REASONS
    ]
    compared = (
        _days_frame(days)
        .join(
            ingest.select(DATE_COLUMN, *(f"quarantined_{r}" for r in QUARANTINE_REASONS)),
            on=DATE_COLUMN,
            how="inner",
        )
        .join(counted.select(DATE_COLUMN, *in_quarantine), on=DATE_COLUMN, how="left")
        .with_columns(pl.col(r).fill_null(0) for r in QUARANTINE_REASONS)
    )
    offending = pl.concat(
        [
            compared.select(
                DATE_COLUMN,
                pl.lit(r).alias("reason"),
                pl.col(f"quarantined_{r}").alias("ingest_daily_quarantined"),
                pl.col(r).alias("quarantine_rows"),
            )
            for r in QUARANTINE_REASONS
        ]
    ).filter(pl.col("ingest_daily_quarantined") != pl.col("quarantine_rows"))
    return findings_per_day(
        offending,
        days,
        check=check,
        table="quarantine",
        expectation="rows_per_reason_equal_ingest_daily_quarantined",
        column="reason",
    )


def usage_matches_ingest(
    usage: pl.DataFrame, ingest: pl.DataFrame, days: Sequence[dt.date], *, check: str
) -> list[Finding]:
    """Every valid row of the day is one call in usage_daily: rows_valid = sum(calls)."""
    calls = usage.group_by(DATE_COLUMN).agg(
        pl.col("calls").cast(pl.Int64).sum().alias("usage_calls")
    )
    compared = (
        _days_frame(days)
        .join(ingest.select(DATE_COLUMN, "rows_valid"), on=DATE_COLUMN, how="left")
        .join(calls, on=DATE_COLUMN, how="left")
        .with_columns(pl.col("usage_calls").fill_null(0))
    )
    offending = compared.filter(
        pl.col("rows_valid").is_null() | (pl.col("rows_valid") != pl.col("usage_calls"))
    )
    return findings_per_day(
        offending,
        days,
        check=check,
        table="usage_daily",
        expectation="usage_calls_equal_ingest_rows_valid",
        column="calls",
    )


def usage_rollup(usage: pl.DataFrame) -> pl.DataFrame:
    """partner_daily's additive columns recomputed from usage_daily."""
    return usage.group_by(DATE_COLUMN, "partner_id").agg(
        *(pl.col(c).cast(pl.Int64).sum() for c in _SUMMED),
        (pl.col("errors_4xx").cast(pl.Int64) + pl.col("errors_5xx").cast(pl.Int64))
        .sum()
        .alias("errors"),
        pl.col("app_id").n_unique().cast(pl.Int64).alias("apps"),
        pl.col("endpoint").n_unique().cast(pl.Int64).alias("endpoints"),
    )


def partner_matches_usage(
    partner: pl.DataFrame, usage: pl.DataFrame, days: Sequence[dt.date], *, check: str
) -> list[Finding]:
    """partner_daily = usage_daily rolled up to partners, exactly, partner by partner."""
    compared_columns = [*_SUMMED, "errors", "apps", "endpoints"]
    joined = partner.select(DATE_COLUMN, "partner_id", *compared_columns).join(
        usage_rollup(usage),
        on=[DATE_COLUMN, "partner_id"],
        how="full",
        coalesce=True,
        suffix="_from_usage",
    )
    differs = [
        pl.col(c).is_null()
        | pl.col(f"{c}_from_usage").is_null()
        | (pl.col(c) != pl.col(f"{c}_from_usage"))
        for c in compared_columns
    ]
    mismatched = joined.filter(pl.any_horizontal(differs))
    offending = mismatched.select(
        DATE_COLUMN,
        "partner_id",
        pl.concat_str(
            [
                pl.when(d).then(
                    pl.format("{} {} vs {}", pl.lit(c), pl.col(c), pl.col(f"{c}_from_usage"))
                )
                for c, d in zip(compared_columns, differs, strict=True)
            ],
            separator="; ",
            ignore_nulls=True,
        ).alias("partner_daily_vs_usage"),
    )
    return findings_per_day(
        offending,
        days,
        check=check,
        table="partner_daily",
        expectation="partner_daily_equals_usage_daily_rolled_up",
        column=", ".join(compared_columns),
    )


def unknown_partners_flagged(
    usage: pl.DataFrame,
    flags: pl.DataFrame,
    known_partners: Iterable[str],
    days: Sequence[dt.date],
    *,
    check: str,
) -> list[Finding]:
    """A partner absent from contracts.yaml may call only with an explicit no_agreement flag."""
    unknown = (
        usage.filter(~pl.col("partner_id").is_in(sorted(set(known_partners))))
        .group_by(DATE_COLUMN, "partner_id")
        .agg(pl.col("calls").cast(pl.Int64).sum())
    )
    flagged = (
        flags.filter(pl.col("flag") == "no_agreement").select(DATE_COLUMN, "partner_id").unique()
    )
    offending = unknown.join(flagged, on=[DATE_COLUMN, "partner_id"], how="anti").sort(
        DATE_COLUMN, "calls", descending=[False, True]
    )
    return findings_per_day(
        offending,
        days,
        check=check,
        table="anomaly_flags",
        expectation="unknown_partners_have_no_agreement_flag",
        column="partner_id",
    )
