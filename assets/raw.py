"""External inputs of the graph: the raw call-log archive and the agreements file.

They are not computed here, but showing them in the graph says where the numbers come
from and lets Dagster mark downstream partitions stale when they change.
"""

import dagster as dg

from assets.metadata import OWNERS
from assets.partitions import daily_partitions

raw_call_logs = dg.AssetSpec(
    key="raw_call_logs",
    description=(
        "The platform's raw API call logs: hive-style daily folders "
        "`<archive>/date=YYYY-MM-DD/*.parquet` written by the log shipper (at-least-once, "
        "late files possible). Read-only input of callaudit."
    ),
    group_name="ingest",
    owners=OWNERS,
    kinds={"parquet", "s3"},
    partitions_def=daily_partitions,
)

partner_contracts = dg.AssetSpec(
    key="partner_contracts",
    description=(
        "contracts.yaml: each partner's agreements (authorised apps and endpoints, daily, "
        "per-minute and monthly limits, pricing, allowed restricted networks). Changing it "
        "makes the flags and reports stale."
    ),
    group_name="ingest",
    owners=OWNERS,
    kinds={"yaml"},
)
