"""External inputs of the graph: the raw call-log archive and the agreements file.

They are not computed here, but showing them in the graph says where the numbers come
from and lets Dagster mark downstream partitions stale when they change. Their data
versions are recorded as observations by ``late_data_sensor`` (pipelines/sensors.py),
which lists the archive once per tick: a day's version is a fingerprint of its files'
names, sizes and modification times (callaudit/archive_scan.py), the agreements
file's version a hash of its content. Observing from the sensor keeps one listing per
scan for every day, rather than one observation run per partition. A run of the daily
tables also records one observation for each day it reads, from one listing of the
archive taken before reading (``record_days_read``): a backfill leaves raw_call_logs
observed (and, for days with files, reported materialised by the log shipper) for
every day it read, even with the sensor stopped.
"""

import contextlib
import datetime as dt
from collections.abc import Sequence
from contextlib import AbstractContextManager

import dagster as dg
from dagster._core.definitions.external_asset import create_external_asset_from_source_asset

from callaudit import storage
from callaudit.archive_scan import NO_FILES, DayFiles, content_hash, scan_days
from callaudit.assets.metadata import OWNERS
from callaudit.assets.resources import AUDIT_RESOURCE_KEY

RAW_CALL_LOGS = dg.AssetKey("raw_call_logs")
PARTNER_CONTRACTS = dg.AssetKey("partner_contracts")
FLAG_REVIEWS = dg.AssetKey("flag_reviews")


