"""Everything a report says, gathered from the warehouse, the agreements and the reviews.

A report covers a period: a calendar year (the yearly asset, ``<reports>/<year>/``) or
any range of days (``callaudit report --start/--end``, ``<reports>/<start>_<end>/``).
The result is plain data (dataclasses, small Polars frames) that the renderers only
format: every figure is computed once, here, so the HTML, the markdown, summary.json
and the CSV files cannot disagree.
"""

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import polars as pl

from callaudit import warehouse
from callaudit.contracts import Contracts
from callaudit.dates import days_between
from callaudit.report.fees import Fees, partner_fees
from callaudit.report.findings import Finding, partner_findings
from callaudit.reviews import CONFIRMED, DISMISSED, REVIEW_COLUMNS, Reviews, reviews_frame
from callaudit.schema import DATE_COLUMN, INGEST_DAILY, QUARANTINE_REASONS, SEVERITIES
from callaudit.units import item_unit, singular

#: A partner's flags as the report lists them (and flags.csv, with the partner's id and
#: name after the day): what was found, against what, and the analyst's review.
PARTNER_FLAG_COLUMNS = [
    DATE_COLUMN,
    "flag",
    "severity",
    "metric",
    "observed",
    "threshold",
    "expected",
    "score",
    "agreement_id",
    "detail",
    *list(REVIEW_COLUMNS)[3:],  # review, review_note, reviewer, reviewed_at
]

if TYPE_CHECKING:
    from callaudit.provenance import Provenance
    from callaudit.validation.results import RangeValidation


class NoDataError(ValueError):
    """The warehouse holds no day of the requested period: there is nothing to report."""


@dataclass(frozen=True)
class Period:
    """What a report was asked to cover: a calendar year, or any range of days."""

    start: dt.date
    end: dt.date
    year: int | None = None  # set for a calendar-year report

    @classmethod
    def of_year(cls, year: int) -> "Period":
        return cls(dt.date(year, 1, 1), dt.date(year, 12, 31), year)

    @classmethod
    def between(cls, start: dt.date, end: dt.date) -> "Period":
        if end < start:
            raise ValueError(f"end {end} is before start {start}")
        return cls(start, end)

    @property
    def folder(self) -> str:
        """The report's folder under ``<reports>/``: ``2022`` or ``2022-04-01_2022-06-30``."""
        if self.year is not None:
            return str(self.year)
        return f"{self.start.isoformat()}_{self.end.isoformat()}"

    @property
    def title(self) -> str:
        if self.year is not None:
            return str(self.year)
        return f"{self.start.isoformat()} to {self.end.isoformat()}"

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1


@dataclass
class FlagKind:
    """The standing (not dismissed) flags of one kind raised for a partner."""

    flag: str
    severity: str  # the worst one raised
    days: list[dt.date]
    flags: int
    example: str  # the detail line of the highest-scored flag
    confirmed_days: int = 0  # days whose flag of this kind an analyst confirmed


