"""``operator_alerts``: new critical flags, failed runs and late days, by webhook and mail.

One sensor, one outbox (callaudit.alerts.outbox) in its cursor. Each tick it reads what
happened in the instance since the previous tick, by storage id or update time, never
by wall-clock guesses:

- a materialization of ``anomaly_flags`` for a day, outside a backfill: the day's
  critical flags in the warehouse, one alert per (day, partner, flag). A backfill is
  history being rebuilt, read in its report, not news; so are the later days a re-run
  recomputes (metadata ``recomputed_with``);
- a failed run of ``daily_job`` outside a backfill (nightly, late-data, a run started in
  the UI): one alert per run, with its first error;
- a failed evaluation of ``arrived_by_deadline`` (freshness_sensor): one alert per late day.

New alerts are queued under keys that say what they report, so an event seen again (a
day re-run, the same flag recomputed) does not alert twice; the outbox sends what is
pending on every configured channel and keeps what failed for the next tick. The first
tick only takes the instance's position: alerts start from when the sensor starts.

The channels come from the settings at each tick (CALLAUDIT_ALERT_WEBHOOK_URL,
CALLAUDIT_SMTP_*): secrets stay in the environment of the process that runs the sensor,
never in run config, tags or metadata.
"""

import datetime as dt
import json
from collections.abc import Callable, Mapping

import dagster as dg
import polars as pl

from callaudit import warehouse
from callaudit.alerts import Alert, Outbox, channels_from
from callaudit.alerts.messages import CRITICAL_FLAG, LATE_DATA, RUN_FAILURE
from callaudit.assets.arrival import ARRIVAL_ASSET, ARRIVAL_CHECK
from callaudit.assets.flags import RECOMPUTED_WITH
from callaudit.assets.resources import AuditResource
from callaudit.pipelines.jobs import DAILY_JOB
from callaudit.pipelines.tags import (
    BACKFILL_ID_TAG,
    KIND_TAG,
    PARTITION_RANGE_END_TAG,
    PARTITION_RANGE_START_TAG,
    PARTITION_TAG,
)
from callaudit.schema import ANOMALY_FLAGS
from callaudit.settings import Settings

FLAGS_ASSET = dg.AssetKey(ANOMALY_FLAGS.name)
#: Seconds between two ticks: an alert goes out within a minute of its event.
ALERT_INTERVAL_SECONDS = 60


def _is_backfill(tags: Mapping[str, str]) -> bool:
    return BACKFILL_ID_TAG in tags or tags.get(KIND_TAG) == "backfill"


def _days_of(tags: Mapping[str, str]) -> str:
    if PARTITION_TAG in tags:
        return tags[PARTITION_TAG]
    start, end = tags.get(PARTITION_RANGE_START_TAG), tags.get(PARTITION_RANGE_END_TAG)
    return f"{start}..{end}" if start and end else ""


class AlertCursor:
    """Where the previous tick stopped, and the outbox."""

    def __init__(self, runs_after: float, flags_after: int, checks_after: int, outbox: Outbox):
        self.runs_after = runs_after
        self.flags_after = flags_after
        self.checks_after = checks_after
        self.outbox = outbox

    def dumps(self) -> str:
        return json.dumps(
            {
                "runs_after": self.runs_after,
                "flags_after": self.flags_after,
                "checks_after": self.checks_after,
                "outbox": self.outbox.dumps(),
            },
            separators=(",", ":"),
        )

    @classmethod
    def loads(cls, text: str) -> "AlertCursor":
        data = json.loads(text)
        return cls(
            data["runs_after"],
            data["flags_after"],
            data["checks_after"],
            Outbox.loads(data["outbox"]),
        )


def _events(
    instance: dg.DagsterInstance, event_type: dg.DagsterEventType, after: int, **filters
) -> list[dg.EventLogRecord]:
    return list(
        instance.get_event_records(
            dg.EventRecordsFilter(event_type=event_type, after_cursor=after, **filters),
            ascending=True,
        )
    )


