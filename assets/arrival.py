"""The freshness check: yesterday's daily tables in by a deadline hour (callaudit.arrival).

One check, ``arrived_by_deadline`` on ``ingest_daily``: a day's five tables are
committed together (callaudit.manifests), and a day counts as processed once
``ingest_daily`` has a materialization for it, so that one asset answers for all of
them. The check is not part of any run that writes days (a nightly run at 02:00 would
check the day before the one it writes); the sensor ``freshness_sensor``
(callaudit.pipelines.arrival) evaluates it after each deadline and records the outcome,
and it can be executed from the UI at any time.
"""

import datetime as dt

import dagster as dg

from callaudit.arrival import Arrival, arrival
from callaudit.assets.partitions import GraphPartitions
from callaudit.schema import INGEST_DAILY

#: The asset the check sits on, and the check's name.
ARRIVAL_ASSET = dg.AssetKey(INGEST_DAILY.name)
ARRIVAL_CHECK = "arrived_by_deadline"
ARRIVAL_CHECK_KEY = dg.AssetCheckKey(ARRIVAL_ASSET, ARRIVAL_CHECK)


def present_days(instance: dg.DagsterInstance) -> set[dt.date]:
    """The days ``ingest_daily`` has a materialization for, as the instance records them."""
    return {dt.date.fromisoformat(k) for k in instance.get_materialized_partitions(ARRIVAL_ASSET)}


def arrival_now(
    instance: dg.DagsterInstance, now: dt.datetime, partitions: GraphPartitions, hour: int
) -> Arrival:
    """The check's verdict at ``now`` for the graph's partition window."""
    return arrival(
        now,
        hour,
        present_days(instance),
        first_day=partitions.first_day,
        last_day=partitions.last_day,
    )


def arrival_metadata(verdict: Arrival) -> dict[str, str]:
    return {
        "status": verdict.status,
        "day": verdict.day.isoformat() if verdict.day else "",
        "deadline": verdict.deadline.isoformat() if verdict.deadline else "",
    }


def build_arrival_check(partitions: GraphPartitions, hour: int) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        asset=ARRIVAL_ASSET,
        name=ARRIVAL_CHECK,
        blocking=False,
        description=(
            f"Yesterday's daily tables are in by {hour:02d}:00 UTC (CALLAUDIT_FRESHNESS_HOUR): "
            "fails when that day is still missing after the deadline. Evaluated by "
            "freshness_sensor after each deadline; not applicable to a closed archive."
        ),
    )
    def arrived_by_deadline(context: dg.AssetCheckExecutionContext) -> dg.AssetCheckResult:
        verdict = arrival_now(context.instance, dt.datetime.now(dt.UTC), partitions, hour)
        return dg.AssetCheckResult(
            passed=verdict.passed,
            severity=dg.AssetCheckSeverity.ERROR,
            description=verdict.text,
            metadata=arrival_metadata(verdict),
        )

    return arrived_by_deadline