@dataclass
class PartnerReport:
    partner_id: str
    name: str
    contracted: bool
    agreements: list[str]  # ids of agreements in force during the covered days
    calls: int
    items: int
    bytes: int
    errors: int
    active_days: int
    by_app: pl.DataFrame  # app_id, calls, items, bytes, days, unauthorised_calls
    by_endpoint: pl.DataFrame  # endpoint, calls, items, bytes, days, unauthorised_calls
    #: Calls on days an agreement was in force that it did not authorise (the evidence
    #: of unauthorized_app / unauthorized_endpoint): name, calls, items, days, first, last.
    unauthorised_apps: pl.DataFrame
    unauthorised_endpoints: pl.DataFrame
    daily: pl.DataFrame  # every covered day: date, calls, items, flagged (zeros included)
    monthly: pl.DataFrame  # every covered month: month (YYYY-MM), calls, items, bytes, active_days
    flag_kinds: list[FlagKind]  # standing flags by kind, worst first
    #: Every flag with its review, unreviewed critical first: date, flag, severity,
    #: metric, observed, threshold, expected, score, agreement_id, detail, review,
    #: review_note, reviewer, reviewed_at.
    flags: pl.DataFrame
    networks: pl.DataFrame  # network_label, app_id, allowed, first, last, days, calls, items
    network_days: pl.DataFrame  # date, network_label, allowed, calls, items
    fees: Fees
    findings: list[Finding] = field(default_factory=list)

    @property
    def standing(self) -> pl.DataFrame:
        """Flags that stand: not dismissed on review."""
        return self._of_flags("standing", pl.col("review").fill_null("") != DISMISSED)

    @property
    def dismissed(self) -> pl.DataFrame:
        return self._of_flags("dismissed", pl.col("review") == DISMISSED)

    def _of_flags(self, name: str, keep: pl.Expr) -> pl.DataFrame:
        """``flags`` filtered by ``keep``, once for these flags: the report's pages and
        files ask a partner for its standing flags some 130 times."""
        cache = self.__dict__.setdefault("_flags_filtered", {})
        kept = cache.get(name)
        if kept is None or kept[0] is not self.flags:
            kept = cache[name] = (self.flags, self.flags.filter(keep))
        return kept[1]

    @property
    def flagged_days(self) -> int:
        standing = self.standing
        return standing[DATE_COLUMN].n_unique() if standing.height else 0

    def flag_days(self) -> dict[str, int]:
        return {k.flag: len(k.days) for k in self.flag_kinds}

    def dismissed_days(self) -> dict[str, int]:
        d = self.dismissed
        return {f: n for f, n in d.group_by("flag").agg(pl.col(DATE_COLUMN).n_unique()).rows()}

    def review_counts(self) -> dict[str, int]:
        """Flags by review: confirmed, dismissed, unreviewed."""
        states = self.flags["review"].fill_null("unreviewed").to_list()
        return {s: states.count(s) for s in (CONFIRMED, DISMISSED, "unreviewed")}

    @property
    def has_findings(self) -> bool:
        return bool(self.findings)

    @property
    def worst_severity(self) -> str | None:
        rank = {s: i for i, s in enumerate(SEVERITIES)}
        return max((f.severity for f in self.findings), key=rank.get, default=None)


@dataclass
class DataQuality:
    days_with_data: int
    missing_days: list[dt.date]  # covered days with no ingest_daily partition
    files: int
    rows_read: int
    rows_valid: int
    duplicates: int
    quarantined: int
    quarantined_by_reason: dict[str, int]
    skipped_files: list[str]  # unreadable raw files skipped: data gaps
    flag_days: int  # covered days that have an anomaly_flags partition
    #: why each missing day has no data: the gap's reason, or "not processed"
    gap_reasons: dict[dt.date, str] = field(default_factory=dict)
    #: re-delivered request ids whose content differed (the first delivery was kept)
    conflicting_duplicates: int = 0
    #: entries of day folders left out (hidden, another suffix, sub-folders), "day: name"
    ignored_files: list[str] = field(default_factory=list)


@dataclass
class Report:
    period: Period
    start: dt.date  # first covered day (first day with data in the period)
    end: dt.date  # last covered day
    currency: str
    unit: str  # what the API returns, plural ("items", "tweets")
    partners: list[PartnerReport]
    monthly: pl.DataFrame  # platform, every covered month: month, calls, items, bytes
    data_quality: DataQuality
    #: Reviews that match no flag of the period (a typo, or a flag no longer raised).
    orphan_reviews: pl.DataFrame
    validation: "RangeValidation | None" = None
    provenance: "Provenance | None" = None
    generated_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))

    @property
    def year(self) -> int | None:
        return self.period.year

    @property
    def partial(self) -> bool:
        return (self.start, self.end) != (self.period.start, self.period.end)

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def unit_one(self) -> str:
        return singular(self.unit)

    @property
    def with_findings(self) -> list[PartnerReport]:
        """Partners with findings, worst first: severity, then critical days, then calls."""
        rank = {s: i for i, s in enumerate(SEVERITIES)}
        return sorted(
            (p for p in self.partners if p.has_findings),
            key=lambda p: (
                -rank.get(p.worst_severity or "info", 0),
                -sum(len(f.days) for f in p.findings if f.severity == "critical"),
                -p.calls,
                p.partner_id,
            ),
        )

    @property
    def without_findings(self) -> list[PartnerReport]:
        return [p for p in self.partners if not p.has_findings]

    def totals(self) -> dict:
        """Platform totals over every partner (summary.json "totals")."""
        return {
            "partners": len([p for p in self.partners if p.calls]),
            "calls": sum(p.calls for p in self.partners),
            "items": sum(p.items for p in self.partners),
            "bytes": sum(p.bytes for p in self.partners),
            "errors": sum(p.errors for p in self.partners),
            "partners_flagged": len(self.with_findings),
            "flags": sum(p.standing.height for p in self.partners),
            "flags_dismissed": sum(p.dismissed.height for p in self.partners),
            "agreement_fees": round(sum(p.fees.agreement_total for p in self.partners), 2),
            "list_price": round(sum(p.fees.list_price for p in self.partners), 2),
            "fees_total": round(sum(p.fees.total for p in self.partners), 2),
            "currency": self.currency,
            "unit": self.unit,
        }

    def review_counts(self) -> dict[str, int]:
        counts = {CONFIRMED: 0, DISMISSED: 0, "unreviewed": 0, "unreviewed_critical": 0}
        for p in self.partners:
            for key, value in p.review_counts().items():
                counts[key] += value
            counts["unreviewed_critical"] += p.flags.filter(
                pl.col("review").is_null() & (pl.col("severity") == "critical")
            ).height
        return counts