def _last_storage_id(instance: dg.DagsterInstance, event_type: dg.DagsterEventType) -> int:
    records = instance.get_event_records(dg.EventRecordsFilter(event_type=event_type), limit=1)
    return records[0].storage_id if records else 0


def start_cursor(instance: dg.DagsterInstance, now: dt.datetime) -> AlertCursor:
    """The instance's position now: what happened before is not news."""
    return AlertCursor(
        now.timestamp(),
        _last_storage_id(instance, dg.DagsterEventType.ASSET_MATERIALIZATION),
        _last_storage_id(instance, dg.DagsterEventType.ASSET_CHECK_EVALUATION),
        Outbox(),
    )


def _run_link(base: str, run_id: str | None) -> str:
    return f"{base}/runs/{run_id}" if run_id else base


def flag_alerts(
    instance: dg.DagsterInstance, cursor: AlertCursor, warehouse_url: str, base: str
) -> list[Alert]:
    """Critical flags of the days ``anomaly_flags`` was materialized for since the cursor."""
    alerts = []
    events = _events(
        instance,
        dg.DagsterEventType.ASSET_MATERIALIZATION,
        cursor.flags_after,
        asset_key=FLAGS_ASSET,
    )
    for record in events:
        cursor.flags_after = max(cursor.flags_after, record.storage_id)
        entry = record.event_log_entry
        run = instance.get_run_by_id(entry.run_id) if entry.run_id else None
        if run is not None and _is_backfill(run.tags):
            continue
        partition = entry.dagster_event.partition if entry.dagster_event else None
        materialization = record.asset_materialization
        if not partition or materialization is None:
            continue
        if RECOMPUTED_WITH in materialization.metadata:
            # A later day recomputed because an earlier one was re-run: its flags were
            # news when it was first computed, not now.
            continue
        day = dt.date.fromisoformat(partition)
        if not warehouse.has_partition(warehouse_url, ANOMALY_FLAGS, day):
            continue
        flags = warehouse.read_partition(warehouse_url, ANOMALY_FLAGS, day)
        critical = flags.filter(pl.col("severity") == "critical").sort("partner_id", "flag")
        for row in critical.iter_rows(named=True):
            alerts.append(
                Alert(
                    key=f"flag:{day.isoformat()}:{row['partner_id']}:{row['flag']}",
                    kind=CRITICAL_FLAG,
                    title=f"{row['flag']} for {row['partner_id']} on {day.isoformat()}",
                    detail=row["detail"],
                    link=_run_link(base, entry.run_id),
                    partner=row["partner_id"],
                    flag=row["flag"],
                    day=day.isoformat(),
                )
            )
    return alerts


def _first_error(instance: dg.DagsterInstance, run_id: str) -> str:
    for event_type in (dg.DagsterEventType.STEP_FAILURE, dg.DagsterEventType.RUN_FAILURE):
        for entry in instance.all_logs(run_id, of_type=event_type):
            event = entry.dagster_event
            error = getattr(event.event_specific_data, "error", None) if event else None
            text = error.message if error is not None else (event.message if event else "")
            if text:
                return text.strip().splitlines()[0][:300]
    return "no error message recorded"


def run_failure_alerts(instance: dg.DagsterInstance, cursor: AlertCursor, base: str) -> list[Alert]:
    """Failed runs of daily_job, outside backfills, updated since the cursor."""
    records = instance.get_run_records(
        filters=dg.RunsFilter(
            job_name=DAILY_JOB,
            statuses=[dg.DagsterRunStatus.FAILURE],
            updated_after=dt.datetime.fromtimestamp(cursor.runs_after, dt.UTC),
        ),
        order_by="update_timestamp",
        ascending=True,
    )
    alerts = []
    for record in records:
        cursor.runs_after = max(cursor.runs_after, record.update_timestamp.timestamp())
        run = record.dagster_run
        if _is_backfill(run.tags):
            continue
        days = _days_of(run.tags)
        kind = run.tags.get(KIND_TAG, "manual")
        alerts.append(
            Alert(
                key=f"run:{run.run_id}",
                kind=RUN_FAILURE,
                title=f"{DAILY_JOB} failed for {days or 'a run'} ({kind})",
                detail=(
                    f"Run {run.run_id[:8]} of {DAILY_JOB} for {days or 'no partition'} "
                    f"({kind}) failed: {_first_error(instance, run.run_id)}"
                ),
                link=_run_link(base, run.run_id),
                day=days or None,
            )
        )
    return alerts


