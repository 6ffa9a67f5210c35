"""``freshness_sensor``: evaluates the check ``arrived_by_deadline`` after each deadline.

Dagster's ``build_time_partition_freshness_checks`` answers the same question for a
time-partitioned asset, but reads the clock itself (a test cannot give it a "now") and
has no notion of a closed archive, whose last partition is years old by design. Here
the verdict comes from callaudit.arrival for the tick's time, and the sensor records it
as an asset check evaluation whenever it changes (a day becomes late, a late day
arrives, the next day is due): once per change, not once per tick, so the check's
history in the UI is one line a night and the alert sensor sees one failure per late
day.
"""

import datetime as dt

import dagster as dg

from callaudit.arrival import NOT_APPLICABLE, NOT_DUE
from callaudit.assets.arrival import ARRIVAL_ASSET, ARRIVAL_CHECK, arrival_metadata, arrival_now
from callaudit.assets.partitions import GraphPartitions
from callaudit.settings import Settings

#: Seconds between two evaluations: a late day is seen within five minutes of its deadline.
FRESHNESS_INTERVAL_SECONDS = 300


def freshness_tick(
    instance: dg.DagsterInstance,
    cursor: str | None,
    now: dt.datetime,
    partitions: GraphPartitions,
    hour: int,
) -> dg.SensorResult | dg.SkipReason:
    """One evaluation at ``now``; the cursor is the last recorded ``day:status``."""
    verdict = arrival_now(instance, now, partitions, hour)
    if verdict.status in (NOT_APPLICABLE, NOT_DUE):
        return dg.SkipReason(verdict.text)
    recorded = f"{verdict.day.isoformat()}:{verdict.status}"
    if cursor == recorded:
        return dg.SkipReason(f"unchanged since the last evaluation: {verdict.text}")
    evaluation = dg.AssetCheckEvaluation(
        asset_key=ARRIVAL_ASSET,
        check_name=ARRIVAL_CHECK,
        passed=verdict.passed,
        severity=dg.AssetCheckSeverity.ERROR,
        description=verdict.text,
        metadata=arrival_metadata(verdict),
    )
    return dg.SensorResult(asset_events=[evaluation], cursor=recorded)


def build_freshness_sensor(settings: Settings, partitions: GraphPartitions) -> dg.SensorDefinition:
    """Running when automation is on or alerts are configured (a late night must reach
    the operator), stopped otherwise, like the other sensors."""
    running = settings.automation_running or settings.alerts_configured
    hour = settings.freshness_hour

    @dg.sensor(
        name="freshness_sensor",
        minimum_interval_seconds=FRESHNESS_INTERVAL_SECONDS,
        default_status=dg.DefaultSensorStatus.RUNNING
        if running
        else dg.DefaultSensorStatus.STOPPED,
        description=(
            f"After {hour:02d}:00 UTC each day, records whether yesterday's daily tables are in "
            "(check arrived_by_deadline on ingest_daily): failed while the day is missing, "
            "passed once it is in. Skips a closed archive."
        ),
    )
    def freshness_sensor(context: dg.SensorEvaluationContext):
        return freshness_tick(
            context.instance, context.cursor, dt.datetime.now(dt.UTC), partitions, hour
        )

    return freshness_sensor