_I64 = pl.Int64()


def _month(expr: pl.Expr) -> pl.Expr:
    return expr.dt.strftime("%Y-%m")


def months_between(start: dt.date, end: dt.date) -> list[str]:
    """Every calendar month that ``start..end`` touches, as YYYY-MM."""
    months, year, month = [], start.year, start.month
    while (year, month) <= (end.year, end.month):
        months.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months


def _agreement_days(contracts: Contracts, start: dt.date, end: dt.date) -> pl.DataFrame:
    """date x partner_id -> agreement_id for every day an agreement is in force."""
    rows = []
    for partner in contracts.partners:
        for agreement in partner.agreements:
            first = max(start, agreement.start)
            last = min(end, agreement.end or end)
            for offset in range((last - first).days + 1):
                rows.append((first + dt.timedelta(days=offset), partner.id, agreement.id))
    return pl.DataFrame(
        rows,
        schema={DATE_COLUMN: pl.Date(), "partner_id": pl.String(), "agreement_id": pl.String()},
        orient="row",
    )


def _allowed(frame: pl.DataFrame, contracts: Contracts, column: str, test: str) -> pl.DataFrame:
    """Add ``allowed``: the agreement in force that day permits the row's ``column``
    value (``test`` is the Agreement method). No agreement in force -> not allowed."""
    agreements = {a.id: a for p in contracts.partners for a in p.agreements}
    pairs = frame.select("agreement_id", column).unique().drop_nulls("agreement_id")
    verdicts = pl.DataFrame(
        {
            "agreement_id": pairs["agreement_id"],
            column: pairs[column],
            "allowed": [getattr(agreements[a], test)(v) for a, v in pairs.iter_rows()],
        },
        schema={"agreement_id": pl.String(), column: pl.String(), "allowed": pl.Boolean()},
    )
    return frame.join(verdicts, on=["agreement_id", column], how="left").with_columns(
        pl.col("allowed").fill_null(False)
    )


def _usage_by(usage: pl.DataFrame, key: str) -> Callable[[str], pl.DataFrame]:
    """Each partner's usage per app or endpoint (``key``), most calls first."""
    return _by_partner(
        usage.group_by("partner_id", key)
        .agg(
            pl.col("calls").sum(),
            pl.col("items").sum(),
            pl.col("bytes").sum(),
            pl.col(DATE_COLUMN).n_unique().cast(_I64).alias("days"),
            pl.col("calls").filter(~pl.col("allowed")).sum().alias("unauthorised_calls"),
        )
        .sort(["partner_id", "calls", key], descending=[False, True, False]),
        keep=False,
    )


def _unauthorised(usage: pl.DataFrame, key: str) -> Callable[[str], pl.DataFrame]:
    """Each partner's calls an agreement in force did not authorise, per app or endpoint
    (days with no agreement at all are no_agreement evidence, not this)."""
    return _by_partner(
        usage.filter(pl.col("agreement_id").is_not_null() & ~pl.col("allowed"))
        .group_by("partner_id", key)
        .agg(
            pl.col("calls").sum(),
            pl.col("items").sum(),
            pl.col(DATE_COLUMN).n_unique().cast(_I64).alias("days"),
            pl.col(DATE_COLUMN).min().alias("first"),
            pl.col(DATE_COLUMN).max().alias("last"),
        )
        .rename({key: "name"})
        .sort(["partner_id", "calls", "name"], descending=[False, True, False]),
        keep=False,
    )