def late_data_alerts(instance: dg.DagsterInstance, cursor: AlertCursor, base: str) -> list[Alert]:
    """Failed evaluations of arrived_by_deadline since the cursor, one per late day."""
    alerts = []
    for record in _events(
        instance, dg.DagsterEventType.ASSET_CHECK_EVALUATION, cursor.checks_after
    ):
        cursor.checks_after = max(cursor.checks_after, record.storage_id)
        event = record.event_log_entry.dagster_event
        evaluation = event.event_specific_data if event else None
        if (
            evaluation is None
            or evaluation.asset_key != ARRIVAL_ASSET
            or evaluation.check_name != ARRIVAL_CHECK
            or evaluation.passed
        ):
            continue
        day = evaluation.metadata["day"].value if "day" in evaluation.metadata else ""
        run_id = record.event_log_entry.run_id
        alerts.append(
            Alert(
                key=f"late:{day}",
                kind=LATE_DATA,
                title=f"{day} is not in by its deadline",
                detail=evaluation.description or f"{day} is late",
                link=_run_link(base, run_id)
                if run_id
                else f"{base}/assets/{ARRIVAL_ASSET.path[0]}",
                day=day or None,
            )
        )
    return alerts


def alert_tick(
    instance: dg.DagsterInstance,
    cursor_text: str | None,
    settings: Settings,
    now: dt.datetime,
    log: Callable[[str], None],
    note: Callable[[str], None] | None = None,
) -> dg.SensorResult | dg.SkipReason:
    """One tick: collect new alerts, queue them, send what is pending. ``log`` gets the
    failed sends (a warning in the sensor's log), ``note`` the sent ones (default: ``log``)."""
    channels = channels_from(settings)
    if cursor_text is None:
        cursor = start_cursor(instance, now)
        return dg.SensorResult(cursor=cursor.dumps(), skip_reason="first tick: alerts from now on")
    cursor = AlertCursor.loads(cursor_text)
    base = settings.dagster_url.rstrip("/")
    new = [
        *run_failure_alerts(instance, cursor, base),
        *flag_alerts(instance, cursor, settings.warehouse, base),
        *late_data_alerts(instance, cursor, base),
    ]
    queued = cursor.outbox.add(new, [c.name for c in channels])
    delivery = cursor.outbox.deliver(channels, log)
    for key, channel in delivery.sent:
        (note or log)(f"alert {key} sent by {channel}")
    skip = None
    if not channels:
        skip = f"no channel configured ({len(new)} alerts not queued)"
    elif not queued and not delivery.sent and not delivery.failed:
        skip = "nothing new"
    return dg.SensorResult(cursor=cursor.dumps(), skip_reason=skip)


def build_alert_sensor(settings: Settings) -> dg.SensorDefinition:
    """Running when alerts are configured (CALLAUDIT_ALERT_WEBHOOK_URL, or
    CALLAUDIT_SMTP_HOST and CALLAUDIT_ALERT_TO), stopped otherwise."""
    status = (
        dg.DefaultSensorStatus.RUNNING
        if settings.alerts_configured
        else dg.DefaultSensorStatus.STOPPED
    )

    @dg.sensor(
        name="operator_alerts",
        minimum_interval_seconds=ALERT_INTERVAL_SECONDS,
        default_status=status,
        description=(
            "Notifies the operator by webhook (JSON) and mail (SMTP) of new critical flags, "
            "failed daily_job runs outside backfills, and days late at the freshness "
            "deadline; each alert once, failed sends retried on the next tick."
        ),
    )
    def operator_alerts(context: dg.SensorEvaluationContext, audit: AuditResource):
        return alert_tick(
            context.instance,
            context.cursor,
            audit.settings(),
            dt.datetime.now(dt.UTC),
            context.log.warning,
            context.log.info,
        )

    return operator_alerts
