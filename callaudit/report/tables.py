"""The machine-readable outputs: summary.json, partners.csv and flags.csv."""

import json
from dataclasses import asdict

import polars as pl

from callaudit.report.figures import YearReport
from callaudit.report.text import partner_headline

#: Spreadsheet programs run a cell starting with these as a formula.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def summary(report: YearReport) -> dict:
    """summary.json as DESIGN.md describes it (plus coverage and headlines)."""
    q = report.data_quality
    quality = asdict(q)
    quality["missing_days"] = [d.isoformat() for d in q.missing_days]
    quality["validation"] = None if q.validation is None else [asdict(v) for v in q.validation]
    return {
        "year": report.year,
        "start": report.start.isoformat(),
        "end": report.end.isoformat(),
        "partial": report.partial,
        "generated_at": report.generated_at.isoformat(timespec="seconds"),
        "partners": [
            {
                "partner_id": p.partner_id,
                "name": p.name,
                "contracted": p.contracted,
                "agreements": p.agreements,
                "calls": p.calls,
                "items": p.items,
                "bytes": p.bytes,
                "errors": p.errors,
                "active_days": p.active_days,
                "flagged_days": p.flagged_days,
                "flags": p.flag_days(),
                "restricted_network_calls": int(p.networks["calls"].sum()),
                "unauthorised_app_calls": int(p.by_app["unauthorised_calls"].sum()),
                "fees": p.fees.as_dict(),
                "headline": partner_headline(report, p),
            }
            for p in report.partners
        ],
        "totals": report.totals(),
        "data_quality": quality,
    }


def summary_json(report: YearReport) -> str:
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


def partners_csv(report: YearReport) -> str:
    frame = pl.DataFrame(
        [
            {
                "partner_id": p.partner_id,
                "name": p.name,
                "agreements": " ".join(p.agreements),
                "calls": p.calls,
                "items": p.items,
                "bytes": p.bytes,
                "errors": p.errors,
                "active_days": p.active_days,
                "flagged_days": p.flagged_days,
                "monthly_fees": p.fees.monthly_fees,
                "overage": p.fees.overage,
                "list_price": p.fees.list_price,
                "fees_total": p.fees.total,
                "currency": report.currency,
            }
            for p in report.partners
        ],
        schema={
            "partner_id": pl.String(),
            "name": pl.String(),
            "agreements": pl.String(),
            "calls": pl.Int64(),
            "items": pl.Int64(),
            "bytes": pl.Int64(),
            "errors": pl.Int64(),
            "active_days": pl.Int64(),
            "flagged_days": pl.Int64(),
            "monthly_fees": pl.Float64(),
            "overage": pl.Float64(),
            "list_price": pl.Float64(),
            "fees_total": pl.Float64(),
            "currency": pl.String(),
        },
    )
    return _defuse(frame).write_csv()


def flags_csv(report: YearReport) -> str:
    frames = [
        p.flags.with_columns(pl.lit(p.partner_id).alias("partner_id"), pl.lit(p.name).alias("name"))
        for p in report.partners
        if p.flags.height
    ]
    columns = [
        "date",
        "partner_id",
        "name",
        "flag",
        "severity",
        "metric",
        "observed",
        "threshold",
        "detail",
    ]
    if not frames:
        return ",".join(columns) + "\n"
    frame = pl.concat(frames, how="vertical").select(columns).sort("date", "partner_id", "flag")
    return _defuse(frame).write_csv()