#: Listing order of flags: unreviewed critical first, dismissed last (after the
#: ``first`` columns: by partner, for all partners at once).
def _listing_order(flags: pl.DataFrame, first: Sequence[str] = ()) -> pl.DataFrame:
    rank = {s: i for i, s in enumerate(SEVERITIES)}
    return (
        flags.with_columns(
            pl.when(pl.col("review").is_null())
            .then(0)
            .when(pl.col("review") == CONFIRMED)
            .then(1)
            .otherwise(2)
            .alias("_state"),
            pl.col("severity").replace_strict(rank, default=-1).alias("_rank"),
        )
        .sort(
            [*first, "_state", "_rank", DATE_COLUMN, "flag", "metric"],
            descending=[*(False for _ in first), False, True, False, False, False],
            maintain_order=True,
        )
        .drop("_state", "_rank")
    )


def _flag_kinds(flags: pl.DataFrame) -> list[FlagKind]:
    """Standing flags by kind (dismissed ones are not findings)."""
    rank = {s: i for i, s in enumerate(SEVERITIES)}
    standing = flags.filter(pl.col("review").fill_null("") != DISMISSED)
    kinds = []
    for (flag,), rows in standing.sort(DATE_COLUMN).group_by(["flag"], maintain_order=True):
        worst = max(rows["severity"].to_list(), key=lambda s: rank.get(s, -1))
        top = rows.sort("score", descending=True, nulls_last=True).row(0, named=True)
        kinds.append(
            FlagKind(
                flag=flag,
                severity=worst,
                days=sorted(set(rows[DATE_COLUMN].to_list())),
                flags=rows.height,
                example=top["detail"] or "",
                confirmed_days=rows.filter(pl.col("review") == CONFIRMED)[DATE_COLUMN].n_unique(),
            )
        )
    kinds.sort(key=lambda k: (-rank.get(k.severity, -1), -len(k.days), k.flag))
    return kinds


def _networks_by_partner(
    network: pl.DataFrame, contracts: Contracts
) -> tuple[Callable[[str], pl.DataFrame], Callable[[str], pl.DataFrame]]:
    """Each partner's networks (label, app, allowed: first and last day, days, calls,
    items) and network days (date, label: all allowed, calls, items)."""
    agreements = {a.id: a for p in contracts.partners for a in p.agreements}
    pairs = network.select("agreement_id", "network_label").unique().drop_nulls("agreement_id")
    verdicts = pl.DataFrame(
        {
            "agreement_id": pairs["agreement_id"],
            "network_label": pairs["network_label"],
            "allowed": [label in agreements[a].allow_networks for a, label in pairs.iter_rows()],
        },
        schema={"agreement_id": pl.String(), "network_label": pl.String(), "allowed": pl.Boolean()},
    )
    rows = network.join(verdicts, on=["agreement_id", "network_label"], how="left").with_columns(
        pl.col("allowed").fill_null(False)
    )
    spans = (
        rows.group_by("partner_id", "network_label", "app_id", "allowed")
        .agg(
            pl.col(DATE_COLUMN).min().alias("first"),
            pl.col(DATE_COLUMN).max().alias("last"),
            pl.col(DATE_COLUMN).n_unique().cast(_I64).alias("days"),
            pl.col("calls").sum(),
            pl.col("items").sum(),
        )
        .sort("partner_id", "first", "network_label", "app_id")
    )
    days = (
        rows.group_by("partner_id", DATE_COLUMN, "network_label")
        .agg(pl.col("allowed").all(), pl.col("calls").sum(), pl.col("items").sum())
        .sort("partner_id", DATE_COLUMN, "network_label")
    )
    return _by_partner(spans, keep=False), _by_partner(days, keep=False)


def _monthly(frame: pl.DataFrame, start: dt.date, end: dt.date) -> pl.DataFrame:
    """Calls, items, bytes and active days per month, every month of ``start..end``
    (a month without calls is a zero, never a missing bar)."""
    grid = pl.DataFrame({"month": months_between(start, end)}, schema={"month": pl.String()})
    return _every_month(grid, frame, [])


def _monthly_by_partner(
    daily: pl.DataFrame, partner_ids: Sequence[str], start: dt.date, end: dt.date
) -> Callable[[str], pl.DataFrame]:
    """:func:`_monthly` of each of ``partner_ids`` from their rows of ``daily``."""
    grid = _partners(partner_ids).join(
        pl.DataFrame({"month": months_between(start, end)}, schema={"month": pl.String()}),
        how="cross",
    )
    return _by_partner(_every_month(grid, daily, ["partner_id"]), keep=False)


