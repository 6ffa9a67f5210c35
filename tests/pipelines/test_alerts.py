"""The operator_alerts sensor on a real instance, after real daily_job runs: a new
critical flag, a failed nightly run and a late day reach a real webhook and a real SMTP
server once each; a backfill is not news; a failed send waits for the next tick."""

import datetime as dt
import json

import dagster as dg

from callaudit.assets.partitions import build_partitions
from callaudit.pipelines.alerts import alert_tick
from callaudit.pipelines.arrival import freshness_tick
from callaudit.pipelines.definitions import build_definitions
from callaudit.pipelines.tags import BACKFILL_ID_TAG, KIND_TAG
from callaudit.settings import load_settings
from tests import alert_servers
from tests.graph import settings_for_test
from tests.pipelines.conftest import write_day
from tests.rawlogs import call, write_raw

# The real webhook receiver and SMTP server (started and stopped by each test).
webhook, smtp = alert_servers.webhook, alert_servers.smtp

FLAGGED = dt.date(2022, 3, 4)  # an unknown partner calls: no_agreement, critical
EMPTY = dt.date(2022, 3, 5)  # no raw data: fails its run when gaps fail runs
#: The freshness sensor's instant (an explicit one: the verdict depends on it). The alert
#: sensor takes the real clock: its first tick keeps only runs updated after it.
NOW = dt.datetime(2026, 11, 29, 7, 30, tzinfo=dt.UTC)


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


#: One call of a partner the contracts do not know, on FLAGGED.
INTRUDER = call(
    100, partner_id="xdh-harvest", app_id="x", ts=dt.datetime(2022, 3, 4, 9, tzinfo=dt.UTC)
)


def alert_settings(config, webhook=None, smtp=None, **more):
    environ = {
        "CALLAUDIT_WAREHOUSE": config.warehouse,
        "CALLAUDIT_DAGSTER_URL": "http://127.0.0.1:3000/",
    }
    if webhook:
        environ["CALLAUDIT_ALERT_WEBHOOK_URL"] = webhook.url
    if smtp:
        environ.update(
            CALLAUDIT_SMTP_HOST="127.0.0.1",
            CALLAUDIT_SMTP_PORT=str(smtp.port),
            CALLAUDIT_SMTP_TLS="none",
            CALLAUDIT_ALERT_FROM="callaudit@example.org",
            CALLAUDIT_ALERT_TO="ops@example.org",
        )
    return load_settings(environ={**environ, **more})


def run_daily(instance, config, day, *, kind="nightly", fail_on_gaps=False, tags=None):
    definitions = build_definitions(
        settings_for_test(
            archive=config.archive, first_day=dt.date(2022, 3, 1), last_day=dt.date(2022, 3, 31)
        )
    )
    resource = {
        "archive": config.archive,
        "contracts": config.contracts,
        "warehouse": config.warehouse,
        "reports": config.reports,
        "fail_on_gaps": fail_on_gaps,
    }
    return definitions.resolve_job_def("daily_job").execute_in_process(
        partition_key=day.isoformat(),
        instance=instance,
        run_config={"resources": {"audit": {"config": resource}}},
        tags={KIND_TAG: kind, **(tags or {})},
        raise_on_error=False,
    )


def test_critical_flags_failed_runs_and_late_days_alert_once_by_webhook_and_mail(
    instance, config, archive, webhook, smtp
):
    write_day(archive, FLAGGED)
    write_raw(archive, [INTRUDER], day=FLAGGED, name="x.parquet")
    settings = alert_settings(config, webhook, smtp)
    logged: list[str] = []

    with webhook.serving(), smtp.serving():
        cursor = alert_tick(instance, None, settings, now(), logged.append).cursor
        flagged = run_daily(instance, config, FLAGGED)
        failed = run_daily(instance, config, EMPTY, fail_on_gaps=True)
        late = freshness_tick(instance, None, NOW, build_partitions(settings_for_test()), 6)
        instance.report_runless_asset_event(late.asset_events[0])
        cursor = alert_tick(instance, cursor, settings, now(), logged.append).cursor
        # The same day re-run by the late-data sensor raises the same flag: no new alert.
        rerun = run_daily(instance, config, FLAGGED, kind="late-data")
        again = alert_tick(instance, cursor, settings, now(), logged.append)

    assert flagged.success and not failed.success and rerun.success
    base = "http://127.0.0.1:3000"
    payloads = [r["body"] for r in webhook.received()]
    assert [p["kind"] for p in payloads] == ["run_failure", "critical_flag", "late_data"]
    run_failure, flag, late_day = payloads
    assert run_failure["day"] == "2022-03-05"
    assert run_failure["link"] == f"{base}/runs/{failed.run_id}"
    assert run_failure["detail"].startswith(
        f"Run {failed.run_id[:8]} of daily_job for 2022-03-05 (nightly) failed: "
    )
    assert "2022-03-05" in run_failure["detail"].split("failed: ", 1)[1]
    assert flag == {
        "kind": "critical_flag",
        "partner": "xdh-harvest",
        "flag": "no_agreement",
        "day": "2022-03-04",
        "detail": "xdh-harvest made 1 calls on 2022-03-04 with no agreement in force "
        "(not a partner in the contracts)",
        "link": f"{base}/runs/{flagged.run_id}",
    }
    assert late_day == {
        "kind": "late_data",
        "partner": None,
        "flag": None,
        "day": "2026-11-28",
        "detail": "2026-11-28 was due by 2026-11-29 06:00 UTC and is missing, 1 h 30 min late.",
        "link": f"{base}/assets/ingest_daily",
    }
    assert sorted(m["Subject"] for m in smtp.received()) == [
        "[callaudit] 2026-11-28 is not in by its deadline",
        "[callaudit] daily_job failed for 2022-03-05 (nightly)",
        "[callaudit] no_agreement for xdh-harvest on 2022-03-04",
    ]
    assert again.skip_reason.skip_message == "nothing new" and len(webhook.received()) == 3
    assert not [line for line in logged if "not delivered" in line]


