"""anomaly_flags: agreement breaches and volume anomalies, one partition per day.

A day's statistical flags need the partner's previous weeks, which the run reads
itself (``history_days``, from the detection settings, in the asset's metadata). To
Dagster a flag day depends on the same day of partner_daily only: declared as a window
over earlier days, a backfill of a range selected in the UI would also select the flags
of every later day whose window covers it, and the next year's report (Dagster issue
13255). A deployment whose daemon splits backfills for parallel workers keeps the
window, which orders the chunks (``_history_dep``). The later days are not forgotten: a run recomputes the flags of the later days
whose history it changed and records them (callaudit.flags.flag_range and freshness;
the report refuses flags older than their history). A ranged run (a backfill chunk)
computes all its days in one pass and writes one partition file per day.

Flags depend on contracts.yaml and on the analysts' dismissed volume flags
(flag_reviews.yaml): each materialization records the contracts' SHA-256 and the
dismissals it applied (``FLAG_INPUTS_METADATA``), so a report built later can tell
whether its flags were computed with the inputs it reads (the report refuses stale
flags, naming the days).
"""

import datetime as dt

import dagster as dg
import polars as pl

from callaudit.assets.metadata import OWNERS, markdown_table, run_level, table_metadata
from callaudit.assets.partitions import GraphPartitions
from callaudit.assets.raw import FLAG_REVIEWS, PARTNER_CONTRACTS
from callaudit.assets.resources import AuditResource
from callaudit.contracts import contracts_warnings, load_contracts_hashed
from callaudit.dates import days_of_partition_keys
from callaudit.flags.detect import FlagResult, history_days_needed
from callaudit.flags.flag_range import flag_range
from callaudit.flags.freshness import FlagInputs, detection_sha256
from callaudit.flags.settings import DetectorSettings
from callaudit.progress import phase
from callaudit.report import early
from callaudit.reviews import dismissed_in
from callaudit.schema import ANOMALY_FLAGS, DATE_COLUMN, NETWORK_DAILY, PARTNER_DAILY, USAGE_DAILY

DESCRIPTION = (
    "One row per flag raised for a partner on a day: rule breaches of the agreement in "
    "force (no_agreement, unauthorized_app, unauthorized_endpoint, daily_call_limit, "
    "monthly_item_limit, rate_limit, restricted_network), the warning monthly_item_pace "
    "(month-to-date items on a pace to cross the monthly limit before the month ends) "
    "and volume_spike / volume_drop against the partner's own history (robust, "
    "day-of-week seasonal). Each row says "
    "what was observed, the threshold or expectation, and a line a reader can quote."
)


#: Metadata of a flag day recomputed because an earlier day it depends on was re-run:
#: the days of that run.
RECOMPUTED_WITH = "recomputed_with"

#: Metadata of each anomaly_flags materialization naming the inputs its flags used.
CONTRACTS_SHA256 = "contracts_sha256"
DISMISSED_APPLIED = "dismissed_volume_flags_applied"
FLAG_INPUTS_METADATA = (CONTRACTS_SHA256, DISMISSED_APPLIED)


def build_anomaly_flags(
    partitions: GraphPartitions, detection: DetectorSettings
) -> dg.AssetsDefinition:
    """The anomaly_flags asset for the graph's partitions and these detection settings."""
    history_days = history_days_needed(detection)

    @dg.asset(
        key=ANOMALY_FLAGS.name,
        description=DESCRIPTION,
        group_name="flags",
        owners=OWNERS,
        kinds={"polars", "parquet"},
        partitions_def=partitions.daily,
        backfill_policy=partitions.backfill_policy,
        metadata={**table_metadata(ANOMALY_FLAGS), "history_days": history_days},
        deps=[
            _history_dep(partitions, history_days),
            USAGE_DAILY.name,
            NETWORK_DAILY.name,
            PARTNER_CONTRACTS,
            FLAG_REVIEWS,
        ],
    )
    def anomaly_flags(
        context: dg.AssetExecutionContext, audit: AuditResource
    ) -> dg.MaterializeResult:
        days = days_of_partition_keys(context.partition_keys)
        settings = audit.settings()
        reviews = audit.load_reviews()
        contracts, contracts_sha256 = load_contracts_hashed(settings.contracts)
        for warning in contracts_warnings(contracts, settings.contracts):
            context.log.warning(warning)
        with phase("flags", f"{len(days)} days and their dependents", enabled=audit.progress):
            run = flag_range(
                settings.warehouse,
                days,
                contracts,
                detection,
                history_days=history_days,
                inputs=FlagInputs(
                    contracts_sha256, detection_sha256(detection), reviews.dismissed_volume()
                ),
                covered_until=_covered_until(context),
                run_id=context.run.run_id,
            )
        # A report announced to follow these flags starts now (callaudit.report.early).
        early.flags_committed(settings.warehouse, days)
        result = run.result
        if run.dependents:
            context.log.info(
                f"recomputed the flags of {len(run.dependents)} later day(s) that depend on "
                f"{days[0]}..{days[-1]}: {run.dependents[0]}..{run.dependents[-1]}"
            )
            for day in run.dependents:  # so Dagster's partition status says they are new
                context.log_event(
                    dg.AssetMaterialization(
                        asset_key=ANOMALY_FLAGS.name,
                        partition=day.isoformat(),
                        metadata={
                            RECOMPUTED_WITH: dg.MetadataValue.text(f"{days[0]}..{days[-1]}"),
                            "dagster/row_count": result.for_day(day).height,
                        },
                    )
                )
        applied = dismissed_in(
            reviews.dismissed_volume(), days[0] - dt.timedelta(days=history_days), days[-1]
        )
        inputs = {
            CONTRACTS_SHA256: dg.MetadataValue.text(contracts_sha256),
            DISMISSED_APPLIED: dg.MetadataValue.text("\n".join(applied)),
            "dependent_days_recomputed": len(run.dependents),
        }
        for day, metadata in _day_flag_metadata(result.flags, run.days).items():
            # each partition gets its day's flags over the run's totals
            context.add_asset_metadata(metadata, partition_key=day.isoformat())
        return dg.MaterializeResult(
            metadata={**run_level(_flag_metadata(result, run.written)), **inputs}
        )

    return anomaly_flags


