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
import json
from collections.abc import Mapping
from dataclasses import dataclass, field

import dagster as dg

from callaudit import storage
from callaudit.archive_scan import NO_FILES, DayFiles, changed_days, content_hash, scan_days
from callaudit.assets.raw import PARTNER_CONTRACTS, RAW_CALL_LOGS
from callaudit.assets.resources import AuditResource
from callaudit.assets.run_guard import overlapping_runs
from callaudit.pipelines.jobs import AssetJob
from callaudit.pipelines.tags import (
    BACKFILL_ID_TAG,
    DATA_VERSION_TAG,
    KIND_TAG,
    PARTITION_RANGE_END_TAG,
    PARTITION_RANGE_START_TAG,
    PARTITION_TAG,
)
from callaudit.schema import INGEST_DAILY
from callaudit.settings import Settings

#: A day counts as processed once ingest_daily has a materialisation for it.
PROCESSED = dg.AssetKey(INGEST_DAILY.name)


def default_sensor_status(settings: Settings) -> dg.DefaultSensorStatus:
    if settings.automation_running:
        return dg.DefaultSensorStatus.RUNNING
    return dg.DefaultSensorStatus.STOPPED


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


def partition_days(
    scanned: Mapping[dt.date, DayFiles], now: dt.datetime, settings: Settings
) -> dict[dt.date, DayFiles]:
    """The scanned days that are partitions: from the first day up to the last complete
    UTC day (or the archive's last day)."""
    today = now.astimezone(dt.UTC).date()
    if settings.last_day:
        today = min(today, settings.last_day + dt.timedelta(days=1))
    return {d: seen for d, seen in scanned.items() if settings.first_day <= d < today}


def _observe_day(day: dt.date, seen: DayFiles | None) -> dg.AssetObservation:
    seen = seen or DayFiles(NO_FILES, 0, 0)
    return dg.AssetObservation(
        asset_key=RAW_CALL_LOGS,
        partition=day.isoformat(),
        tags={DATA_VERSION_TAG: seen.fingerprint},
        metadata={"files": seen.files, "bytes": seen.bytes},
    )


def _observe_contracts(version: str) -> dg.AssetObservation:
    return dg.AssetObservation(asset_key=PARTNER_CONTRACTS, tags={DATA_VERSION_TAG: version})


def build_late_data_sensor(settings: Settings, daily_job: AssetJob) -> dg.SensorDefinition:
    @dg.sensor(
        name="late_data_sensor",
        job=daily_job,
        minimum_interval_seconds=settings.late_data_interval_seconds,
        default_status=default_sensor_status(settings),
        description=(
            "Scans the raw archive (one listing) for files added to, changed in or removed "
            "from a day folder, records the day's new data version on raw_call_logs, and "
            "re-runs daily_job for days that were already processed. Also records the "
            "agreements file's data version, so a changed contracts.yaml marks flags stale."
        ),
    )
    def late_data_sensor(
        context: dg.SensorEvaluationContext, audit: AuditResource
    ) -> dg.SensorResult:
        return scan_for_late_data(context, audit.settings(), settings)

    return late_data_sensor


def scan_for_late_data(
    context: dg.SensorEvaluationContext, locations: Settings, graph: Settings
) -> dg.SensorResult:
    """One tick: ``locations`` says where the archive is (run-time settings), ``graph``
    which days are partitions (the settings the definitions were built with)."""
    now = dt.datetime.now(dt.UTC)
    scanned = partition_days(scan_days(locations.archive), now, graph)
    contracts = content_hash(locations.contracts) if storage.exists(locations.contracts) else None
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
    # A day another run is writing now is left for a later tick (its fingerprint is not
    # taken into the cursor): a run started alongside would be refused by the day's
    # writer guard, and its run key would not be requested again.
    busy = [d for d in late if overlapping_runs(context.instance, [d], locations.warehouse)]
    for day in busy:
        if day in previous.days:
            current.days[day] = previous.days[day]
        else:
            current.days.pop(day, None)
    if busy:
        context.log.info(
            f"late files in {', '.join(d.isoformat() for d in busy)}, which a run in progress "
            "is writing: re-run on a later tick"
        )
    late = [d for d in late if d not in busy]
    requests = [
        dg.RunRequest(
            run_key=f"late-{d.isoformat()}-{current.days.get(d, NO_FILES)}",
            partition_key=d.isoformat(),
            tags={KIND_TAG: "late-data"},
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
    if PARTITION_TAG in tags:
        return [dt.date.fromisoformat(tags[PARTITION_TAG]).year]
    start, end = tags.get(PARTITION_RANGE_START_TAG), tags.get(PARTITION_RANGE_END_TAG)
    if start and end:
        first, last = dt.date.fromisoformat(start).year, dt.date.fromisoformat(end).year
        return list(range(first, last + 1))
    return []


def _is_backfill(tags: Mapping[str, str]) -> bool:
    return BACKFILL_ID_TAG in tags or tags.get(KIND_TAG) == "backfill"


def build_report_sensor(
    settings: Settings,
    daily_job: AssetJob,
    report_job: AssetJob,
) -> dg.RunStatusSensorDefinition:
    @dg.run_status_sensor(
        name="report_after_daily_run",
        run_status=dg.DagsterRunStatus.SUCCESS,
        monitored_jobs=[daily_job],
        request_job=report_job,
        default_status=default_sensor_status(settings),
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
                tags={KIND_TAG: "report"},
            )
            for year in years
        ]

    return report_after_daily_run
