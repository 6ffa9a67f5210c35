"""The report summary checks, attached to a stand-in yearly_report asset."""

import datetime as dt
import json
from pathlib import Path

import dagster as dg
import polars as pl

from callaudit import warehouse
from callaudit.assets.checks import report_summary_checks
from callaudit.assets.partitions import build_partitions
from callaudit.assets.resources import AuditResource
from callaudit.assets.yearly_report import YEARLY_REPORT
from tests.graph import settings_for_test

yearly_partitions = build_partitions(settings_for_test()).yearly


def summary_from_days(warehouse_url: str, year: int) -> dict:
    """What a correct report states: the sums of the year's days."""
    days = (dt.date(year, 1, 1), dt.date(year, 12, 31))
    partner = warehouse.read_range(warehouse_url, "partner_daily", *days)
    ingest = warehouse.read_range(warehouse_url, "ingest_daily", *days)
    per_partner = partner.group_by("partner_id").agg(
        pl.col("calls", "items", "bytes").sum(), pl.len().alias("active_days")
    )
    partners = [
        {**row, "name": row["partner_id"].title(), "flagged_days": 0, "flags": {}, "fees": {}}
        for row in per_partner.sort("partner_id").iter_rows(named=True)
    ]
    return {
        "year": year,
        "partners": partners,
        "totals": {k: int(partner[k].sum()) for k in ("calls", "items", "bytes")},
        "data_quality": {
            k: int(ingest[k].sum()) for k in ("rows_read", "duplicates", "quarantined")
        },
    }


def stand_in_report(tamper=lambda summary: summary):
    @dg.asset(key=YEARLY_REPORT, partitions_def=yearly_partitions)
    def yearly_report(context: dg.AssetExecutionContext, audit: AuditResource) -> None:
        year = int(context.partition_key)
        folder = Path(audit.reports) / str(year)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "summary.json").write_text(
            json.dumps(tamper(summary_from_days(audit.warehouse, year)))
        )

    return yearly_report


def run(wh, report_asset):
    return dg.materialize(
        [report_asset, report_summary_checks(YEARLY_REPORT)],
        resources={
            "audit": AuditResource(
                archive=wh.archive, contracts=wh.contracts, warehouse=wh.url, reports=wh.reports
            )
        },
        partition_key="2022",
        raise_on_error=False,
    )


def test_a_summary_that_adds_up_passes_both_checks(clean):
    result = run(clean, stand_in_report())
    checks = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert set(checks) == {"report_summary_suite", "report_summary_matches_days"}
    assert all(e.passed for e in checks.values())


def test_a_total_that_is_not_the_sum_of_the_days_fails_naming_it(clean):
    def inflate(summary):
        summary["totals"]["calls"] += 1
        return summary

    result = run(clean, stand_in_report(inflate))
    check = next(
        e
        for e in result.get_asset_check_evaluations()
        if e.check_name == "report_summary_matches_days"
    )
    assert not check.passed
    assert (
        check.metadata["failed_expectations"].value
        == "totals_equal_sum_of_partners_and_days(calls, items, bytes)"
    )
    assert "totals.calls=" in check.metadata["failures"].value