def _history_dep(partitions: GraphPartitions, history_days: int) -> dg.AssetDep | str:
    """partner_daily as the flags depend on it for Dagster. One machine (a backfill is
    one run, or the CLI's chunks in order): the same day, so a range selected in the UI
    is exactly the range that runs. A deployment whose daemon splits backfills into runs
    for parallel workers (``backfill_run_days``): the history window, so the daemon
    starts a chunk's flags only once the tables of its whole history are written; there
    a UI backfill also selects the later flag days whose window covers the range."""
    if partitions.backfill_policy.max_partitions_per_run is None:
        return PARTNER_DAILY.name
    return dg.AssetDep(
        PARTNER_DAILY.name,
        partition_mapping=dg.TimeWindowPartitionMapping(
            start_offset=-history_days, allow_nonexistent_upstream_partitions=True
        ),
    )


#: Run tag of a backfill's chunk runs: the backfill's last day. A chunk then leaves the
#: dependent flag days up to it to the later chunks, which recompute them anyway.
BACKFILL_END_TAG = "callaudit/backfill_end"


def _covered_until(context: dg.AssetExecutionContext) -> dt.date | None:
    end = context.run.tags.get(BACKFILL_END_TAG)
    return dt.date.fromisoformat(end) if end else None


_KIND_COLUMNS = ["flag", "flags", "partners"]


def _kinds(flags: pl.DataFrame, by: list[str]) -> pl.DataFrame:
    """Flags and partners of each kind (within each ``by``), most flags first."""
    return (
        flags.group_by(*by, "flag")
        .agg(pl.len().alias("flags"), pl.col("partner_id").n_unique().alias("partners"))
        .sort([*by, "flags", "flag"], descending=[False] * len(by) + [True, False])
    )


def _by_kind(flags: pl.DataFrame) -> dg.MetadataValue:
    return markdown_table(_KIND_COLUMNS, _kinds(flags, []).rows())


def _day_flag_metadata(flags: pl.DataFrame, days: list[dt.date]) -> dict[dt.date, dict]:
    """Each day's flags, recorded on its partition: counted for all days at once (a
    year's 365 partitions one by one took 0.08 s on a quiet machine, after the flags
    were committed and before their checks)."""
    kinds: dict[dt.date, list[tuple]] = {}
    for day, *row in _kinds(flags, [DATE_COLUMN]).iter_rows():
        kinds.setdefault(day, []).append(tuple(row))
    counts = {
        day: (rows, partners)
        for day, rows, partners in flags.group_by(DATE_COLUMN)
        .agg(pl.len(), pl.col("partner_id").n_unique())
        .iter_rows()
    }
    metadata = {}
    for day in days:
        rows, partners = counts.get(day, (0, 0))
        metadata[day] = {
            "dagster/row_count": rows,
            "partners_flagged": partners,
            "flags_by_kind": markdown_table(_KIND_COLUMNS, kinds.get(day, [])),
        }
    return metadata


def _flag_metadata(result: FlagResult, days: list) -> dict:
    flags = result.flags
    examples = flags.sort("score", descending=True, nulls_last=True).head(10)
    return {
        "dagster/row_count": flags.height,
        "days": dg.MetadataValue.text(f"{days[0]} .. {days[-1]}"),
        "partners_flagged": flags["partner_id"].n_unique() if flags.height else 0,
        "flags_by_kind": _by_kind(flags),
        "examples": markdown_table(
            ["date", "partner", "flag", "detail"],
            examples.select(DATE_COLUMN, "partner_id", "flag", "detail").rows(),
        ),
        "insufficient_history_notes": result.notes.height,
    }
