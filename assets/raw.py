"""External inputs of the graph: the raw call-log archive and the agreements file.

They are not computed here, but showing them in the graph says where the numbers come
from and lets Dagster mark downstream partitions stale when they change. Their data
versions are recorded as observations by ``late_data_sensor`` (pipelines/sensors.py),
which lists the archive once per tick: a day's version is a fingerprint of its files'
names, sizes and modification times (callaudit/archive_scan.py), the agreements
file's version a hash of its content. Observing from the sensor keeps one listing per
scan for every day, rather than one observation run per partition.
"""

import dagster as dg

from callaudit.assets.metadata import OWNERS

RAW_CALL_LOGS = dg.AssetKey("raw_call_logs")
PARTNER_CONTRACTS = dg.AssetKey("partner_contracts")
FLAG_REVIEWS = dg.AssetKey("flag_reviews")


def build_raw_call_logs(daily: dg.PartitionsDefinition) -> dg.AssetSpec:
    """The archive, one partition per day folder."""
    return dg.AssetSpec(
        key=RAW_CALL_LOGS,
        description=(
            "The platform's raw API call logs: hive-style daily folders "
            "`<archive>/date=YYYY-MM-DD/*.parquet` written by the log shipper (at-least-once, "
            "late files possible). Read-only input of callaudit. Each day's data version is a "
            "fingerprint of its files (names, sizes, modification times), recorded by "
            "`late_data_sensor`: when files arrive late, the day's downstream partitions turn "
            "stale and the sensor re-runs that day."
        ),
        group_name="ingest",
        owners=OWNERS,
        kinds={"parquet", "s3"},
        partitions_def=daily,
        metadata={
            "layout": dg.MetadataValue.md(
                "`<archive>/date=YYYY-MM-DD/*.parquet`, one folder per UTC day"
            ),
            "observed_by": dg.MetadataValue.text("late_data_sensor"),
        },
    )


partner_contracts = dg.AssetSpec(
    key=PARTNER_CONTRACTS,
    description=(
        "contracts.yaml: each partner's agreements (authorised apps and endpoints, daily, "
        "per-minute and monthly limits, pricing, allowed restricted networks). Changing it "
        "makes the flags and reports stale: its data version is a hash of the file, "
        "recorded by `late_data_sensor`."
    ),
    group_name="ingest",
    owners=OWNERS,
    kinds={"yaml"},
    metadata={"observed_by": dg.MetadataValue.text("late_data_sensor")},
)


flag_reviews = dg.AssetSpec(
    key=FLAG_REVIEWS,
    description=(
        "flag_reviews.yaml, beside contracts.yaml (CALLAUDIT_REVIEWS): an analyst's review "
        "of each flag (confirmed or dismissed, note, reviewer, date). The report shows the "
        "reviews and leaves dismissed flags out of its findings; a dismissed volume_spike "
        "or volume_drop counts as a normal day for the volume detector, so it can change "
        "later days' flags. Each anomaly_flags materialization records the dismissals it "
        "applied, and the report refuses flags computed with other ones."
    ),
    group_name="ingest",
    owners=OWNERS,
    kinds={"yaml"},
)
