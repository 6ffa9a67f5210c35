"""The daily tables, computed from one pass over each day's raw files.

One multi-asset materialises usage_daily, partner_daily, network_daily, ingest_daily and
quarantine together: reading a day's raw rows is the expensive part, so it is done once
for all of them. A run may cover a range of days (a backfill chunk); each day is written
as its own partition files, two days at a time.
"""

import dagster as dg

from callaudit.archive_scan import OddFolderError, check_folders
from callaudit.assets.metadata import (
    OWNERS,
    add_partition_metadata,
    markdown_table,
    run_level,
    table_metadata,
)
from callaudit.assets.partitions import GraphPartitions
from callaudit.assets.raw import (
    PARTNER_CONTRACTS,
    RAW_CALL_LOGS,
    file_observations,
    record_days_read,
)
from callaudit.assets.resources import AuditResource
from callaudit.assets.run_guard import close_abandoned_runs, holding_days, overlapping_runs
from callaudit.contracts import load_contracts_hashed
from callaudit.dates import days_of_partition_keys
from callaudit.incremental import TableInputs
from callaudit.progress import Progress, phase
from callaudit.raw_to_tables import DAILY_TABLES, DayFailure, DayResult, process_days
from callaudit.schema import (
    INGEST_DAILY,
    NETWORK_DAILY,
    PARTNER_DAILY,
    QUARANTINE,
    QUARANTINE_REASONS,
    USAGE_DAILY,
    Table,
)
from callaudit.validation import start_daily_tables
from callaudit.validation.runner import warm_up

#: UI group of each table written from one pass over a day's raw files.
TABLE_GROUPS: dict[str, str] = {
    USAGE_DAILY.name: "usage",
    PARTNER_DAILY.name: "usage",
    NETWORK_DAILY.name: "usage",
    INGEST_DAILY.name: "ingest",
    QUARANTINE.name: "ingest",
}


def _spec(table: Table, daily: dg.PartitionsDefinition) -> dg.AssetSpec:
    return dg.AssetSpec(
        key=table.name,
        description=table.description,
        group_name=TABLE_GROUPS[table.name],
        owners=OWNERS,
        kinds={"polars", "parquet"},
        deps=[RAW_CALL_LOGS, PARTNER_CONTRACTS],
        metadata=table_metadata(table),
        partitions_def=daily,
    )


def _day_metadata(result: DayResult) -> dict[str, dict]:
    """Per-asset metadata of one day, recorded on that day's partition: what the UI
    shows beside a partition is the day's own row count, not its run's."""
    gap = {"data_gap": dg.MetadataValue.text(result.gap or "none")}
    rows = lambda table: {"dagster/row_count": result.rows[table], **gap}  # noqa: E731
    by_reason = {r: result.ingest[f"quarantined_{r}"] for r in QUARANTINE_REASONS}
    ingest = ("files", "rows_read", "rows_valid", "duplicates", "quarantined")
    return {
        USAGE_DAILY.name: {
            **rows(USAGE_DAILY.name),
            "calls": result.ingest["rows_valid"],
            "top_partners": markdown_table(["partner", "calls", "items"], result.top_partners),
        },
        PARTNER_DAILY.name: rows(PARTNER_DAILY.name),
        NETWORK_DAILY.name: rows(NETWORK_DAILY.name),
        INGEST_DAILY.name: {
            **rows(INGEST_DAILY.name),
            **{key: result.ingest[key] for key in ingest},
            "skipped_files": dg.MetadataValue.text(", ".join(result.skipped_files) or "none"),
        },
        QUARANTINE.name: {**rows(QUARANTINE.name), **by_reason},
    }


def _range_metadata(results: list[DayResult]) -> dict[str, dict]:
    """Per-asset metadata summarising the days this run wrote (run-level keys)."""
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
    gaps = [f"{r.day}: {r.gap}" for r in results if r.gap]
    gaps += [f for r in results if not r.gap for f in r.skipped_files]
    days = f"{results[0].day} .. {results[-1].day}" if results else "none"
    common = {
        "days": dg.MetadataValue.text(days),
        "day_count": len(results),
        "data_gap_days": sum(1 for r in results if r.gap),
        # days above CALLAUDIT_DAY_SLICE_ROWS raw rows, computed in request_id slices
        "sliced_days": sum(1 for r in results if r.slices > 1),
    }
    # Summed over days (which run two at a time), for benchmarks' time split.
    seconds = {
        f"seconds_{part}": round(sum(r.seconds.get(part, 0.0) for r in results), 3)
        for part in ("read", "dedup", "aggregate", "write", "hash")
    }
    rows = lambda table: sum(r.rows[table] for r in results)  # noqa: E731
    return {
        USAGE_DAILY.name: {
            **common,
            "dagster/row_count": rows(USAGE_DAILY.name),
            "calls": totals["rows_valid"],
            **seconds,
            "top_partners": markdown_table(
                ["partner", "calls", "items"], [(p, c, i) for p, (c, i) in top]
            ),
        },
        PARTNER_DAILY.name: {**common, "dagster/row_count": rows(PARTNER_DAILY.name)},
        NETWORK_DAILY.name: {**common, "dagster/row_count": rows(NETWORK_DAILY.name)},
        INGEST_DAILY.name: {
            **common,
            "dagster/row_count": rows(INGEST_DAILY.name),
            **{f"{k}": v for k, v in totals.items()},
            "quarantined_by_reason": markdown_table(
                ["reason", "rows"], sorted(by_reason.items(), key=lambda kv: -kv[1])
            ),
            "data_gaps": dg.MetadataValue.md(
                "\n".join(f"- `{g}`" for g in gaps) if gaps else "none"
            ),
        },
        QUARANTINE.name: {**common, "dagster/row_count": rows(QUARANTINE.name), **by_reason},
    }


