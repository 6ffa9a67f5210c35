"""Exact rule flags: what a day's usage breaks in the agreement in force that day.

Everything is computed for a range of days at once with Polars joins and window
expressions. Python only runs over the few distinct (agreement, app) and (agreement,
endpoint) pairs, so glob semantics stay those of ``Agreement.allows_endpoint``.

Month-to-date items need the earlier days of the month: callers pass those days in
``partner_daily`` and restrict the output with ``start``/``end``.
"""

import datetime as dt
from collections.abc import Callable

import polars as pl

from callaudit.contracts import Agreement, Contracts
from callaudit.flags.text import iso_day, thousands
from callaudit.schema import ANOMALY_FLAGS, DATE_COLUMN
from callaudit.units import DEFAULT_ITEM_UNIT, item_unit

#: Output columns of every flag frame: the date, then anomaly_flags' columns.
FLAG_COLUMNS: dict[str, pl.DataType] = {DATE_COLUMN: pl.Date(), **ANOMALY_FLAGS.schema}

#: How many offending apps, endpoints or networks a detail names before "and N more".
LISTED = 5

_KEYS = [DATE_COLUMN, "partner_id"]


def agreements_frame(contracts: Contracts) -> pl.DataFrame:
    """One row per agreement: its partner, validity and limits (null = not checked)."""
    rows = [
        {
            "partner_id": partner.id,
            "agreement_id": agreement.id,
            "start": agreement.start,
            "end": agreement.end,
            "calls_per_day": agreement.limits.calls_per_day,
            "items_per_month": agreement.limits.items_per_month,
            "calls_per_minute": agreement.limits.calls_per_minute,
        }
        for partner in contracts.partners
        for agreement in partner.agreements
    ]
    schema = {
        "partner_id": pl.String(),
        "agreement_id": pl.String(),
        "start": pl.Date(),
        "end": pl.Date(),
        "calls_per_day": pl.Int64(),
        "items_per_month": pl.Int64(),
        "calls_per_minute": pl.Int64(),
    }
    return pl.DataFrame(rows, schema=schema)


def with_agreement(frame: pl.DataFrame, contracts: Contracts) -> pl.DataFrame:
    """Add the agreement in force on each row's day (null when none) and its limits.

    Agreements of a partner never overlap (contracts validation), so a row matches at
    most one.
    """
    agreements = agreements_frame(contracts)
    in_force = (
        frame.select(_KEYS)
        .unique()
        .join(agreements, on="partner_id", how="inner")
        .filter(
            (pl.col("start") <= pl.col(DATE_COLUMN))
            & (pl.col("end").is_null() | (pl.col(DATE_COLUMN) <= pl.col("end")))
        )
        .drop("start", "end")
    )
    return frame.join(in_force, on=_KEYS, how="left")


def _with_names(frame: pl.DataFrame, contracts: Contracts) -> pl.DataFrame:
    names = pl.DataFrame(
        {
            "partner_id": [p.id for p in contracts.partners],
            "partner_name": [p.display_name for p in contracts.partners],
        },
        schema={"partner_id": pl.String(), "partner_name": pl.String()},
    )
    return frame.join(names, on="partner_id", how="left").with_columns(
        pl.col("partner_name").fill_null(pl.col("partner_id"))
    )


def _limit_severity(observed: pl.Expr, threshold: pl.Expr) -> pl.Expr:
    return pl.when(observed > 2 * threshold).then(pl.lit("critical")).otherwise(pl.lit("warning"))


def _finish(frame: pl.DataFrame, flag: str, metric: str) -> pl.DataFrame:
    """Give a rule's rows the common flag columns (score = observed / threshold)."""
    return frame.with_columns(
        pl.lit(flag).alias("flag"),
        pl.lit(metric).alias("metric"),
        pl.col("observed").cast(pl.Float64),
        pl.col("threshold").cast(pl.Float64),
        pl.lit(None, dtype=pl.Float64).alias("expected"),
        pl.when(pl.col("threshold") > 0)
        .then(pl.col("observed") / pl.col("threshold"))
        .otherwise(None)
        .cast(pl.Float64)
        .alias("score"),
    ).select(list(FLAG_COLUMNS))


def _in_agreement_words() -> pl.Expr:
    return pl.lit(" (") + pl.col("agreement_id") + pl.lit(")")


# --- no agreement ----------------------------------------------------------------------


