"""anomaly_flags: agreement breaches and volume anomalies, one partition per day.

A day's statistical flags need the partner's previous weeks, so the asset declares a
time-window dependency on earlier partner_daily partitions: Dagster knows a flag day is
stale when its history changes. A ranged run (a backfill chunk) computes all its days
in one pass and writes one partition file per day.
"""

import datetime as dt
import os

import dagster as dg
import polars as pl

from assets.metadata import OWNERS, markdown_table, table_metadata
from assets.partitions import daily_backfill_policy, daily_partitions
from assets.resources import CallauditConfig
from callaudit import warehouse
from callaudit.dates import days_of_partition_keys
from callaudit.flags.detect import detect_flags, history_days_needed
from callaudit.flags.settings import load_detection_settings
from callaudit.schema import ANOMALY_FLAGS, DATE_COLUMN

#: Days of partner_daily history a flag day depends on (from the detection settings).
HISTORY_DAYS = history_days_needed(
    load_detection_settings(os.environ.get("CALLAUDIT_DETECTION") or None)
)


@dg.asset(
    key="anomaly_flags",
    description=(
        "One row per flag raised for a partner on a day: rule breaches of the agreement in "
        "force (no_agreement, unauthorized_app, unauthorized_endpoint, daily_call_limit, "
        "monthly_item_limit, rate_limit, restricted_network) and volume_spike / volume_drop "
        "against the partner's own history (robust, day-of-week seasonal). Each row says "
        "what was observed, the threshold or expectation, and a line a reader can quote."
    ),
    group_name="flags",
    owners=OWNERS,
    kinds={"polars", "parquet"},
    partitions_def=daily_partitions,
    backfill_policy=daily_backfill_policy,
    metadata={**table_metadata(ANOMALY_FLAGS), "history_days": HISTORY_DAYS},
    deps=[
        dg.AssetDep(
            "partner_daily",
            partition_mapping=dg.TimeWindowPartitionMapping(
                start_offset=-HISTORY_DAYS, allow_nonexistent_upstream_partitions=True
            ),
        ),
        "usage_daily",
        "network_daily",
        "partner_contracts",
    ],
)
def anomaly_flags(
    context: dg.AssetExecutionContext, callaudit: CallauditConfig
) -> dg.MaterializeResult:
    days = days_of_partition_keys(context.partition_keys)
    start, end = days[0], days[-1]
    contracts = callaudit.load_contracts()
    settings = load_detection_settings(callaudit.detection_settings or None)
    history_start = start - dt.timedelta(days=history_days_needed(settings))
    wh = callaudit.warehouse
    result = detect_flags(
        start,
        end,
        warehouse.read_range(wh, "partner_daily", history_start, end),
        warehouse.read_range(wh, "usage_daily", start, end),
        warehouse.read_range(wh, "network_daily", start, end),
        contracts,
        settings,
    )
    flags = result.flags
    for day in days:
        day_flags = flags.filter(pl.col(DATE_COLUMN) == day).drop(DATE_COLUMN)
        warehouse.write_partition(wh, ANOMALY_FLAGS, day, day_flags)

    by_kind = flags.group_by("flag").agg(
        pl.len().alias("flags"), pl.col("partner_id").n_unique().alias("partners")
    )
    examples = flags.sort("score", descending=True, nulls_last=True).head(10)
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": flags.height,
            "days": dg.MetadataValue.text(f"{start} .. {end}"),
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
    )
