"""Flagging a range of days from the warehouse: read, detect, commit one partition a day.

The flags asset hands all of its I/O here, as the daily tables hand theirs to
``callaudit.raw_to_tables``: it reads ``history_days`` of partner_daily before the range
(the window the asset declares to Dagster, passed in so the two cannot disagree) and the
range's usage and network tables, all from one snapshot of the days' commits, and
replaces each day's anomaly_flags partition. Each day's commit records what its flags
were computed from (callaudit.flags.freshness), so a report can refuse stale ones.

The days after the range whose flags depend on it (the rest of a month, the volume
history window) are recomputed in the same pass when their flags exist: re-running a
late day never leaves the month-to-date or volume flags of the following days stale.
Dismissed volume flags (callaudit.reviews) of the range and its history are applied:
those days count as normal for the volume detector.
"""

import datetime as dt
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from callaudit import warehouse
from callaudit.contracts import Contracts
from callaudit.flags.detect import FlagResult, detect_flags
from callaudit.flags.freshness import INPUTS, FlagInputs, dependent_days
from callaudit.flags.settings import DetectorSettings
from callaudit.schema import ANOMALY_FLAGS, NETWORK_DAILY, PARTNER_DAILY, USAGE_DAILY

#: Days committed at once.
_WRITERS = 4


@dataclass(frozen=True)
class FlagRun:
    """What a flags run computed: ``result`` over the range and its dependents, the
    range's ``days`` and the later ``dependents`` it recomputed."""

    result: FlagResult
    days: list[dt.date]
    dependents: list[dt.date]

    @property
    def written(self) -> list[dt.date]:
        return [*self.days, *self.dependents]


def flag_range(
    warehouse_url: str,
    days: list[dt.date],
    contracts: Contracts,
    detection: DetectorSettings,
    *,
    history_days: int,
    inputs: FlagInputs,
    follow: bool = True,
    covered_until: dt.date | None = None,
    run_id: str | None = None,
) -> FlagRun:
    """Detect the flags of ``days`` (consecutive, sorted) and commit one anomaly_flags
    partition per day, empty days included, so every day of the range is accounted for.

    With ``follow``, the later days whose flags exist and depend on the range are
    recomputed too (``covered_until``: days a later run of the same backfill redoes).
    ``inputs`` are the contracts, detection settings and dismissals in use; they are
    recorded with each day, with the commits of the daily tables read.
    """
    start, end = days[0], days[-1]
    dependents = (
        dependent_days(warehouse_url, end, history_days, covered_until=covered_until)
        if follow
        else []
    )
    last = dependents[-1] if dependents else end
    frames, daily = warehouse.read_snapshot(
        warehouse_url,
        {
            PARTNER_DAILY: (start - dt.timedelta(days=history_days), last),
            USAGE_DAILY: (start, last),
            NETWORK_DAILY: (start, last),
        },
    )
    result = detect_flags(
        start,
        last,
        frames[PARTNER_DAILY.name],
        frames[USAGE_DAILY.name],
        frames[NETWORK_DAILY.name],
        contracts,
        detection,
        dismissed=inputs.dismissed,
    )

    def commit(day: dt.date) -> None:
        info = {INPUTS: inputs.record(day, history_days, daily)}
        if run_id:
            info["run_id"] = run_id
        warehouse.commit_day(
            warehouse_url, ANOMALY_FLAGS.name, day, {ANOMALY_FLAGS: result.for_day(day)}, info=info
        )

    # Each day is its own commit, mostly file writes that release the GIL: a year's
    # 365 commits took 0.5 s one after the other.
    with ThreadPoolExecutor(_WRITERS) as pool:
        for _ in pool.map(commit, [*days, *dependents]):
            pass
    return FlagRun(result, list(days), dependents)
