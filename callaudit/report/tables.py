"""The machine-readable outputs: summary.json, partners.csv and flags.csv.

Numbers are written as what they mean: counts as integers, money with two decimals
(cents), ratios and scores with two; never a float artefact such as 421.99999999999994.
"""

import json
from dataclasses import asdict

import polars as pl

from callaudit.report.figures import PARTNER_FLAG_COLUMNS, PartnerReport, Report
from callaudit.report.findings import money_line
from callaudit.report.text import first_line, headline, partner_headline
from callaudit.schema import DATE_COLUMN

#: Spreadsheet programs run a cell starting with these as a formula.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


#: A partner's counts, under these names in summary.json and partners.csv alike.
PARTNER_COUNTS = ("calls", "items", "bytes", "errors", "active_days", "flagged_days")


def _counts(partner: PartnerReport) -> dict[str, int]:
    return {name: getattr(partner, name) for name in PARTNER_COUNTS}


def summary(report: Report) -> dict:
    """summary.json as DESIGN.md describes it (plus coverage, findings and headlines)."""
    q = report.data_quality
    quality = asdict(q)
    quality["missing_days"] = [d.isoformat() for d in q.missing_days]
    quality["gap_reasons"] = {d.isoformat(): why for d, why in q.gap_reasons.items()}
    reviews = report.review_counts()
    return {
        "year": report.year,
        "period": report.period.folder,
        "requested_start": report.period.start.isoformat(),
        "requested_end": report.period.end.isoformat(),
        "start": report.start.isoformat(),
        "end": report.end.isoformat(),
        "partial": report.partial,
        "first_line": first_line(report),
        "headline": headline(report),
        "unit": report.unit,
        "generated_at": report.generated_at.isoformat(timespec="seconds"),
        "partners": [
            {
                "partner_id": p.partner_id,
                "name": p.name,
                "contracted": p.contracted,
                "agreements": p.agreements,
                **_counts(p),
                "flags": p.flag_days(),
                "dismissed_flags": p.dismissed_days(),
                "reviews": p.review_counts(),
                "findings": [f.as_dict() for f in p.findings],
                "restricted_network_calls": int(
                    p.networks.filter(~p.networks["allowed"])["calls"].sum()
                ),
                "unauthorised_app_calls": int(p.unauthorised_apps["calls"].sum()),
                "unauthorised_endpoint_calls": int(p.unauthorised_endpoints["calls"].sum()),
                "fees": p.fees.as_dict(),
                "fees_line": money_line(p, report.currency, report.unit),
                "headline": partner_headline(report, p),
            }
            for p in report.partners
        ],
        "totals": report.totals(),
        "reviews": {
            **reviews,
            "orphans": [
                {**r, "date": r["date"].isoformat()}
                for r in report.orphan_reviews.iter_rows(named=True)
            ],
        },
        "data_quality": quality,
        "data_gaps": [
            *(
                {"date": d.isoformat(), "reason": q.gap_reasons.get(d, "no raw data")}
                for d in q.missing_days
            ),
            *(
                {
                    "date": s.split(": ", 1)[0],
                    "reason": f"unreadable file skipped: {s.split(': ', 1)[1]}",
                }
                for s in q.skipped_files
            ),
        ],
        "validation": report.validation.as_dict() if report.validation else None,
        "provenance": report.provenance.as_dict() if report.provenance else None,
    }


def summary_json(report: Report) -> str:
    return json.dumps(summary(report), indent=2, ensure_ascii=False) + "\n"


def _defuse(frame: pl.DataFrame) -> pl.DataFrame:
    """Prefix text cells that a spreadsheet would run as a formula with a quote."""
    return frame.with_columns(
        pl.when(pl.any_horizontal(pl.col(c).str.starts_with(s) for s in _FORMULA_START))
        .then(pl.lit("'") + pl.col(c))
        .otherwise(pl.col(c))
        .alias(c)
        for c, dtype in frame.schema.items()
        if dtype == pl.String()
    )


def _cents(value: float) -> str:
    """Money in a CSV cell: 421.99999999999994 -> "422.00"."""
    return f"{value:.2f}"


#: partners.csv columns; money is text with two decimals so no reader re-rounds it.
PARTNER_COLUMNS: dict[str, pl.DataType] = {
    "partner_id": pl.String(),
    "name": pl.String(),
    "agreements": pl.String(),
    "calls": pl.Int64(),
    "items": pl.Int64(),
    "bytes": pl.Int64(),
    "errors": pl.Int64(),
    "active_days": pl.Int64(),
    "flagged_days": pl.Int64(),
    "findings": pl.String(),
    "worst_severity": pl.String(),
    "monthly_fees": pl.String(),
    "overage": pl.String(),
    "list_price": pl.String(),
    "fees_total": pl.String(),
    "currency": pl.String(),
}


def partners_csv(report: Report) -> str:
    frame = pl.DataFrame(
        [
            {
                "partner_id": p.partner_id,
                "name": p.name,
                "agreements": " ".join(p.agreements),
                **_counts(p),
                "findings": " ".join(f.flag for f in p.findings),
                "worst_severity": p.worst_severity or "",
                "monthly_fees": _cents(p.fees.monthly_fees),
                "overage": _cents(p.fees.overage),
                "list_price": _cents(p.fees.list_price),
                "fees_total": _cents(p.fees.total),
                "currency": report.currency,
            }
            for p in report.partners
        ],
        schema=PARTNER_COLUMNS,
    )
    return _defuse(frame.with_columns(pl.lit(report.unit).alias("unit"))).write_csv()


#: flags.csv columns: a partner's flag listing, with its id and name after the day.
FLAG_CSV_COLUMNS = [DATE_COLUMN, "partner_id", "name", *PARTNER_FLAG_COLUMNS[1:]]


def flags_frame(report: Report) -> pl.DataFrame:
    """Every flag of the period with its review, in listing order per partner: counts
    (observed, threshold, expected) as integers, the score with two decimals."""
    frames = [
        p.flags.with_columns(pl.lit(p.partner_id).alias("partner_id"), pl.lit(p.name).alias("name"))
        for p in report.partners
        if p.flags.height
    ]
    if not frames:
        return pl.DataFrame(schema={c: pl.String() for c in FLAG_CSV_COLUMNS})
    return (
        pl.concat(frames, how="vertical")
        .with_columns(
            pl.col("observed", "threshold", "expected").round(0).cast(pl.Int64),
            pl.col("score").round(2),
            pl.col("review").fill_null("unreviewed"),
        )
        .select(FLAG_CSV_COLUMNS)
        .sort("date", "partner_id", "flag", "metric")
    )


def flags_csv(report: Report) -> str:
    return _defuse(flags_frame(report)).write_csv()
