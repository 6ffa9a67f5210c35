"""The freshness check on a real instance: late after the deadline, green once the day is
in, recorded once per change, not applicable to a closed archive."""

import datetime as dt

import dagster as dg

from callaudit.assets.arrival import ARRIVAL_ASSET, ARRIVAL_CHECK_KEY, build_arrival_check
from callaudit.assets.partitions import build_partitions
from callaudit.pipelines.arrival import freshness_tick
from callaudit.pipelines.definitions import build_definitions
from callaudit.settings import load_settings
from tests.pipelines.conftest import mark_processed

DAY = dt.date(2026, 11, 28)
AFTER_DEADLINE = dt.datetime(2026, 11, 29, 7, 30, tzinfo=dt.UTC)


def open_archive(tmp_path, **environ):
    """An archive still being written: a first day and no last one."""
    return load_settings(
        environ={
            "CALLAUDIT_ARCHIVE": str(tmp_path / "raw"),
            "CALLAUDIT_FIRST_DAY": "2026-01-01",
            **environ,
        }
    )


def latest_evaluation(instance: dg.DagsterInstance):
    record = instance.event_log_storage.get_latest_asset_check_execution_by_key(
        [ARRIVAL_CHECK_KEY]
    )[ARRIVAL_CHECK_KEY]
    return record.event.dagster_event.event_specific_data


def tick(instance, cursor, now, partitions):
    """One sensor tick whose evaluation is recorded, as the daemon records it."""
    result = freshness_tick(instance, cursor, now, partitions, 6)
    if isinstance(result, dg.SensorResult):
        for event in result.asset_events:
            instance.report_runless_asset_event(event)
        return result.cursor
    return result


def test_a_missing_day_fails_the_check_once_then_passes_when_it_arrives(tmp_path):
    partitions = build_partitions(open_archive(tmp_path))
    with dg.DagsterInstance.ephemeral() as instance:
        cursor = tick(instance, None, AFTER_DEADLINE, partitions)
        failed = latest_evaluation(instance)
        again = tick(instance, cursor, AFTER_DEADLINE + dt.timedelta(minutes=5), partitions)
        mark_processed(instance, DAY)
        tick(instance, cursor, AFTER_DEADLINE + dt.timedelta(minutes=10), partitions)
        passed = latest_evaluation(instance)

    assert cursor == "2026-11-28:late"
    assert (failed.passed, failed.severity) == (False, dg.AssetCheckSeverity.ERROR)
    assert failed.description == (
        "2026-11-28 was due by 2026-11-29 06:00 UTC and is missing, 1 h 30 min late."
    )
    assert failed.metadata["day"] == dg.TextMetadataValue("2026-11-28")
    assert isinstance(again, dg.SkipReason)
    assert again.skip_message.startswith("unchanged since the last evaluation")
    assert passed.passed
    assert passed.description == "2026-11-28 was due by 2026-11-29 06:00 UTC and is in."


def test_a_closed_archive_skips_the_evaluation(tmp_path):
    settings = open_archive(
        tmp_path, CALLAUDIT_LAST_DAY="2022-12-31", CALLAUDIT_FIRST_DAY="2022-01-01"
    )
    with dg.DagsterInstance.ephemeral() as instance:
        result = freshness_tick(instance, None, AFTER_DEADLINE, build_partitions(settings), 6)

    assert isinstance(result, dg.SkipReason)
    assert result.skip_message == (
        "Not applicable: a closed archive, its last day 2022-12-31; no new day is expected."
    )


def test_the_check_executes_in_a_run_against_the_real_clock(tmp_path):
    # Deadline hour 0: whatever the time now, yesterday is due.
    partitions = build_partitions(open_archive(tmp_path))
    yesterday = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)
    spec = dg.AssetSpec(ARRIVAL_ASSET, partitions_def=partitions.daily)
    check = build_arrival_check(partitions, 0)
    with dg.DagsterInstance.ephemeral() as instance:
        selection = dg.AssetSelection.checks(ARRIVAL_CHECK_KEY)
        missing = dg.materialize([spec, check], instance=instance, selection=selection)
        mark_processed(instance, yesterday)
        present = dg.materialize([spec, check], instance=instance, selection=selection)

    (late,) = missing.get_asset_check_evaluations()
    (ok,) = present.get_asset_check_evaluations()
    assert not late.passed and f"{yesterday.isoformat()} was due by" in late.description
    assert ok.passed and ok.description.endswith("and is in.")


def test_the_check_and_its_sensors_are_in_the_definitions_and_run_when_alerts_are_set(tmp_path):
    quiet = build_definitions(open_archive(tmp_path))
    alerting = build_definitions(
        open_archive(tmp_path, CALLAUDIT_ALERT_WEBHOOK_URL="http://127.0.0.1:9/hook")
    )

    assert ARRIVAL_CHECK_KEY in quiet.resolve_asset_graph().asset_check_keys
    assert (
        ARRIVAL_CHECK_KEY
        not in quiet.resolve_job_def("daily_job").asset_layer.asset_graph.asset_check_keys
    )
    for name in ("freshness_sensor", "operator_alerts"):
        assert quiet.resolve_sensor_def(name).default_status == dg.DefaultSensorStatus.STOPPED
        assert alerting.resolve_sensor_def(name).default_status == dg.DefaultSensorStatus.RUNNING
