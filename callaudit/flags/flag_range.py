"""Flagging a range of days from the warehouse: read, detect, write one partition a day.

The flags asset hands all of its I/O here, as the daily tables hand theirs to
``callaudit.raw_to_tables``: it reads ``history_days`` of partner_daily before the range
(the window the asset declares to Dagster, passed in so the two cannot disagree) and the
range's usage and network tables, and replaces each day's anomaly_flags partition.
"""

import datetime as dt

from callaudit import warehouse
from callaudit.contracts import Contracts
from callaudit.flags.detect import FlagResult, detect_flags
from callaudit.flags.settings import DetectorSettings
from callaudit.schema import ANOMALY_FLAGS, NETWORK_DAILY, PARTNER_DAILY, USAGE_DAILY


def flag_range(
    warehouse_url: str,
    days: list[dt.date],
    contracts: Contracts,
    detection: DetectorSettings,
    *,
    history_days: int,
) -> FlagResult:
    """Detect the flags of ``days`` (consecutive, sorted) and write one anomaly_flags
    partition per day, empty days included, so every day of the range is accounted for."""
    start, end = days[0], days[-1]
    history_start = start - dt.timedelta(days=history_days)
    result = detect_flags(
        start,
        end,
        warehouse.read_range(warehouse_url, PARTNER_DAILY, history_start, end),
        warehouse.read_range(warehouse_url, USAGE_DAILY, start, end),
        warehouse.read_range(warehouse_url, NETWORK_DAILY, start, end),
        contracts,
        detection,
    )
    for day in days:
        warehouse.write_partition(warehouse_url, ANOMALY_FLAGS, day, result.for_day(day))
    return result
