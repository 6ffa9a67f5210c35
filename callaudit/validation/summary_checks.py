"""Validating a yearly summary.json: its partners, and its totals against the days.

The report's numbers go into letters, so they must equal the sum of the daily
partitions they were built from, exactly: platform totals, each partner's calls, items,
bytes and active days, and the data-quality counts. The findings of a yearly check are
dated on the year's first day (the start of its partition).
"""

import datetime as dt
import json
import time
from collections.abc import Mapping

import polars as pl

from callaudit import storage, warehouse
from callaudit.validation.outcome import CRITICAL, SAMPLE_SIZE, CheckReport, Finding
from callaudit.validation.runner import run_suite

SUMMARY_SUITE = "report_summary_suite"
SUMMARY_MATCHES_DAYS = "report_summary_matches_days"

#: Additive figures of a partner and of the platform totals.
SUMMED = ("calls", "items", "bytes")
#: data_quality keys reconciled against ingest_daily.
DATA_QUALITY = ("rows_read", "duplicates", "quarantined")

_PARTNER_COLUMNS = {
    "partner_id": pl.String(),
    "name": pl.String(),
    "calls": pl.Int64(),
    "items": pl.Int64(),
    "bytes": pl.Int64(),
    "active_days": pl.Int64(),
    "flagged_days": pl.Int64(),
}


def summary_url(reports: str, year: int) -> str:
    return storage.join(reports, str(year), "summary.json")


def load_summary(reports: str, year: int) -> dict:
    url = summary_url(reports, year)
    if not storage.exists(url):
        raise FileNotFoundError(f"no summary for {year}: {url} is missing")
    return json.loads(storage.read_text(url))


def partners_frame(summary: Mapping) -> pl.DataFrame:
    """The summary's partners as a frame (missing fields become nulls, for the suite)."""
    rows = [{k: p.get(k) for k in _PARTNER_COLUMNS} for p in summary.get("partners", [])]
    return pl.DataFrame(rows, schema=_PARTNER_COLUMNS, strict=False)


def _finding(day: dt.date, expectation: str, column: str, problems: list[str]) -> Finding:
    return Finding(
        day,
        SUMMARY_MATCHES_DAYS,
        "report_summary",
        expectation,
        column,
        CRITICAL,
        not problems,
        len(problems),
        tuple(problems[:SAMPLE_SIZE]),
    )


def _number(mapping: Mapping, key: str) -> int | None:
    value = mapping.get(key)
    return int(value) if isinstance(value, int | float) else None


def reconcile_summary(summary: Mapping, warehouse_url: str, year: int) -> list[Finding]:
    """Totals = sum of partners = sum of the year's partner_daily; quality = ingest_daily."""
    day = dt.date(year, 1, 1)
    start, end = day, dt.date(year, 12, 31)
    partner_daily = warehouse.read_range(warehouse_url, "partner_daily", start, end)
    ingest = warehouse.read_range(warehouse_url, "ingest_daily", start, end)
    totals = summary.get("totals") or {}
    partners = partners_frame(summary)

    total_problems = []
    for key in SUMMED:
        stated = _number(totals, key)
        of_partners = int(partners[key].sum())
        of_days = int(partner_daily[key].sum())
        if stated is None:
            total_problems.append(f"totals.{key} is missing")
        elif not stated == of_partners == of_days:
            total_problems.append(
                f"totals.{key}={stated}, sum of partners={of_partners}, sum of days={of_days}"
            )

    by_partner = partner_daily.group_by("partner_id").agg(
        *(pl.col(k).sum() for k in SUMMED), pl.len().cast(pl.Int64).alias("active_days")
    )
    compared = [*SUMMED, "active_days"]
    # A contracted partner that never called may be listed with zeros.
    joined = (
        partners.select("partner_id", *compared)
        .join(by_partner, on="partner_id", how="full", coalesce=True, suffix="_of_days")
        .with_columns(pl.col(f"{k}_of_days").fill_null(0) for k in compared)
    )
    partner_problems = []
    for row in joined.sort("partner_id").iter_rows(named=True):
        wrong = [
            f"{k} {row[k]} vs {row[f'{k}_of_days']}"
            for k in compared
            if row[k] != row[f"{k}_of_days"]
        ]
        if wrong:
            partner_problems.append(f"partner_id={row['partner_id']}: " + "; ".join(wrong))

    quality = summary.get("data_quality") or {}
    quality_problems = []
    for key in DATA_QUALITY:
        stated = _number(quality, key)
        of_days = int(ingest[key].sum())
        if stated != of_days:
            quality_problems.append(f"data_quality.{key}={stated}, sum of days={of_days}")

    return [
        _finding(day, "totals_equal_sum_of_partners_and_days", ", ".join(SUMMED), total_problems),
        _finding(day, "partners_equal_sum_of_their_days", ", ".join(compared), partner_problems),
        _finding(
            day, "data_quality_equals_ingest_daily", ", ".join(DATA_QUALITY), quality_problems
        ),
    ]


def validate_summary(summary: Mapping, warehouse_url: str, year: int) -> dict[str, CheckReport]:
    """The summary's partners against the report_summary suite, and its reconciliation."""
    day = dt.date(year, 1, 1)
    started = time.perf_counter()
    result = run_suite("report_summary", partners_frame(summary))
    suite = CheckReport(
        SUMMARY_SUITE,
        "report_summary",
        [day],
        result.findings(SUMMARY_SUITE, "report_summary", [day]),
    )
    suite.seconds = time.perf_counter() - started
    started = time.perf_counter()
    matches = CheckReport(
        SUMMARY_MATCHES_DAYS,
        "report_summary",
        [day],
        reconcile_summary(summary, warehouse_url, year),
    )
    matches.seconds = time.perf_counter() - started
    return {SUMMARY_SUITE: suite, SUMMARY_MATCHES_DAYS: matches}