def _every_month(grid: pl.DataFrame, frame: pl.DataFrame, keys: list[str]) -> pl.DataFrame:
    """``frame``'s calls, items, bytes and active days per ``keys`` and month, on every
    row of ``grid`` (``keys`` and month): a month without calls is a zero."""
    sums = frame.group_by(*keys, _month(pl.col(DATE_COLUMN)).alias("month")).agg(
        pl.col("calls").sum(),
        pl.col("items").sum(),
        pl.col("bytes").sum(),
        pl.col(DATE_COLUMN).filter(pl.col("calls") > 0).n_unique().cast(_I64).alias("active_days"),
    )
    return (
        grid.join(sums, on=[*keys, "month"], how="left")
        .with_columns(pl.col("calls", "items", "bytes", "active_days").fill_null(0).cast(_I64))
        .sort(*keys, "month")
    )


def _every_day_by_partner(
    daily: pl.DataFrame, partner_ids: Sequence[str], start: dt.date, end: dt.date
) -> Callable[[str], pl.DataFrame]:
    """One row per partner and day of ``start..end`` (date, calls, items, flagged): a day
    without calls is a zero."""
    grid = _partners(partner_ids).join(
        pl.DataFrame({DATE_COLUMN: days_between(start, end)}, schema={DATE_COLUMN: pl.Date()}),
        how="cross",
    )
    every_day = (
        grid.join(
            daily.select("partner_id", DATE_COLUMN, "calls", "items", "flagged"),
            on=["partner_id", DATE_COLUMN],
            how="left",
        )
        .with_columns(
            pl.col("calls", "items").fill_null(0).cast(_I64), pl.col("flagged").fill_null(False)
        )
        .sort("partner_id", DATE_COLUMN)
    )
    return _by_partner(every_day, keep=False)


def _totals_by_partner(daily: pl.DataFrame) -> dict[str, dict]:
    """partner_id -> calls, items, bytes, errors and active days (days with calls)."""
    totals = daily.group_by("partner_id").agg(
        pl.col("calls", "items", "bytes", "errors").sum(),
        (pl.col("calls") > 0).sum().alias("active_days"),
    )
    return {row["partner_id"]: row for row in totals.iter_rows(named=True)}


def _partners(partner_ids: Sequence[str]) -> pl.DataFrame:
    return pl.DataFrame({"partner_id": list(partner_ids)}, schema={"partner_id": pl.String()})


#: Reason of a missing day that was never processed (no commit, not even a gap).
NOT_PROCESSED = "not processed: no run has committed this day"


def _data_quality(
    ingest: pl.DataFrame, start: dt.date, end: dt.date, flag_days: int, warehouse_url: str
) -> DataQuality:
    present = set(ingest[DATE_COLUMN].to_list())
    missing = [d for d in days_between(start, end) if d not in present]
    gaps = warehouse.data_gaps(warehouse_url, missing) if missing else {}
    gap_reasons = {d: gaps.get(d, NOT_PROCESSED) for d in missing}
    sums = ingest.select(
        pl.col(
            "files",
            "rows_read",
            "rows_valid",
            "duplicates",
            "quarantined",
            *(f"quarantined_{r}" for r in QUARANTINE_REASONS),
        )
        .cast(_I64)
        .sum()
    ).row(0, named=True)
    skipped = [
        f"{d}: {name}"
        for d, names in ingest.select(DATE_COLUMN, "skipped_file_names").iter_rows()
        for name in (names or "").splitlines()
        if name.strip()
    ]
    return DataQuality(
        days_with_data=len(present),
        missing_days=missing,
        files=sums["files"] or 0,
        rows_read=sums["rows_read"] or 0,
        rows_valid=sums["rows_valid"] or 0,
        duplicates=sums["duplicates"] or 0,
        quarantined=sums["quarantined"] or 0,
        quarantined_by_reason={r: sums[f"quarantined_{r}"] or 0 for r in QUARANTINE_REASONS},
        skipped_files=skipped,
        flag_days=flag_days,
        gap_reasons=gap_reasons,
        conflicting_duplicates=int(ingest["conflicting_duplicates"].sum()),
        ignored_files=[
            f"{d}: {name}"
            for d, names in ingest.select(DATE_COLUMN, "ignored_file_names").iter_rows()
            for name in (names or "").splitlines()
            if name.strip()
        ],
    )


