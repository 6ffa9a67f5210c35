"""Sensors: late raw files, and the yearly report after a day is (re)computed.

``late_data_sensor`` lists the raw archive once per tick and fingerprints each day folder
(file names, sizes, modification times). A day whose fingerprint changed since the last
tick gets a new data version on ``raw_call_logs``, so the UI shows its downstream
partitions as stale, and, if that day was already processed, a run of ``daily_job`` for
it. Days never processed are left to the nightly schedule and to backfills: they show
as missing partitions, and a sensor that launched one run per new day would flood the
run queue while an archive is being copied in.

The same tick hashes contracts.yaml and the flag reviews (CALLAUDIT_REVIEWS, or
flag_reviews.yaml beside contracts.yaml) and records a new data version of each when
its content changed. A changed reviews file is also acted on, as little as is correct:
a volume flag dismissed (or no longer dismissed) on day D changes the volume baselines
from D on, so the flags of D and of the days whose history holds D (``history_days``)
are recomputed by a run of ``anomaly_flags`` alone (no table is re-read from the raw
archive; the run recomputes the later dependent days itself), and its success rebuilds
the year's report (``report_after_daily_run``). A review that only confirms a flag or
changes a note changes no flag: the report of its year is rebuilt, if there is one.

``report_after_daily_run`` refreshes the year's report when a nightly or late-data run
of ``daily_job`` succeeds. Backfill runs are left alone: a backfill selects the report
itself (UI) or builds it at the end (CLI), once rather than once per chunk.
"""

import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass, field

import dagster as dg

from callaudit import storage, writer_lock
from callaudit.archive_scan import (
    NO_FILES,
    DayFiles,
    changed_days,
    content_hash,
    odd_folders,
    scan_days,
)
from callaudit.assets.checks import FLAG_CHECK_SPECS
from callaudit.assets.raw import (
    FLAG_REVIEWS,
    NO_REVIEWS,
    PARTNER_CONTRACTS,
    raw_day_observation,
)
from callaudit.assets.resources import AuditResource
from callaudit.assets.run_guard import overlapping_runs
from callaudit.assets.yearly_report import YEARLY_REPORT
from callaudit.flags.detect import history_days_needed
from callaudit.flags.settings import load_detection_settings
from callaudit.pipelines.jobs import DAILY_JOB, REPORT_JOB, AssetJob
from callaudit.pipelines.tags import (
    BACKFILL_ID_TAG,
    DATA_VERSION_TAG,
    KIND_TAG,
    PARTITION_RANGE_END_TAG,
    PARTITION_RANGE_START_TAG,
    PARTITION_TAG,
)
from callaudit.reviews import ReviewChanges, ReviewsError, load_reviews_for, review_changes
from callaudit.reviews import review_fingerprints as reviews_seen
from callaudit.schema import ANOMALY_FLAGS, INGEST_DAILY
from callaudit.settings import Settings

#: A day counts as processed once ingest_daily has a materialisation for it.
PROCESSED = dg.AssetKey(INGEST_DAILY.name)
FLAGGED = dg.AssetKey(ANOMALY_FLAGS.name)
#: The data version recorded for flag_reviews when there is no reviews file.


def default_sensor_status(settings: Settings) -> dg.DefaultSensorStatus:
    if settings.automation_running:
        return dg.DefaultSensorStatus.RUNNING
    return dg.DefaultSensorStatus.STOPPED


@dataclass
class ArchiveCursor:
    """What the previous tick saw: a fingerprint per day, the agreements file's hash and
    the odd folders already warned about (so each is named once, not on every tick), the
    reviews file's hash and a fingerprint per review (callaudit.reviews)."""

    days: dict[dt.date, str] = field(default_factory=dict)
    contracts: str | None = None
    odd: list[str] = field(default_factory=list)
    reviews: str | None = None
    review_prints: dict[str, str] = field(default_factory=dict)

    def dumps(self) -> str:
        days = {d.isoformat(): fp for d, fp in self.days.items()}
        return json.dumps(
            {
                "days": days,
                "contracts": self.contracts,
                "odd": self.odd,
                "reviews": self.reviews,
                "review_prints": self.review_prints,
            },
            separators=(",", ":"),
        )

    @classmethod
    def loads(cls, text: str) -> "ArchiveCursor":
        data = json.loads(text)
        days = {dt.date.fromisoformat(d): fp for d, fp in data.get("days", {}).items()}
        return cls(
            days=days,
            contracts=data.get("contracts"),
            odd=list(data.get("odd", [])),
            reviews=data.get("reviews"),
            review_prints=data.get("review_prints", {}),
        )


def partition_days(
    scanned: Mapping[dt.date, DayFiles], now: dt.datetime, settings: Settings
) -> dict[dt.date, DayFiles]:
    """The scanned days that are partitions: from the first day up to the last complete
    UTC day (or the archive's last day)."""
    today = now.astimezone(dt.UTC).date()
    if settings.last_day:
        today = min(today, settings.last_day + dt.timedelta(days=1))
    first = settings.first_day or dt.date.min  # set once the definitions resolved it
    return {d: seen for d, seen in scanned.items() if first <= d < today}


