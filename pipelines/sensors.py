"""Sensors: late raw files, and the yearly report after a day is (re)computed.

``late_data_sensor`` lists the raw archive once per tick and fingerprints each day folder
(file names, sizes, modification times). A day whose fingerprint changed since the last
tick gets a new data version on ``raw_call_logs``, so the UI shows its downstream
partitions as stale, and, if that day was already processed, a run of ``daily_job`` for
it. Days never processed are left to the nightly schedule and to backfills: they show
as missing partitions, and a sensor that launched one run per new day would flood the
run queue while an archive is being copied in.

``report_after_daily_run`` refreshes the year's report when a nightly or late-data run
of ``daily_job`` succeeds. Backfill runs are left alone: a backfill selects the report
itself (UI) or builds it at the end (CLI), once rather than once per chunk.
"""

import datetime as dt
import importlib.util
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field

import dagster as dg
from dagster._core.definitions.data_version import DATA_VERSION_TAG
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
    BACKFILL_ID_TAG,
    PARTITION_NAME_TAG,
)

from assets.partitions import FIRST_DAY, LAST_DAY
from assets.resources import CallauditConfig
from callaudit import storage
from callaudit.archive_scan import NO_FILES, DayFiles, changed_days, content_hash, scan_days
from pipelines.jobs import daily_job
from pipelines.schedules import automation_running

#: Seconds between two scans of the archive.
LATE_DATA_INTERVAL_SECONDS = int(os.environ.get("CALLAUDIT_LATE_DATA_INTERVAL_SECONDS", "120"))

RAW = dg.AssetKey("raw_call_logs")
CONTRACTS = dg.AssetKey("partner_contracts")
#: A day counts as processed once ingest_daily has a materialisation for it.
PROCESSED = dg.AssetKey("ingest_daily")


def _sensor_status() -> dg.DefaultSensorStatus:
    return (
        dg.DefaultSensorStatus.RUNNING if automation_running() else dg.DefaultSensorStatus.STOPPED
    )


@dataclass
class ArchiveCursor:
    """What the previous tick saw: a fingerprint per day and the agreements file's hash."""

    days: dict[dt.date, str] = field(default_factory=dict)
    contracts: str | None = None

    def dumps(self) -> str:
        days = {d.isoformat(): fp for d, fp in self.days.items()}
        return json.dumps({"days": days, "contracts": self.contracts}, separators=(",", ":"))

    @classmethod
    def loads(cls, text: str) -> "ArchiveCursor":
        data = json.loads(text)
        days = {dt.date.fromisoformat(d): fp for d, fp in data.get("days", {}).items()}
        return cls(days=days, contracts=data.get("contracts"))


def _partition_days(
    scanned: Mapping[dt.date, DayFiles], now: dt.datetime
) -> dict[dt.date, DayFiles]:
    """The scanned days that are partitions: from FIRST_DAY up to the last complete UTC day."""
    first, today = dt.date.fromisoformat(FIRST_DAY), now.astimezone(dt.UTC).date()
    if LAST_DAY:
        today = min(today, dt.date.fromisoformat(LAST_DAY) + dt.timedelta(days=1))
    return {d: seen for d, seen in scanned.items() if first <= d < today}


def _observe_day(day: dt.date, seen: DayFiles | None) -> dg.AssetObservation:
    seen = seen or DayFiles(NO_FILES, 0, 0)
    return dg.AssetObservation(
        asset_key=RAW,
        partition=day.isoformat(),
        tags={DATA_VERSION_TAG: seen.fingerprint},
        metadata={"files": seen.files, "bytes": seen.bytes},
    )


def _observe_contracts(version: str) -> dg.AssetObservation:
    return dg.AssetObservation(asset_key=CONTRACTS, tags={DATA_VERSION_TAG: version})