def coverage(warehouse_url: str, period: Period | int) -> tuple[dt.date, dt.date] | None:
    """First and last day of ``period`` (or of a year) with an ingest_daily partition."""
    if isinstance(period, int):
        period = Period.of_year(period)
    days = [
        d
        for d in warehouse.partition_days(warehouse_url, INGEST_DAILY)
        if period.start <= d <= period.end
    ]
    return (min(days), max(days)) if days else None


def no_data_message(warehouse_url: str, period: Period | int) -> str:
    """Why there is no report for ``period``, naming the years the warehouse does hold."""
    if isinstance(period, int):
        period = Period.of_year(period)
    years = sorted({d.year for d in warehouse.partition_days(warehouse_url, INGEST_DAILY)})
    held = (
        f"it holds days of {', '.join(str(y) for y in years)}"
        if years
        else "it holds no day at all"
    )
    return (
        f"no data for {period.title}: the warehouse {warehouse_url} has no ingest_daily "
        f"partition between {period.start} and {period.end} ({held}; run `callaudit "
        "backfill` for those days first)"
    )


#: The daily tables a report reads (of the group warehouse.DAY_TABLES).
DAY_TABLE_NAMES = ("ingest_daily", "usage_daily", "network_daily")


def gather(
    warehouse_url: str,
    contracts: Contracts,
    period: Period,
    *,
    reviews: Reviews | None = None,
) -> Report:
    """Read the period's daily tables and compute every figure of its report.

    The report covers the first to the last day of the period that has an ingest_daily
    partition; a period not covered whole is partial and says so. Fees are prorated to
    the covered days. Raises NoDataError when the period has no day at all.
    """
    span = coverage(warehouse_url, period)
    if span is None:
        raise NoDataError(no_data_message(warehouse_url, period))
    start, end = span
    # The daily tables of each day from one commit, its manifest read once.
    day_tables, _ = warehouse.read_snapshot(
        warehouse_url, {name: (start, end) for name in DAY_TABLE_NAMES}
    )
    ingest, usage, network = (day_tables[name] for name in DAY_TABLE_NAMES)
    flags = warehouse.read_range(warehouse_url, "anomaly_flags", start, end)
    review_rows = reviews_frame(reviews or Reviews())
    flags = flags.join(review_rows, on=[DATE_COLUMN, "partner_id", "flag"], how="left")
    flagged_keys = flags.select(DATE_COLUMN, "partner_id", "flag").unique()
    orphans = review_rows.filter(pl.col(DATE_COLUMN).is_between(start, end)).join(
        flagged_keys, on=[DATE_COLUMN, "partner_id", "flag"], how="anti"
    )
    agreement_days = _agreement_days(contracts, start, end)
    usage = usage.join(agreement_days, on=[DATE_COLUMN, "partner_id"], how="left")
    usage_app = _allowed(usage, contracts, "app_id", "allows_app")
    usage_endpoint = _allowed(usage, contracts, "endpoint", "allows_endpoint")
    network = network.join(agreement_days, on=[DATE_COLUMN, "partner_id"], how="left")
    daily = usage.group_by(DATE_COLUMN, "partner_id").agg(
        pl.col("calls", "items", "bytes").sum(),
        (pl.col("errors_4xx") + pl.col("errors_5xx")).sum().alias("errors"),
    )
    flagged = (
        flags.filter(pl.col("review").fill_null("") != DISMISSED)
        .select(DATE_COLUMN, "partner_id")
        .unique()
        .with_columns(pl.lit(True).alias("flagged"))
    )
    daily = daily.join(flagged, on=[DATE_COLUMN, "partner_id"], how="left").with_columns(
        pl.col("flagged").fill_null(False)
    )
    unit = item_unit(contracts)
    in_force = set(agreement_days["partner_id"].to_list())
    partner_ids = sorted(
        set(usage["partner_id"].to_list()) | set(flags["partner_id"].to_list()) | in_force
    )
    # Every per-partner table is computed for all partners at once, then split: one
    # Polars call per partner and table was most of a report's 1,400 calls, each ~0.2 ms
    # of fixed cost, and many times that beside the flag checks (2026-11-29).
    daily_of = _by_partner(daily)
    totals_of = _totals_by_partner(daily)
    every_day_of = _every_day_by_partner(daily, partner_ids, start, end)
    monthly_of = _monthly_by_partner(daily, partner_ids, start, end)
    spans_of, network_days_of = _networks_by_partner(network, contracts)
    flags_of = _by_partner(
        _listing_order(flags, first=["partner_id"]).select("partner_id", *PARTNER_FLAG_COLUMNS),
        keep=False,
    )
    apps_by, endpoints_by = _usage_by(usage_app, "app_id"), _usage_by(usage_endpoint, "endpoint")
    unauthorised_apps = _unauthorised(usage_app, "app_id")
    unauthorised_endpoints = _unauthorised(usage_endpoint, "endpoint")
    agreements_of = _by_partner(agreement_days)
    partners = []
    for pid in partner_ids:
        mine = daily_of(pid)
        partner_flags = flags_of(pid)
        totals = totals_of.get(pid, {})
        partner = contracts.partner(pid)
        figures = PartnerReport(
            partner_id=pid,
            name=contracts.display_name(pid),
            contracted=partner is not None,
            agreements=sorted(set(agreements_of(pid)["agreement_id"])),
            calls=totals.get("calls") or 0,
            items=totals.get("items") or 0,
            bytes=totals.get("bytes") or 0,
            errors=totals.get("errors") or 0,
            active_days=totals.get("active_days") or 0,
            by_app=apps_by(pid),
            by_endpoint=endpoints_by(pid),
            unauthorised_apps=unauthorised_apps(pid),
            unauthorised_endpoints=unauthorised_endpoints(pid),
            daily=every_day_of(pid),
            monthly=monthly_of(pid),
            flag_kinds=_flag_kinds(partner_flags),
            flags=partner_flags,
            networks=spans_of(pid),
            network_days=network_days_of(pid),
            fees=partner_fees(
                partner, mine, contracts.list_pricing, contracts.currency, start, end
            ),
        )
        figures.findings = partner_findings(figures, unit=unit, currency=contracts.currency)
        partners.append(figures)
    partners.sort(key=lambda p: (-p.calls, p.partner_id))
    return Report(
        period=period,
        start=start,
        end=end,
        currency=contracts.currency,
        unit=unit,
        partners=partners,
        monthly=_monthly(daily, start, end).drop("active_days"),
        data_quality=_data_quality(
            ingest, start, end, _flag_days(warehouse_url, start, end), warehouse_url
        ),
        orphan_reviews=orphans.sort(DATE_COLUMN, "partner_id", "flag"),
    )