#: The same observation a run of the daily tables records for each day it reads.
_observe_day = raw_day_observation


def _observe_contracts(version: str) -> dg.AssetObservation:
    return dg.AssetObservation(asset_key=PARTNER_CONTRACTS, tags={DATA_VERSION_TAG: version})


def build_late_data_sensor(
    settings: Settings, daily_job: AssetJob, report_job: AssetJob
) -> dg.SensorDefinition:
    # The flags' history window, as the anomaly_flags asset declares it (same settings).
    history_days = history_days_needed(load_detection_settings(settings.detection or None))

    @dg.sensor(
        name="late_data_sensor",
        jobs=[daily_job, report_job],
        minimum_interval_seconds=settings.late_data_interval_seconds,
        default_status=default_sensor_status(settings),
        description=(
            "Scans the raw archive (one listing) for files added to, changed in or removed "
            "from a day folder, records the day's new data version on raw_call_logs, and "
            "re-runs daily_job for days that were already processed. Also records the "
            "agreements file's data version, so a changed contracts.yaml marks flags stale, "
            "and the flag reviews' one: a volume flag dismissed or taken back re-runs "
            "anomaly_flags from its day (and so the report); any other review change "
            "rebuilds the report of its year."
        ),
    )
    def late_data_sensor(
        context: dg.SensorEvaluationContext, audit: AuditResource
    ) -> dg.SensorResult:
        return scan_for_late_data(context, audit.settings(), settings, history_days)

    return late_data_sensor


def scan_for_late_data(
    context: dg.SensorEvaluationContext,
    locations: Settings,
    graph: Settings,
    history_days: int = 0,
) -> dg.SensorResult:
    """One tick: ``locations`` says where the archive is (run-time settings), ``graph``
    which days are partitions (the settings the definitions were built with),
    ``history_days`` how far forward a day's flags reach (the flags' history window)."""
    now = dt.datetime.now(dt.UTC)
    scanned = partition_days(scan_days(locations.archive), now, graph)
    contracts = content_hash(locations.contracts) if storage.exists(locations.contracts) else None
    odd = odd_folders(locations.archive)
    current = ArchiveCursor({d: seen.fingerprint for d, seen in scanned.items()}, contracts, odd)
    processed = context.instance.get_materialized_partitions(PROCESSED)
    _warn_odd_folders(context, locations.archive, odd, ArchiveCursor.loads(context.cursor or "{}"))
    previous = ArchiveCursor.loads(context.cursor) if context.cursor else None
    current.reviews, current.review_prints = _reviews_now(context, locations, previous)

    if previous is None:
        # First look: remember the archive. Recording a first data version for days that
        # were processed before would mark them stale although nothing changed.
        events = [_observe_day(d, s) for d, s in scanned.items() if d.isoformat() not in processed]
        if contracts and not processed:
            events.append(_observe_contracts(contracts))
        if not processed:
            events.append(_observe_reviews(current.reviews))
        return dg.SensorResult(
            cursor=current.dumps(),
            asset_events=events,
            skip_reason=f"first scan: {len(scanned)} day folders recorded",
        )

    changed = changed_days(previous.days, current.days)
    events = [_observe_day(d, scanned.get(d)) for d in changed]
    if contracts and contracts != previous.contracts:
        events.append(_observe_contracts(contracts))
    review_requests: list[dg.RunRequest] | None = []
    if current.reviews != previous.reviews:
        changes = review_changes(previous.review_prints, current.review_prints)
        review_requests = _review_requests(context, changes, current.reviews, history_days)
        if review_requests is None:  # a run is writing those flag days: a later tick
            current.reviews, current.review_prints = previous.reviews, previous.review_prints
            review_requests = []
        else:
            events.append(_observe_reviews(current.reviews))
    late = [d for d in changed if d.isoformat() in processed]
    # A day another run is writing now is left for a later tick (its fingerprint is not
    # taken into the cursor): a run started alongside would be refused by the day's
    # writer guard, and its run key would not be requested again.
    # (a run of this instance, or a writer of another one holding the day's lock)
    busy = [
        d
        for d in late
        if overlapping_runs(context.instance, [d], locations.warehouse)
        or writer_lock.held(
            locations.warehouse, [d], stale_after=locations.writer_lock_stale_seconds
        )
    ]
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
            job_name=DAILY_JOB,
            partition_key=d.isoformat(),
            tags={KIND_TAG: "late-data"},
        )
        for d in late
    ]
    if requests:
        context.log.info(f"late files in {', '.join(d.isoformat() for d in late)}")
    requests += review_requests
    skip = None
    if not requests:
        skip = f"{len(changed)} day folders changed, none processed yet" if changed else "no change"
    return dg.SensorResult(
        run_requests=requests, cursor=current.dumps(), asset_events=events, skip_reason=skip
    )