def test_a_backfill_is_history_not_news(instance, config, archive, webhook):
    write_raw(archive, [INTRUDER], day=FLAGGED)
    settings = alert_settings(config, webhook)

    with webhook.serving():
        cursor = alert_tick(instance, None, settings, now(), print).cursor
        run_daily(instance, config, FLAGGED, kind="backfill", tags={BACKFILL_ID_TAG: "abc"})
        run_daily(instance, config, EMPTY, kind="backfill", fail_on_gaps=True)
        alert_tick(instance, cursor, settings, now(), print)

    assert webhook.received() == []


def test_flags_recomputed_because_an_earlier_day_was_rerun_are_not_news(
    instance, config, archive, webhook
):
    write_raw(archive, [INTRUDER], day=FLAGGED)
    settings = alert_settings(config, webhook)
    first = run_daily(instance, config, FLAGGED)

    with webhook.serving():
        cursor = alert_tick(instance, None, settings, now(), print).cursor
        rerun = run_daily(instance, config, dt.date(2022, 3, 2), kind="late-data")
        alert_tick(instance, cursor, settings, now(), print)

    latest = instance.fetch_materializations(
        dg.AssetRecordsFilter(
            asset_key=dg.AssetKey("anomaly_flags"), asset_partitions=[FLAGGED.isoformat()]
        ),
        limit=1,
    ).records[0]
    assert first.success and rerun.success
    assert latest.run_id == rerun.run_id  # the re-run recomputed FLAGGED's flags
    assert "recomputed_with" in latest.asset_materialization.metadata
    assert webhook.received() == []


def test_a_send_that_fails_is_kept_in_the_cursor_and_sent_on_a_later_tick(
    instance, config, webhook
):
    settings = alert_settings(config, webhook)
    partitions = build_partitions(settings_for_test())
    logged: list[str] = []

    cursor = alert_tick(instance, None, settings, now(), logged.append).cursor
    late = freshness_tick(instance, None, NOW, partitions, 6)
    instance.report_runless_asset_event(late.asset_events[0])
    down = alert_tick(instance, cursor, settings, now(), logged.append)  # nothing listens
    with webhook.serving():
        up = alert_tick(instance, down.cursor, settings, now(), logged.append)
        after = alert_tick(instance, up.cursor, settings, now(), logged.append)

    pending = json.loads(json.loads(down.cursor)["outbox"])["pending"]
    assert [p["alert"]["key"] for p in pending] == ["late:2026-11-28"]
    assert logged[0] == (
        "alert late:2026-11-28 not delivered by webhook (attempt 1, retried next tick): "
        f"webhook http://127.0.0.1:{webhook.port}: [Errno 111] Connection refused"
    )
    assert "T0KEN" not in down.cursor and not any("T0KEN" in line for line in logged)
    assert [r["body"]["day"] for r in webhook.received()] == ["2026-11-28"]
    assert logged[1] == "alert late:2026-11-28 sent by webhook"
    assert after.skip_reason.skip_message == "nothing new"


def test_without_a_channel_the_sensor_only_keeps_its_place(instance, config):
    settings = alert_settings(config)
    cursor = alert_tick(instance, None, settings, now(), print).cursor

    result = alert_tick(instance, cursor, settings, now(), print)

    assert result.skip_reason.skip_message == "no channel configured (0 alerts not queued)"


def test_the_sensor_reads_its_channels_from_the_environment_at_each_tick(
    instance, config, webhook, monkeypatch
):
    sensor = build_definitions(settings_for_test()).resolve_sensor_def("operator_alerts")
    monkeypatch.setenv("CALLAUDIT_ALERT_WEBHOOK_URL", webhook.url)
    monkeypatch.setenv("CALLAUDIT_DAGSTER_URL", "http://ui.example.org:3000")
    resources = {"audit": config}

    first = sensor(dg.build_sensor_context(instance=instance, resources=resources))
    late = freshness_tick(instance, None, NOW, build_partitions(settings_for_test()), 6)
    instance.report_runless_asset_event(late.asset_events[0])
    with webhook.serving():
        sensor(dg.build_sensor_context(instance=instance, resources=resources, cursor=first.cursor))

    (received,) = webhook.received()
    assert received["body"]["link"] == "http://ui.example.org:3000/assets/ingest_daily"
