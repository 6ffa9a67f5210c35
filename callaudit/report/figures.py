"""Everything a yearly report says, gathered from the warehouse and the agreements.

The result is plain data (dataclasses, small Polars frames) that the renderers only
format: every figure is computed once, here, so the HTML, the markdown, summary.json
and the CSV files cannot disagree.
"""

import datetime as dt
from dataclasses import dataclass, field

import polars as pl

from callaudit import warehouse
from callaudit.contracts import Contracts
from callaudit.report.fees import Fees, partner_fees
from callaudit.schema import DATE_COLUMN, INGEST_DAILY, QUARANTINE_REASONS, SEVERITIES


class NoDataError(ValueError):
    """The warehouse holds no day of the requested year: there is nothing to report."""


@dataclass(frozen=True)
class ValidationOutcome:
    """One data-validation check as the report shows it (from the GX asset checks)."""

    check: str
    asset: str
    passed: bool
    severity: str = "ERROR"
    description: str = ""


@dataclass
class FlagKind:
    """All flags of one kind raised for a partner in the year."""

    flag: str
    severity: str  # the worst one raised
    days: list[dt.date]
    flags: int
    example: str  # the detail line of the highest-scored flag


@dataclass
class PartnerYear:
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
    daily: pl.DataFrame  # date, calls, items, flagged
    monthly: pl.DataFrame  # month (YYYY-MM), calls, items, bytes, active_days
    flag_kinds: list[FlagKind]
    flags: pl.DataFrame  # date, flag, severity, metric, observed, threshold, detail
    networks: pl.DataFrame  # network_label, app_id, allowed, first, last, days, calls, items
    network_days: pl.DataFrame  # date, network_label, allowed, calls
    fees: Fees

    @property
    def flagged_days(self) -> int:
        return self.flags[DATE_COLUMN].n_unique() if self.flags.height else 0

    def flag_days(self) -> dict[str, int]:
        return {k.flag: len(k.days) for k in self.flag_kinds}


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
    validation: list[ValidationOutcome] | None  # None: no check results recorded


@dataclass
class YearReport:
    year: int
    start: dt.date  # first covered day
    end: dt.date  # last covered day
    currency: str
    partners: list[PartnerYear]
    monthly: pl.DataFrame  # platform: month, calls, items, bytes
    data_quality: DataQuality
    generated_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))

    @property
    def partial(self) -> bool:
        return (self.start, self.end) != (dt.date(self.year, 1, 1), dt.date(self.year, 12, 31))

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def totals(self) -> dict:
        """Platform totals over every partner (summary.json "totals")."""
        return {
            "partners": len([p for p in self.partners if p.calls]),
            "calls": sum(p.calls for p in self.partners),
            "items": sum(p.items for p in self.partners),
            "bytes": sum(p.bytes for p in self.partners),
            "errors": sum(p.errors for p in self.partners),
            "partners_flagged": len([p for p in self.partners if p.flag_kinds]),
            "flags": sum(p.flags.height for p in self.partners),
            "agreement_fees": round(sum(p.fees.agreement_total for p in self.partners), 2),
            "list_price": round(sum(p.fees.list_price for p in self.partners), 2),
            "fees_total": round(sum(p.fees.total for p in self.partners), 2),
            "currency": self.currency,
        }


_I64 = pl.Int64()


def _month(expr: pl.Expr) -> pl.Expr:
    return expr.dt.strftime("%Y-%m")


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


def _usage_by(usage: pl.DataFrame, key: str) -> pl.DataFrame:
    return (
        usage.group_by(key)
        .agg(
            pl.col("calls").sum(),
            pl.col("items").sum(),
            pl.col("bytes").sum(),
            pl.col(DATE_COLUMN).n_unique().cast(_I64).alias("days"),
            pl.col("calls").filter(~pl.col("allowed")).sum().alias("unauthorised_calls"),
        )
        .sort(["calls", key], descending=[True, False])
    )


def _flag_kinds(flags: pl.DataFrame) -> list[FlagKind]:
    rank = {s: i for i, s in enumerate(SEVERITIES)}
    kinds = []
    for (flag,), rows in flags.sort(DATE_COLUMN).group_by(["flag"], maintain_order=True):
        worst = max(rows["severity"].to_list(), key=lambda s: rank.get(s, -1))
        top = rows.sort("score", descending=True, nulls_last=True).row(0, named=True)
        kinds.append(
            FlagKind(
                flag=flag,
                severity=worst,
                days=sorted(set(rows[DATE_COLUMN].to_list())),
                flags=rows.height,
                example=top["detail"] or "",
            )
        )
    kinds.sort(key=lambda k: (-rank.get(k.severity, -1), -len(k.days), k.flag))
    return kinds


def _networks(network: pl.DataFrame, contracts: Contracts) -> tuple[pl.DataFrame, pl.DataFrame]:
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
        rows.group_by("network_label", "app_id", "allowed")
        .agg(
            pl.col(DATE_COLUMN).min().alias("first"),
            pl.col(DATE_COLUMN).max().alias("last"),
            pl.col(DATE_COLUMN).n_unique().cast(_I64).alias("days"),
            pl.col("calls").sum(),
            pl.col("items").sum(),
        )
        .sort("first", "network_label", "app_id")
    )
    days = (
        rows.group_by(DATE_COLUMN, "network_label")
        .agg(pl.col("allowed").all(), pl.col("calls").sum())
        .sort(DATE_COLUMN, "network_label")
    )
    return spans, days