def _by_partner(frame: pl.DataFrame, *, keep: bool = True) -> Callable[[str], pl.DataFrame]:
    """A partner's rows of ``frame`` (in their order; none: an empty frame), split once,
    with the partner_id column unless not ``keep``: one filter or group_by per partner
    and frame was a quarter of a report's Polars calls."""
    parts = frame.partition_by("partner_id", as_dict=True, include_key=keep)
    empty = frame.clear() if keep else frame.clear().drop("partner_id")
    return lambda partner_id: parts.get((partner_id,), empty)


def gather_year(
    warehouse_url: str, contracts: Contracts, year: int, *, reviews: Reviews | None = None
) -> Report:
    """The report of a calendar year (partial when the warehouse does not cover it whole)."""
    return gather(warehouse_url, contracts, Period.of_year(year), reviews=reviews)


def gather_period(
    warehouse_url: str,
    contracts: Contracts,
    start: dt.date,
    end: dt.date,
    *,
    reviews: Reviews | None = None,
) -> Report:
    """The report of any range of days (a quarter, an agreement's term)."""
    return gather(warehouse_url, contracts, Period.between(start, end), reviews=reviews)


def _flag_days(warehouse_url: str, start: dt.date, end: dt.date) -> int:
    return len(flag_days(warehouse_url, start, end))


def days_with_data(warehouse_url: str, period: Period) -> list[dt.date]:
    """The period's days that have an ingest_daily partition."""
    return [
        d
        for d in warehouse.partition_days(warehouse_url, INGEST_DAILY)
        if period.start <= d <= period.end
    ]


def flag_days(warehouse_url: str, start: dt.date, end: dt.date) -> list[dt.date]:
    """Days of ``start..end`` that have an anomaly_flags partition."""
    return [
        d for d in warehouse.partition_days(warehouse_url, "anomaly_flags") if start <= d <= end
    ]