def no_agreement_flags(daily: pl.DataFrame, contracts: Contracts) -> pl.DataFrame:
    """Calls on a day with no agreement in force: unknown partner, before the first
    agreement starts, after one ends (and before the next starts)."""
    orphan = daily.filter(pl.col("agreement_id").is_null() & (pl.col("calls") > 0)).sort(
        DATE_COLUMN
    )
    agreements = agreements_frame(contracts)
    ended = (
        agreements.filter(pl.col("end").is_not_null())
        .select("partner_id", pl.col("agreement_id").alias("ended_id"), pl.col("end"))
        .sort("end")
    )
    upcoming = agreements.select(
        "partner_id", pl.col("agreement_id").alias("next_id"), pl.col("start")
    ).sort("start")
    known = pl.col("partner_id").is_in(pl.Series([p.id for p in contracts.partners], dtype=str))
    orphan = orphan.join_asof(
        ended,
        left_on=DATE_COLUMN,
        right_on="end",
        by="partner_id",
        strategy="backward",
        check_sortedness=False,
    ).join_asof(
        upcoming,
        left_on=DATE_COLUMN,
        right_on="start",
        by="partner_id",
        strategy="forward",
        check_sortedness=False,
    )
    reason = (
        pl.when(~known)
        .then(pl.lit("not a partner in the contracts"))
        .when(pl.col("ended_id").is_not_null() & pl.col("next_id").is_not_null())
        .then(
            pl.lit("after ")
            + pl.col("ended_id")
            + pl.lit(" ended on ")
            + iso_day(pl.col("end"))
            + pl.lit(", before ")
            + pl.col("next_id")
            + pl.lit(" starts on ")
            + iso_day(pl.col("start"))
        )
        .when(pl.col("ended_id").is_not_null())
        .then(pl.lit("after ") + pl.col("ended_id") + pl.lit(" ended on ") + iso_day(pl.col("end")))
        .when(pl.col("next_id").is_not_null())
        .then(
            pl.lit("before ") + pl.col("next_id") + pl.lit(" starts on ") + iso_day(pl.col("start"))
        )
        .otherwise(pl.lit("no agreement on file"))
    )
    rows = orphan.with_columns(
        pl.col("calls").alias("observed"),
        pl.lit(0).alias("threshold"),
        pl.lit("critical").alias("severity"),
        (
            pl.col("partner_name")
            + pl.lit(" made ")
            + thousands(pl.col("calls"))
            + pl.lit(" calls on ")
            + iso_day(pl.col(DATE_COLUMN))
            + pl.lit(" with no agreement in force (")
            + reason
            + pl.lit(")")
        ).alias("detail"),
    )
    return _finish(rows, "no_agreement", "calls")


# --- limits ----------------------------------------------------------------------------


def daily_call_limit_flags(daily: pl.DataFrame) -> pl.DataFrame:
    """More calls in a day than the agreement's calls_per_day (at the limit is fine)."""
    rows = daily.filter(pl.col("calls") > pl.col("calls_per_day")).with_columns(
        pl.col("calls").alias("observed"),
        pl.col("calls_per_day").alias("threshold"),
        _limit_severity(pl.col("calls"), pl.col("calls_per_day")).alias("severity"),
        (
            pl.col("partner_name")
            + pl.lit(" made ")
            + thousands(pl.col("calls"))
            + pl.lit(" calls on ")
            + iso_day(pl.col(DATE_COLUMN))
            + pl.lit(", over the agreed ")
            + thousands(pl.col("calls_per_day"))
            + pl.lit(" a day")
            + _in_agreement_words()
        ).alias("detail"),
    )
    return _finish(rows, "daily_call_limit", "calls")


def rate_limit_flags(daily: pl.DataFrame) -> pl.DataFrame:
    """A busiest minute above the agreement's calls_per_minute."""
    peak = pl.col("peak_calls_per_minute")
    rows = daily.filter(peak > pl.col("calls_per_minute")).with_columns(
        peak.alias("observed"),
        pl.col("calls_per_minute").alias("threshold"),
        _limit_severity(peak, pl.col("calls_per_minute")).alias("severity"),
        (
            pl.col("partner_name")
            + pl.lit(" peaked at ")
            + thousands(peak)
            + pl.lit(" calls in one minute on ")
            + iso_day(pl.col(DATE_COLUMN))
            + pl.lit(", over the agreed ")
            + thousands(pl.col("calls_per_minute"))
            + pl.lit(" a minute")
            + _in_agreement_words()
        ).alias("detail"),
    )
    return _finish(rows, "rate_limit", "peak_calls_per_minute")