def _monthly(frame: pl.DataFrame) -> pl.DataFrame:
    return (
        frame.group_by(_month(pl.col(DATE_COLUMN)).alias("month"))
        .agg(
            pl.col("calls").sum(),
            pl.col("items").sum(),
            pl.col("bytes").sum(),
            pl.col(DATE_COLUMN).n_unique().cast(_I64).alias("active_days"),
        )
        .sort("month")
    )


def _data_quality(
    ingest: pl.DataFrame,
    start: dt.date,
    end: dt.date,
    flag_days: int,
    validation: list[ValidationOutcome] | None,
) -> DataQuality:
    present = set(ingest[DATE_COLUMN].to_list())
    missing = [
        start + dt.timedelta(days=i)
        for i in range((end - start).days + 1)
        if start + dt.timedelta(days=i) not in present
    ]
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
        validation=validation,
    )


def coverage(warehouse_url: str, year: int) -> tuple[dt.date, dt.date] | None:
    """First and last day of ``year`` with an ingest_daily partition, or None."""
    days = [d for d in warehouse.partition_days(warehouse_url, INGEST_DAILY) if d.year == year]
    return (min(days), max(days)) if days else None


def no_data_message(warehouse_url: str, year: int) -> str:
    """Why there is no report for ``year``, naming the years the warehouse does hold."""
    years = sorted({d.year for d in warehouse.partition_days(warehouse_url, INGEST_DAILY)})
    held = (
        f"it holds days of {', '.join(str(y) for y in years)}"
        if years
        else "it holds no day at all"
    )
    return (
        f"no data for {year}: the warehouse {warehouse_url} has no ingest_daily partition "
        f"between {year}-01-01 and {year}-12-31 ({held}; run `callaudit backfill` for "
        "those days first)"
    )


def gather_year(
    warehouse_url: str,
    contracts: Contracts,
    year: int,
    *,
    validation: list[ValidationOutcome] | None = None,
) -> YearReport:
    """Read the year's daily tables and compute every figure of its report.

    The report covers the first to the last day of the year that has an ingest_daily
    partition; a year that is not covered whole (the current one) is partial. Raises
    NoDataError when the year has no day at all.
    """
    span = coverage(warehouse_url, year)
    if span is None:
        raise NoDataError(no_data_message(warehouse_url, year))
    start, end = span
    read = lambda table: warehouse.read_range(warehouse_url, table, start, end)  # noqa: E731
    ingest, usage, network, flags = (
        read("ingest_daily"),
        read("usage_daily"),
        read("network_daily"),
        read("anomaly_flags"),
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
        flags.select(DATE_COLUMN, "partner_id").unique().with_columns(pl.lit(True).alias("flagged"))
    )
    daily = daily.join(flagged, on=[DATE_COLUMN, "partner_id"], how="left").with_columns(
        pl.col("flagged").fill_null(False)
    )

    in_force = set(agreement_days["partner_id"].to_list())
    partner_ids = sorted(
        set(usage["partner_id"].to_list()) | set(flags["partner_id"].to_list()) | in_force
    )
    partners = []
    for pid in partner_ids:
        mine = daily.filter(pl.col("partner_id") == pid).sort(DATE_COLUMN)
        spans, days = _networks(network.filter(pl.col("partner_id") == pid), contracts)
        partner_flags = flags.filter(pl.col("partner_id") == pid).sort(DATE_COLUMN, "flag")
        totals = mine.select(pl.col("calls", "items", "bytes", "errors").sum()).row(0, named=True)
        partner = contracts.partner(pid)
        partners.append(
            PartnerYear(
                partner_id=pid,
                name=contracts.display_name(pid),
                contracted=partner is not None,
                agreements=sorted(
                    set(agreement_days.filter(pl.col("partner_id") == pid)["agreement_id"])
                ),
                calls=totals["calls"] or 0,
                items=totals["items"] or 0,
                bytes=totals["bytes"] or 0,
                errors=totals["errors"] or 0,
                active_days=mine.filter(pl.col("calls") > 0).height,
                by_app=_usage_by(usage_app.filter(pl.col("partner_id") == pid), "app_id"),
                by_endpoint=_usage_by(
                    usage_endpoint.filter(pl.col("partner_id") == pid), "endpoint"
                ),
                daily=mine.select(DATE_COLUMN, "calls", "items", "flagged"),
                monthly=_monthly(mine),
                flag_kinds=_flag_kinds(partner_flags),
                flags=partner_flags.select(
                    DATE_COLUMN, "flag", "severity", "metric", "observed", "threshold", "detail"
                ),
                networks=spans,
                network_days=days,
                fees=partner_fees(
                    partner, mine, contracts.list_pricing, contracts.currency, start, end
                ),
            )
        )
    partners.sort(key=lambda p: (-p.calls, p.partner_id))
    return YearReport(
        year=year,
        start=start,
        end=end,
        currency=contracts.currency,
        partners=partners,
        monthly=_monthly(daily).drop("active_days"),
        data_quality=_data_quality(
            ingest, start, end, _flag_days(warehouse_url, start, end), validation
        ),
    )


def _flag_days(warehouse_url: str, start: dt.date, end: dt.date) -> int:
    return len(
        [d for d in warehouse.partition_days(warehouse_url, "anomaly_flags") if start <= d <= end]
    )