def _observe_reviews(version: str | None) -> dg.AssetObservation:
    return dg.AssetObservation(
        asset_key=FLAG_REVIEWS, tags={DATA_VERSION_TAG: version or NO_REVIEWS}
    )


def _reviews_now(
    context: dg.SensorEvaluationContext, locations: Settings, previous: ArchiveCursor | None
) -> tuple[str | None, dict[str, str]]:
    """The reviews file's hash and a fingerprint per review. It is parsed only when its
    hash changed; a file that does not validate is reported and taken as unchanged, so
    the tick after it is fixed sees the change."""
    location = locations.reviews_location
    digest = content_hash(location) if storage.exists(location) else None
    if previous is not None and digest == previous.reviews:
        return previous.reviews, previous.review_prints
    try:
        return digest, reviews_seen(load_reviews_for(locations))
    except ReviewsError as exc:
        context.log.error(f"flag reviews not applied: {exc}")
        if previous is None:
            return None, {}
        return previous.reviews, previous.review_prints


def _first_flagged(day: dt.date, flagged: set[str], history_days: int) -> dt.date | None:
    """The first day of ``day .. day + history_days`` whose flags exist."""
    window = (day + dt.timedelta(days=i) for i in range(history_days + 1))
    return next((d for d in window if d.isoformat() in flagged), None)


def flag_ranges(
    days: list[dt.date], flagged: set[str], history_days: int
) -> list[tuple[dt.date, dt.date]]:
    """The fewest ranges of flag days to recompute for dismissals changed on ``days``.

    A dismissal on D changes the flags of D and of the days whose history window holds
    D, ``D .. D + history_days``: a run from the first of them whose flags exist
    recomputes the later ones itself. Two such starts whose windows meet share one
    ranged run, so no two runs write the same flag day (the run guard sees a run's
    partitions, not the later days it recomputes)."""
    starts = sorted({f for d in days if (f := _first_flagged(d, flagged, history_days))})
    ranges: list[tuple[dt.date, dt.date]] = []
    for start in starts:
        if ranges and (start - ranges[-1][1]).days <= history_days:
            ranges[-1] = (ranges[-1][0], start)
        else:
            ranges.append((start, start))
    return ranges


def _review_requests(
    context: dg.SensorEvaluationContext,
    changes: ReviewChanges,
    version: str | None,
    history_days: int,
) -> list[dg.RunRequest] | None:
    """The runs a change of the reviews needs (see the module docstring), or None when a
    run in progress writes the flag days they would recompute."""
    instance = context.instance
    flagged = instance.get_materialized_partitions(FLAGGED)
    ranges = flag_ranges(changes.detection_days, flagged, history_days)
    written = [
        first + dt.timedelta(days=i)
        for first, last in ranges
        for i in range((last - first).days + history_days + 1)
    ]
    warehouse = context.resources.audit.settings().warehouse
    if written and overlapping_runs(instance, written, warehouse):
        context.log.info("reviews changed flags of days a run in progress writes: a later tick")
        return None
    key = (version or NO_REVIEWS)[:16]
    requests = []
    for first, last in ranges:
        tags = {KIND_TAG: "reviews"}
        if first != last:
            tags |= {
                PARTITION_RANGE_START_TAG: first.isoformat(),
                PARTITION_RANGE_END_TAG: last.isoformat(),
            }
        requests.append(
            dg.RunRequest(
                run_key=f"reviews-{first}-{last}-{key}",
                job_name=DAILY_JOB,
                asset_selection=[FLAGGED],
                asset_check_keys=[spec.key for spec in FLAG_CHECK_SPECS],
                partition_key=first.isoformat() if first == last else None,
                tags=tags,
            )
        )
    # The years whose flags are re-run get their report after the run succeeds
    # (report_after_daily_run); other years with a changed review get theirs now.
    rerun = {year for first, last in ranges for year in range(first.year, last.year + 1)}
    reported = instance.get_materialized_partitions(YEARLY_REPORT)
    years = sorted({d.year for d in changes.report_days} - rerun)
    requests += [
        dg.RunRequest(
            run_key=f"reviews-report-{year}-{key}",
            job_name=REPORT_JOB,
            partition_key=str(year),
            tags={KIND_TAG: "report"},
        )
        for year in years
        if str(year) in reported
    ]
    if changes.report_days:
        context.log.info(
            f"flag reviews changed on {len(changes.report_days)} day(s): {len(ranges)} flags "
            f"run(s), {len(requests) - len(ranges)} report run(s)"
        )
    return requests


def _warn_odd_folders(
    context: dg.SensorEvaluationContext, archive: str, odd: list[str], previous: ArchiveCursor
) -> None:
    """Name, once, each folder of the archive that is not a real day: its files are in no
    day the sensor watches (a backfill of a range around it refuses it, named)."""
    new = [name for name in odd if name not in previous.odd]
    if new:
        context.log.warning(
            f"ignoring folder(s) of the archive {archive} that are not date=YYYY-MM-DD of a "
            f"real day: {', '.join(new)}; their files belong to no day (rename or remove them)"
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