def build_raw_call_logs(daily: dg.PartitionsDefinition) -> dg.AssetsDefinition:
    """The archive, one partition per day folder, observable: the UI shows it observed
    (its data version per day) instead of a "0% filled" bar a source never fills, and
    "Observe" records every day's fingerprint from one listing."""

    @dg.observable_source_asset(
        key=RAW_CALL_LOGS,
        description=(
            "The platform's raw API call logs: hive-style daily folders "
            "`<archive>/date=YYYY-MM-DD/*.parquet` written by the log shipper (at-least-once, "
            "late files possible). Read-only input of callaudit. Each day's data version is a "
            "fingerprint of its files (names, sizes, modification times), recorded by every "
            "run that reads the day and by `late_data_sensor`: when files arrive late, the "
            "day's downstream partitions turn stale and the sensor re-runs that day."
        ),
        group_name="ingest",
        partitions_def=daily,
        required_resource_keys={AUDIT_RESOURCE_KEY},
        metadata={
            "layout": dg.MetadataValue.md(
                "`<archive>/date=YYYY-MM-DD/*.parquet`, one folder per UTC day"
            ),
            "observed_by": dg.MetadataValue.text("daily_tables runs, late_data_sensor"),
        },
    )
    def raw_call_logs(context) -> dg.DataVersionsByPartition:
        archive = context.resources.audit.settings().archive
        keys = set(daily.get_partition_keys())
        return dg.DataVersionsByPartition(
            {
                day.isoformat(): seen.fingerprint
                for day, seen in scan_days(archive).items()
                if day.isoformat() in keys
            }
        )

    # Owners and kinds are attributes of an asset definition, not of a source asset:
    # Dagster's own conversion (what Definitions does with a source asset) gives one.
    observable = create_external_asset_from_source_asset(raw_call_logs)
    return observable.map_asset_specs(
        lambda spec: spec.replace_attributes(owners=OWNERS, kinds={"parquet", "s3"})
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


#: Dagster's tag for the data version an observation records.
DATA_VERSION_TAG = "dagster/data_version"
#: The data version of flag_reviews while there is no reviews file.
NO_REVIEWS = "no-reviews-file"


def file_observations(contracts: str, reviews: str) -> list[dg.AssetObservation]:
    """What a run of the daily tables read besides the archive: contracts.yaml and the
    reviews file, each observed with its content hash as data version (the late-data
    sensor records the same versions when they change), so the UI shows them observed
    instead of never seen."""
    observed = []
    if storage.exists(contracts):
        observed.append(
            dg.AssetObservation(
                asset_key=PARTNER_CONTRACTS, tags={DATA_VERSION_TAG: content_hash(contracts)}
            )
        )
    version = content_hash(reviews) if storage.exists(reviews) else NO_REVIEWS
    observed.append(dg.AssetObservation(asset_key=FLAG_REVIEWS, tags={DATA_VERSION_TAG: version}))
    return observed


def _report_file_in_force(
    context: dg.AssetExecutionContext, observation: dg.AssetObservation
) -> None:
    """Report contracts.yaml or the reviews file materialised (by whoever edits it) when
    its version is new: the UI counts an external asset as present from materialisations
    only. Once per version, not once per run; the same data version as the observation,
    so nothing downstream turns stale."""
    version = observation.tags[DATA_VERSION_TAG]
    last = context.instance.get_latest_materialization_event(observation.asset_key)
    materialization = last.asset_materialization if last is not None else None
    if materialization is not None and materialization.tags.get(DATA_VERSION_TAG) == version:
        return
    context.log_event(
        dg.AssetMaterialization(
            asset_key=observation.asset_key,
            description="the file in force, read by this run",
            tags={DATA_VERSION_TAG: version},
        )
    )


def raw_day_observation(day: dt.date, seen: DayFiles | None) -> dg.AssetObservation:
    """The observation of one day folder: its files' fingerprint as the data version."""
    seen = seen or DayFiles(NO_FILES, 0, 0)
    return dg.AssetObservation(
        asset_key=RAW_CALL_LOGS,
        partition=day.isoformat(),
        tags={DATA_VERSION_TAG: seen.fingerprint},
        metadata={"files": seen.files, "bytes": seen.bytes},
    )


def _events_batched(instance: dg.DagsterInstance) -> AbstractContextManager:
    """Events logged inside stored as one batch when the block ends, where the instance's
    storage can (callaudit's instance template, pipelines/instance_storage.py, whose
    ``events_batched`` this is); one by one, as Dagster does, elsewhere (Postgres)."""
    return getattr(instance.event_log_storage, "events_batched", contextlib.nullcontext)()


def record_days_read(
    context: dg.AssetExecutionContext,
    archive: str,
    days: Sequence[dt.date],
    inputs: Sequence[dg.AssetObservation] = (),
) -> None:
    """Observe each of ``days`` as this run is about to read it (one listing of the
    archive), so the UI shows raw_call_logs observed wherever a run read it.

    A day whose folder holds files is also reported materialised, as Dagster's external
    assets are when another system (here the log shipper) wrote them: the UI counts
    partitions as filled from materialisations only, so without it the archive reads
    "0% filled" however many days were read; a data gap (no file) stays unfilled.
    Dagster reads the inputs' data versions when the step starts; they are read again
    after these observations, or every table the run writes would look stale against
    the version it was computed from. The days' events are stored together, after the
    loop: one by one they took 1.0-1.4 s of CPU for a 0.01 year, in one batch 0.2-0.3 s."""
    for observation in inputs:
        context.log_event(observation)
        _report_file_in_force(context, observation)
    scanned = scan_days(archive)
    with _events_batched(context.instance):
        for day in days:
            seen = scanned.get(day)
            context.log_event(raw_day_observation(day, seen))
            if seen is not None and seen.files:
                context.log_event(
                    dg.AssetMaterialization(
                        asset_key=RAW_CALL_LOGS,
                        partition=day.isoformat(),
                        description="day folder present, read by this run",
                        metadata={"files": seen.files, "bytes": seen.bytes},
                    )
                )
    step = context.op_execution_context.get_step_execution_context()
    step.wipe_input_asset_version_info(RAW_CALL_LOGS)
    if any(o.asset_key == PARTNER_CONTRACTS for o in inputs):
        step.wipe_input_asset_version_info(PARTNER_CONTRACTS)
