"""The daily tables, computed from one pass over each day's raw files.

One multi-asset materialises usage_daily, partner_daily, network_daily, ingest_daily and
quarantine together: reading a day's raw rows is the expensive part, so it is done once
for all of them. A run may cover a range of days (a backfill chunk); each day is written
as its own partition files, two days at a time.
"""

import dagster as dg

from assets.metadata import OWNERS, markdown_table, table_metadata
from assets.partitions import daily_backfill_policy, daily_partitions
from assets.resources import CallauditConfig
from callaudit.daily import DayFailure, DayResult, process_days
from callaudit.dates import days_of_partition_keys
from callaudit.progress import Progress
from callaudit.schema import (
    INGEST_DAILY,
    NETWORK_DAILY,
    PARTNER_DAILY,
    QUARANTINE,
    QUARANTINE_REASONS,
    USAGE_DAILY,
    Table,
)

_GROUPS = {
    "usage_daily": "usage",
    "partner_daily": "usage",
    "network_daily": "usage",
    "ingest_daily": "ingest",
    "quarantine": "ingest",
}


def _spec(table: Table) -> dg.AssetSpec:
    return dg.AssetSpec(
        key=table.name,
        description=table.description,
        group_name=_GROUPS[table.name],
        owners=OWNERS,
        kinds={"polars", "parquet"},
        deps=["raw_call_logs", "partner_contracts"],
        metadata=table_metadata(table),
        partitions_def=daily_partitions,
    )


DAILY_SPECS = [
    _spec(t) for t in (USAGE_DAILY, PARTNER_DAILY, NETWORK_DAILY, INGEST_DAILY, QUARANTINE)
]


def _range_metadata(results: list[DayResult]) -> dict[str, dict]:
    """Per-asset metadata summarising the days this run wrote."""
    totals = {
        key: sum(r.ingest[key] for r in results)
        for key in ("files", "rows_read", "rows_valid", "duplicates", "quarantined")
    }
    by_reason = {r: sum(d.ingest[f"quarantined_{r}"] for d in results) for r in QUARANTINE_REASONS}
    partner_totals: dict[str, list[int]] = {}
    for result in results:
        for partner_id, calls, items in result.top_partners:
            acc = partner_totals.setdefault(partner_id, [0, 0])
            acc[0] += calls
            acc[1] += items
    top = sorted(partner_totals.items(), key=lambda kv: kv[1][0], reverse=True)[:10]
    gaps = [f for r in results for f in r.skipped_files]
    days = f"{results[0].day} .. {results[-1].day}" if results else "none"
    common = {"days": dg.MetadataValue.text(days), "day_count": len(results)}
    # Summed over days (which run two at a time), for benchmarks' time split.
    seconds = {
        f"seconds_{part}": round(sum(r.seconds.get(part, 0.0) for r in results), 3)
        for part in ("read", "dedup", "aggregate", "write")
    }
    rows = lambda table: sum(r.rows[table] for r in results)  # noqa: E731
    return {
        "usage_daily": {
            **common,
            "dagster/row_count": rows("usage_daily"),
            "calls": totals["rows_valid"],
            **seconds,
            "top_partners": markdown_table(
                ["partner", "calls", "items"], [(p, c, i) for p, (c, i) in top]
            ),
        },
        "partner_daily": {**common, "dagster/row_count": rows("partner_daily")},
        "network_daily": {**common, "dagster/row_count": rows("network_daily")},
        "ingest_daily": {
            **common,
            "dagster/row_count": rows("ingest_daily"),
            **{f"{k}": v for k, v in totals.items()},
            "quarantined_by_reason": markdown_table(
                ["reason", "rows"], sorted(by_reason.items(), key=lambda kv: -kv[1])
            ),
            "data_gaps": dg.MetadataValue.md(
                "\n".join(f"- `{g}`" for g in gaps) if gaps else "none"
            ),
        },
        "quarantine": {**common, "dagster/row_count": rows("quarantine"), **by_reason},
    }


@dg.multi_asset(
    name="daily_tables",
    specs=DAILY_SPECS,
    partitions_def=daily_partitions,
    backfill_policy=daily_backfill_policy,
    description="Reads each day's raw call logs once and writes the five day-grain tables.",
)
def daily_tables(context: dg.AssetExecutionContext, callaudit: CallauditConfig):
    days = days_of_partition_keys(context.partition_keys)
    contracts = callaudit.load_contracts()
    progress = Progress(len(days), "days", enabled=callaudit.progress)

    def on_day(outcome: DayResult | DayFailure) -> None:
        if isinstance(outcome, DayFailure):
            context.log.error(f"{outcome.day}: {outcome.error}")
            progress.advance(1, failed=str(outcome.day))
            return
        # No log event per day: each is a write to the instance's event log, which cost
        # more than processing a small day. The run's metadata sums the range instead.
        stats = outcome.ingest
        progress.advance(1, rows=stats["rows_read"])

    results, failures = process_days(
        callaudit.archive,
        callaudit.warehouse,
        days,
        contracts.restricted_networks,
        skip_corrupt_files=callaudit.skip_corrupt_files,
        workers=callaudit.workers,
        on_day=on_day,
    )
    progress.close()
    context.log.info(
        f"{len(results)} days written, {len(failures)} failed: "
        f"{sum(r.ingest['rows_read'] for r in results):,} rows read"
    )
    if failures:
        # Good days were written: record them so partition status stays true.
        for result in results:
            for spec in DAILY_SPECS:
                context.log_event(
                    dg.AssetMaterialization(
                        asset_key=spec.key,
                        partition=result.day.isoformat(),
                        metadata={"rows_read": result.ingest["rows_read"]},
                    )
                )
        listed = "; ".join(f"{f.day}: {f.error}" for f in failures)
        raise dg.Failure(
            description=f"{len(failures)} of {len(days)} days failed, previous partitions kept: {listed}",
            metadata={
                "failed_days": dg.MetadataValue.text(", ".join(str(f.day) for f in failures))
            },
        )
    metadata = _range_metadata(results)
    for spec in DAILY_SPECS:
        yield dg.MaterializeResult(asset_key=spec.key, metadata=metadata[spec.key.path[-1]])