def _month_to_date(daily: pl.DataFrame) -> pl.DataFrame:
    """Rows under an agreement with ``month_to_date``: the items of the calendar month
    so far under the same agreement, that day included."""
    month = pl.col(DATE_COLUMN).dt.month_start()
    return (
        daily.filter(pl.col("agreement_id").is_not_null())
        .sort(DATE_COLUMN)
        .with_columns(
            pl.col("items")
            .cast(pl.Int64)
            .cum_sum()
            .over(["partner_id", "agreement_id", month])
            .alias("month_to_date")
        )
    )


def _retrieved_by(unit: str) -> pl.Expr:
    """ "Microsoft had retrieved 2,800 tweets in March 2022 by 2022-03-07": the start of
    both monthly details."""
    return (
        pl.col("partner_name")
        + pl.lit(" had retrieved ")
        + thousands(pl.col("month_to_date"))
        + pl.lit(f" {unit} in ")
        + pl.col(DATE_COLUMN).dt.strftime("%B %Y")
        + pl.lit(" by ")
        + iso_day(pl.col(DATE_COLUMN))
    )


def monthly_item_limit_flags(daily: pl.DataFrame, unit: str = DEFAULT_ITEM_UNIT) -> pl.DataFrame:
    """Month-to-date items above items_per_month: the day it is crossed and every later
    day of that month with calls.

    Month-to-date counts the days of the calendar month under the same agreement, so a
    new agreement starting mid-month starts from zero and days after an agreement ended
    (no_agreement days) do not count against it.
    """
    rows = (
        _month_to_date(daily)
        .filter((pl.col("month_to_date") > pl.col("items_per_month")) & (pl.col("calls") > 0))
        .with_columns(
            pl.col("month_to_date").alias("observed"),
            pl.col("items_per_month").alias("threshold"),
            _limit_severity(pl.col("month_to_date"), pl.col("items_per_month")).alias("severity"),
            (
                _retrieved_by(unit)
                + pl.lit(", over the agreed ")
                + thousands(pl.col("items_per_month"))
                + pl.lit(" a month")
                + _in_agreement_words()
            ).alias("detail"),
        )
    )
    return _finish(rows, "monthly_item_limit", "items")


#: Days of a month (under one agreement) before its pace is projected: a full week, so
#: a month that starts on a busy weekday is not read as a month-long pace.
PACE_MIN_DAYS = 7


