"""Run and event tags callaudit reads or writes, named once.

Dagster's own tags are documented strings (run tags in the UI's run filters, the data
version of an observation); Dagster exports no public constant for them, so they are
spelled here rather than imported from ``dagster._core``. A test checks that they still
equal Dagster's internal values.
"""

#: What started a run: nightly, late-data, backfill or report (callaudit's own tag).
KIND_TAG = "callaudit/kind"

#: First and last partition of a ranged run (a backfill chunk).
PARTITION_RANGE_START_TAG = "dagster/asset_partition_range_start"
PARTITION_RANGE_END_TAG = "dagster/asset_partition_range_end"
#: The partition of a single-partition run.
PARTITION_TAG = "dagster/partition"
#: The backfill a run belongs to.
BACKFILL_ID_TAG = "dagster/backfill"
#: The data version recorded by an asset observation.
DATA_VERSION_TAG = "dagster/data_version"
