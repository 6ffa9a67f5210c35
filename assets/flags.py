"""anomaly_flags: agreement breaches and volume anomalies, one partition per day.

A day's statistical flags need the partner's previous weeks, so the asset declares a
time-window dependency on earlier partner_daily partitions: Dagster knows a flag day is
stale when its history changes. A ranged run (a backfill chunk) computes all its days
in one pass and writes one partition file per day (callaudit.flags.flag_range).

The history window declared to Dagster and the one the run reads are one value,
computed from the detection settings when the definitions are built.
"""

import dagster as dg
import polars as pl

from callaudit.assets.metadata import OWNERS, markdown_table, table_metadata
from callaudit.assets.partitions import GraphPartitions
from callaudit.assets.raw import PARTNER_CONTRACTS
from callaudit.assets.resources import AuditResource
from callaudit.dates import days_of_partition_keys
from callaudit.flags.detect import FlagResult, history_days_needed
from callaudit.flags.flag_range import flag_range
from callaudit.flags.settings import DetectorSettings
from callaudit.schema import ANOMALY_FLAGS, DATE_COLUMN, NETWORK_DAILY, PARTNER_DAILY, USAGE_DAILY

DESCRIPTION = (
    "One row per flag raised for a partner on a day: rule breaches of the agreement in "
    "force (no_agreement, unauthorized_app, unauthorized_endpoint, daily_call_limit, "
    "monthly_item_limit, rate_limit, restricted_network) and volume_spike / volume_drop "
    "against the partner's own history (robust, day-of-week seasonal). Each row says "
    "what was observed, the threshold or expectation, and a line a reader can quote."
)


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
            dg.AssetDep(
                PARTNER_DAILY.name,
                partition_mapping=dg.TimeWindowPartitionMapping(
                    start_offset=-history_days, allow_nonexistent_upstream_partitions=True
                ),
            ),
            USAGE_DAILY.name,
            NETWORK_DAILY.name,
            PARTNER_CONTRACTS,
        ],
    )
    def anomaly_flags(
        context: dg.AssetExecutionContext, audit: AuditResource
    ) -> dg.MaterializeResult:
        days = days_of_partition_keys(context.partition_keys)
        result = flag_range(
            audit.settings().warehouse,
            days,
            audit.load_contracts(),
            detection,
            history_days=history_days,
        )
        return dg.MaterializeResult(metadata=_flag_metadata(result, days))

    return anomaly_flags


def _flag_metadata(result: FlagResult, days: list) -> dict:
    flags = result.flags
    by_kind = flags.group_by("flag").agg(
        pl.len().alias("flags"), pl.col("partner_id").n_unique().alias("partners")
    )
    examples = flags.sort("score", descending=True, nulls_last=True).head(10)
    return {
        "dagster/row_count": flags.height,
        "days": dg.MetadataValue.text(f"{days[0]} .. {days[-1]}"),
        "partners_flagged": flags["partner_id"].n_unique() if flags.height else 0,
        "flags_by_kind": markdown_table(
            ["flag", "flags", "partners"], by_kind.sort("flags", descending=True).rows()
        ),
        "examples": markdown_table(
            ["date", "partner", "flag", "detail"],
            examples.select(DATE_COLUMN, "partner_id", "flag", "detail").rows(),
        ),
        "insufficient_history_notes": result.notes.height,
    }