def gaps_line(gaps: list[DayResult]) -> str:
    """One warning line naming the days without raw data and why."""
    listed = "; ".join(f"{r.day} ({r.gap})" for r in gaps[:10])
    more = f"; and {len(gaps) - 10} more" if len(gaps) > 10 else ""
    return (
        f"data gaps: {len(gaps)} day(s) with no raw data, committed without tables, so any "
        f"figure over them is a lower bound: {listed}{more}"
    )


def build_daily_tables(partitions: GraphPartitions) -> dg.AssetsDefinition:
    """The multi-asset writing the five day-grain tables, for the graph's partitions."""
    specs = [_spec(table, partitions.daily) for table in DAILY_TABLES]

    @dg.multi_asset(
        name="daily_tables",
        specs=specs,
        partitions_def=partitions.daily,
        backfill_policy=partitions.backfill_policy,
        description="Reads each day's raw call logs once and writes the five day-grain tables.",
    )
    def daily_tables(context: dg.AssetExecutionContext, audit: AuditResource):
        # the days' writer lock in the warehouse: one writer per day across instances
        days = days_of_partition_keys(context.partition_keys)
        with holding_days(context, audit.settings(), days):
            yield from _materialize_days(context, audit, specs)

    return daily_tables


def _materialize_days(
    context: dg.AssetExecutionContext, audit: AuditResource, specs: list[dg.AssetSpec]
):
    days = days_of_partition_keys(context.partition_keys)
    settings = audit.settings()
    contracts, contracts_sha256 = load_contracts_hashed(settings.contracts)
    # One writer per day: a run killed earlier is closed, an overlapping one refused.
    for closed in close_abandoned_runs(context.instance):
        context.log.warning(closed)
    others = overlapping_runs(
        context.instance, days, settings.warehouse, this_run=context.run.run_id
    )
    if others:
        raise dg.Failure(
            description=(
                f"another run is writing days of {days[0]}..{days[-1]} into "
                f"{settings.warehouse}: {'; '.join(others)}. Refusing to run alongside it: "
                "wait for it to finish, or cancel it"
            )
        )
    try:  # odd folders (date=2022-02-30) inside the run's days fail it, naming them
        for warning in check_folders(settings.archive, days[0], days[-1]):
            context.log.warning(warning)
    except OddFolderError as exc:
        raise dg.Failure(description=str(exc)) from None
    record_days_read(
        context,
        settings.archive,
        days,
        file_observations(settings.contracts, settings.reviews_location),
    )
    warm_up()  # the checks' GX, imported in its worker process while the days run
    progress = Progress(len(days), "days", enabled=audit.progress)

    def on_day(outcome: DayResult | DayFailure) -> None:
        if isinstance(outcome, DayFailure):
            context.log.error(f"{outcome.day}: {outcome.error}")
            progress.advance(1, failed=str(outcome.day))
            return
        # No log event per day: each is a write to the instance's event log, which cost
        # more than processing a small day. The run's metadata sums the range instead.
        progress.advance(1, rows=outcome.ingest["rows_read"])

    results, failures = process_days(
        settings.archive,
        settings.warehouse,
        days,
        contracts.restricted_networks,
        skip_corrupt_files=settings.skip_corrupt_files,
        fail_on_gaps=settings.fail_on_gaps,
        workers=settings.workers,
        slice_rows=settings.day_slice_rows,
        on_day=on_day,
        # recorded with each day's commit, so a later run can skip it while they hold
        inputs=TableInputs(
            settings.archive,
            contracts_sha256,
            settings.skip_corrupt_files,
            settings.fail_on_gaps,
        ),
    )
    progress.close()
    gaps = [r for r in results if r.gap]
    context.log.info(
        f"{len(results) - len(gaps)} days written, {len(gaps)} data gaps, {len(failures)} "
        f"failed: {sum(r.ingest['rows_read'] for r in results):,} rows read"
    )
    if gaps:
        context.log.warning(gaps_line(gaps))
    if failures:
        # Good days were written: record them so partition status stays true.
        for result in results:
            for spec in specs:
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
    start_daily_tables(settings.warehouse, days)  # their checks, in the worker, from now
    metadata = _range_metadata(results)
    add_partition_metadata(  # each partition gets its day's figures over the run's totals
        context,
        {
            (table, result.day.isoformat()): values
            for result in results
            for table, values in _day_metadata(result).items()
        },
    )
    # Dagster writes one event per partition of each table as these are yielded.
    events = f"recording {len(specs)} tables x {len(days)} days in the instance"
    with phase("events", events, enabled=audit.progress):
        for spec in specs:
            yield dg.MaterializeResult(
                asset_key=spec.key, metadata=run_level(metadata[spec.key.path[-1]])
            )