@dg.sensor(
    name="late_data_sensor",
    job=daily_job,
    minimum_interval_seconds=LATE_DATA_INTERVAL_SECONDS,
    default_status=_sensor_status(),
    description=(
        "Scans the raw archive (one listing) for files added to, changed in or removed from "
        "a day folder, records the day's new data version on raw_call_logs, and re-runs "
        "daily_job for days that were already processed. Also records the agreements "
        "file's data version, so a changed contracts.yaml marks flags stale."
    ),
)
def late_data_sensor(
    context: dg.SensorEvaluationContext, callaudit: CallauditConfig
) -> dg.SensorResult:
    now = dt.datetime.now(dt.UTC)
    scanned = _partition_days(scan_days(callaudit.archive), now)
    contracts = content_hash(callaudit.contracts) if storage.exists(callaudit.contracts) else None
    current = ArchiveCursor({d: seen.fingerprint for d, seen in scanned.items()}, contracts)
    processed = context.instance.get_materialized_partitions(PROCESSED)

    if context.cursor is None:
        # First look: remember the archive. Recording a first data version for days that
        # were processed before would mark them stale although nothing changed.
        events = [_observe_day(d, s) for d, s in scanned.items() if d.isoformat() not in processed]
        if contracts and not processed:
            events.append(_observe_contracts(contracts))
        return dg.SensorResult(
            cursor=current.dumps(),
            asset_events=events,
            skip_reason=f"first scan: {len(scanned)} day folders recorded",
        )

    previous = ArchiveCursor.loads(context.cursor)
    changed = changed_days(previous.days, current.days)
    events = [_observe_day(d, scanned.get(d)) for d in changed]
    if contracts and contracts != previous.contracts:
        events.append(_observe_contracts(contracts))
    late = [d for d in changed if d.isoformat() in processed]
    requests = [
        dg.RunRequest(
            run_key=f"late-{d.isoformat()}-{current.days.get(d, NO_FILES)}",
            partition_key=d.isoformat(),
            tags={"callaudit/kind": "late-data"},
        )
        for d in late
    ]
    if requests:
        context.log.info(f"late files in {', '.join(d.isoformat() for d in late)}")
    skip = None
    if not requests:
        skip = f"{len(changed)} day folders changed, none processed yet" if changed else "no change"
    return dg.SensorResult(
        run_requests=requests, cursor=current.dumps(), asset_events=events, skip_reason=skip
    )


def years_of_run(tags: Mapping[str, str]) -> list[int]:
    """The years a daily_job run covered, from its partition (or partition range) tags."""
    if PARTITION_NAME_TAG in tags:
        return [dt.date.fromisoformat(tags[PARTITION_NAME_TAG]).year]
    start, end = tags.get(ASSET_PARTITION_RANGE_START_TAG), tags.get(ASSET_PARTITION_RANGE_END_TAG)
    if start and end:
        first, last = dt.date.fromisoformat(start).year, dt.date.fromisoformat(end).year
        return list(range(first, last + 1))
    return []


def _is_backfill(tags: Mapping[str, str]) -> bool:
    return BACKFILL_ID_TAG in tags or tags.get("callaudit/kind") == "backfill"


def _report_job():
    """The yearly report job, if the code location has one (pipelines/reporting.py)."""
    if importlib.util.find_spec("pipelines.reporting") is None:
        return None
    from pipelines.reporting import report_job

    return report_job


def _report_sensor(report_job) -> dg.RunStatusSensorDefinition:
    @dg.run_status_sensor(
        name="report_after_daily_run",
        run_status=dg.DagsterRunStatus.SUCCESS,
        monitored_jobs=[daily_job],
        request_job=report_job,
        default_status=_sensor_status(),
        description=(
            "When a nightly or late-data run of daily_job succeeds, rebuilds the report of "
            "the year it covered. Backfill runs are skipped: the backfill builds the report."
        ),
    )
    def report_after_daily_run(context: dg.RunStatusSensorContext):
        tags = context.dagster_run.tags
        if _is_backfill(tags):
            return dg.SkipReason("a backfill run: the backfill builds the report itself")
        years = years_of_run(tags)
        if not years:
            return dg.SkipReason("the run has no partition tags")
        return [
            dg.RunRequest(
                run_key=f"{context.dagster_run.run_id}-{year}",
                partition_key=str(year),
                tags={"callaudit/kind": "report"},
            )
            for year in years
        ]

    return report_after_daily_run


_REPORT_JOB = _report_job()

SENSORS = [late_data_sensor] + ([_report_sensor(_REPORT_JOB)] if _REPORT_JOB is not None else [])