def monthly_item_pace_flags(
    daily: pl.DataFrame, contracts: Contracts, unit: str = DEFAULT_ITEM_UNIT
) -> pl.DataFrame:
    """Month-to-date items still within items_per_month, at a pace that crosses it before
    the month (or the agreement) ends: a warning while there is still time to act.

    The window is the calendar month under one agreement: from the later of the month's
    first day and the agreement's start, to the earlier of the month's last day and the
    agreement's end. On day D, with ``e`` days of the window elapsed (D included) and
    ``m`` items month to date, the pace is ``m / e`` items a day and the projected day is
    the first day ``D + k`` (k >= 1) where ``m + k * m / e > items_per_month``, that is
    ``k = floor(items_per_month * e / m) - e + 1`` (integer arithmetic, exact). The flag
    is raised on every day with calls where ``e >= PACE_MIN_DAYS``, the limit is not yet
    crossed (then ``monthly_item_limit`` takes over) and the projected day falls within
    the window. ``observed`` is month to date, ``threshold`` the limit, ``expected`` the
    items projected at the window's end, ``score`` observed / threshold.
    """
    spans = agreements_frame(contracts).select("agreement_id", "start", "end")
    month_start = pl.col(DATE_COLUMN).dt.month_start()
    month_end = pl.col(DATE_COLUMN).dt.month_end()
    window_start = pl.max_horizontal(month_start, pl.col("start"))
    window_end = pl.min_horizontal(month_end, pl.col("end").fill_null(month_end))
    mtd = pl.col("month_to_date").cast(pl.Int128)
    limit = pl.col("items_per_month").cast(pl.Int128)
    running = (
        _month_to_date(daily.filter(pl.col("items_per_month").is_not_null()))
        .join(spans, on="agreement_id", how="left")
        .with_columns(
            ((pl.col(DATE_COLUMN) - window_start).dt.total_days() + 1).alias("elapsed"),
            (window_end - pl.col(DATE_COLUMN)).dt.total_days().alias("remaining"),
        )
    )
    elapsed = pl.col("elapsed").cast(pl.Int128)
    ahead = running.filter(
        (pl.col("calls") > 0)
        & (pl.col("month_to_date") > 0)
        & (pl.col("month_to_date") <= pl.col("items_per_month"))
        & (pl.col("elapsed") >= PACE_MIN_DAYS)
        & (pl.col("remaining") >= 1)
    ).with_columns((limit * elapsed // mtd - elapsed + 1).alias("days_to_cross"))
    rows = ahead.filter(pl.col("days_to_cross") <= pl.col("remaining")).with_columns(
        pl.col("month_to_date").alias("observed"),
        pl.col("items_per_month").alias("threshold"),
        pl.lit("warning").alias("severity"),
        (pl.col(DATE_COLUMN) + pl.duration(days=pl.col("days_to_cross").cast(pl.Int64))).alias(
            "projected_day"
        ),
        (
            pl.col("month_to_date").cast(pl.Float64)
            * (pl.col("elapsed") + pl.col("remaining")).cast(pl.Float64)
            / pl.col("elapsed").cast(pl.Float64)
        ).alias("projected_total"),
    )
    rows = rows.with_columns(
        (
            _retrieved_by(unit)
            + pl.lit(" (")
            + pl.col("elapsed").cast(pl.String)
            + pl.lit(" days); at that pace it crosses the agreed ")
            + thousands(pl.col("items_per_month"))
            + pl.lit(" a month on ")
            + iso_day(pl.col("projected_day"))
            + _in_agreement_words()
        ).alias("detail"),
    )
    flags = _finish(rows, "monthly_item_pace", "items")
    return flags.with_columns(rows["projected_total"].alias("expected"))


# --- apps, endpoints, networks -----------------------------------------------------------


def _listing(frame: pl.DataFrame, key: str) -> pl.DataFrame:
    """Per day and partner: total calls of the offending ``key`` values and a text list
    of the largest ones, e.g. "rogue-app (12,345 calls), other (3 calls) and 2 more"."""
    item = pl.col(key) + pl.lit(" (") + thousands(pl.col("calls")) + pl.lit(" calls)")
    grouped = (
        frame.with_columns(item.alias("item"))
        .group_by([*_KEYS, "agreement_id", "partner_name"])
        .agg(
            pl.col("calls").sum().alias("observed"),
            pl.col("item")
            .sort_by(["calls", key], descending=[True, False])
            .head(LISTED)
            .str.join(", ")
            .alias("listing"),
            pl.len().alias("offenders"),
        )
    )
    return grouped.with_columns(
        pl.when(pl.col("offenders") > LISTED)
        .then(
            pl.col("listing")
            + pl.lit(" and ")
            + (pl.col("offenders") - LISTED).cast(pl.String)
            + pl.lit(" more")
        )
        .otherwise(pl.col("listing"))
        .alias("listing")
    )


def _offending_pairs(
    usage: pl.DataFrame,
    key: str,
    contracts: Contracts,
    allowed: Callable[[Agreement, str], bool],
) -> pl.DataFrame:
    """Usage summed per day, partner and ``key``, keeping what the agreement in force
    does not allow. Days without an agreement are left to no_agreement."""
    summed = (
        usage.group_by([*_KEYS, key])
        .agg(pl.col("calls").cast(pl.Int64).sum())
        .filter(pl.col("calls") > 0)
    )
    summed = with_agreement(summed, contracts).filter(pl.col("agreement_id").is_not_null())
    by_id = {a.id: a for p in contracts.partners for a in p.agreements}
    pairs = summed.select("agreement_id", key).unique()
    verdict = pairs.with_columns(
        pl.Series(
            "allowed",
            [allowed(by_id[agreement_id], value) for agreement_id, value in pairs.iter_rows()],
            dtype=pl.Boolean,
        )
    )
    return summed.join(verdict, on=["agreement_id", key]).filter(~pl.col("allowed"))


def _unauthorized_flags(
    usage_daily: pl.DataFrame,
    contracts: Contracts,
    *,
    key: str,
    allows,
    flag: str,
    severity: str,
    wording: str,
) -> pl.DataFrame:
    """Calls whose ``key`` (app or endpoint) the agreement in force does not allow."""
    offending = _with_names(_offending_pairs(usage_daily, key, contracts, allows), contracts)
    rows = _listing(offending, key).with_columns(
        pl.lit(0).alias("threshold"),
        pl.lit(severity).alias("severity"),
        (
            pl.col("partner_name")
            + pl.lit(f" {wording} ")
            + pl.col("agreement_id")
            + pl.lit(" on ")
            + iso_day(pl.col(DATE_COLUMN))
            + pl.lit(": ")
            + pl.col("listing")
        ).alias("detail"),
    )
    return _finish(rows, flag, "calls")


def unauthorized_app_flags(usage_daily: pl.DataFrame, contracts: Contracts) -> pl.DataFrame:
    """Calls from apps the agreement in force does not list."""
    return _unauthorized_flags(
        usage_daily,
        contracts,
        key="app_id",
        allows=Agreement.allows_app,
        flag="unauthorized_app",
        severity="critical",
        wording="called from apps not authorised by",
    )


def unauthorized_endpoint_flags(usage_daily: pl.DataFrame, contracts: Contracts) -> pl.DataFrame:
    """Calls to endpoints matching none of the agreement's globs."""
    return _unauthorized_flags(
        usage_daily,
        contracts,
        key="endpoint",
        allows=Agreement.allows_endpoint,
        flag="unauthorized_endpoint",
        severity="warning",
        wording="called endpoints outside",
    )


def restricted_network_flags(network_daily: pl.DataFrame, contracts: Contracts) -> pl.DataFrame:
    """Calls from restricted networks the agreement in force does not allow.

    With no agreement in force nothing is allowed: data reaching a restricted network is
    flagged whether or not the partner also lacks an agreement that day.
    """
    summed = (
        network_daily.group_by([*_KEYS, "network_label"])
        .agg(pl.col("calls").cast(pl.Int64).sum())
        .filter(pl.col("calls") > 0)
    )
    allowed = pl.DataFrame(
        [
            {"agreement_id": a.id, "network_label": label}
            for p in contracts.partners
            for a in p.agreements
            for label in a.allow_networks
        ],
        schema={"agreement_id": pl.String(), "network_label": pl.String()},
    )
    offending = with_agreement(summed, contracts).join(
        allowed, on=["agreement_id", "network_label"], how="anti"
    )
    offending = _with_names(offending, contracts)
    rows = _listing(offending, "network_label").with_columns(
        pl.lit(0).alias("threshold"),
        pl.lit("critical").alias("severity"),
        (
            pl.col("partner_name")
            + pl.lit("'s calls on ")
            + iso_day(pl.col(DATE_COLUMN))
            + pl.lit(" came from restricted networks: ")
            + pl.col("listing")
            + pl.when(pl.col("agreement_id").is_null())
            .then(pl.lit(" (no agreement in force)"))
            .otherwise(pl.lit(", not allowed by ") + pl.col("agreement_id"))
        ).alias("detail"),
    )
    return _finish(rows, "restricted_network", "calls")


# --- all rules ---------------------------------------------------------------------------


def rule_flags(
    partner_daily: pl.DataFrame,
    usage_daily: pl.DataFrame,
    network_daily: pl.DataFrame,
    contracts: Contracts,
    *,
    start: dt.date | None = None,
    end: dt.date | None = None,
) -> pl.DataFrame:
    """Every rule flag for the days in [start, end] (all days when omitted).

    All three frames carry a ``date`` column. ``partner_daily`` must also hold the
    earlier days of ``start``'s month, or month-to-date items are undercounted.
    """
    daily = _with_names(with_agreement(partner_daily, contracts), contracts)
    frames = [
        no_agreement_flags(daily, contracts),
        daily_call_limit_flags(daily),
        rate_limit_flags(daily),
        monthly_item_limit_flags(daily, item_unit(contracts)),
        monthly_item_pace_flags(daily, contracts, item_unit(contracts)),
        unauthorized_app_flags(_days(usage_daily, start, end), contracts),
        unauthorized_endpoint_flags(_days(usage_daily, start, end), contracts),
        restricted_network_flags(_days(network_daily, start, end), contracts),
    ]
    flags = pl.concat(frames, how="vertical")
    return _days(flags, start, end).sort([DATE_COLUMN, "partner_id", "flag", "metric"])


def _days(frame: pl.DataFrame, start: dt.date | None, end: dt.date | None) -> pl.DataFrame:
    if start is not None:
        frame = frame.filter(pl.col(DATE_COLUMN) >= start)
    if end is not None:
        frame = frame.filter(pl.col(DATE_COLUMN) <= end)
    return frame
