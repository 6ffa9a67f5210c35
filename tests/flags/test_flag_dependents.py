"""Re-running a day recomputes the flags that depend on it; flags that no longer match
their inputs are found and named.

The issue's example: a partner may retrieve 100 items a month. Ten days of 20 items
cross the limit on day 6, so days 6 to 10 carry ``monthly_item_limit``. A late file
adds 60 items to day 2: the limit is now crossed on day 3. Re-running day 2 alone (the
late-data sensor's run) must flag days 3 to 10, not leave days 3 to 5 unflagged.
Every run here is a real Dagster run of the code location's daily job.
"""

import datetime as dt
import shutil
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from callaudit import warehouse
from callaudit.assets.resources import AuditResource
from callaudit.flags.freshness import FlagInputs, detection_sha256, stale_flag_days
from callaudit.flags.settings import DetectorSettings
from callaudit.pipelines.backfill import backfill_days, run_config_for, run_job
from callaudit.pipelines.definitions import build_assets, build_definitions
from callaudit.pipelines.jobs import DAILY_JOB
from callaudit.pipelines.tags import DATA_VERSION_TAG
from callaudit.provenance import sha256_file
from callaudit.reviews import REVIEWS_FILE, load_reviews_for
from tests.graph import settings_for_test
from tests.pipelines.conftest import mark_processed
from tests.rawlogs import call, write_raw

DAYS = [dt.date(2022, 3, d) for d in range(1, 11)]
CONTRACTS = """\
partners:
  - id: acme
    agreements:
      - id: acme-2022
        start: 2022-01-01
        limits: {items_per_month: 100}
"""


def write_calls(archive, day: dt.date, first_id: int, items: int, name="part-0.parquet"):
    ts = dt.datetime(day.year, day.month, day.day, 9, tzinfo=dt.UTC)
    rows = [call(first_id + i, ts=ts + dt.timedelta(seconds=i), items=items) for i in range(2)]
    write_raw(archive, rows, day=day, name=name)


def _settings(folder: Path):
    return settings_for_test(
        archive=str(folder / "raw"),
        contracts=str(folder / "contracts.yaml"),
        warehouse=str(folder / "wh"),
        reports=str(folder / "reports"),
        first_day=DAYS[0],
        last_day=DAYS[-1],
    )


@pytest.fixture(scope="module")
def backfilled(tmp_path_factory) -> Path:
    """Ten days, 20 items each, backfilled through Dagster in runs of 4 days."""
    folder = tmp_path_factory.mktemp("ten_days")
    for n, day in enumerate(DAYS):
        write_calls(folder / "raw", day, 100 * n, items=10)
    (folder / "contracts.yaml").write_text(CONTRACTS)
    settings = _settings(folder)
    with dg.instance_for_test() as instance:
        outcome = backfill_days(
            build_definitions(settings),
            instance,
            DAYS[0],
            DAYS[-1],
            config=run_config_for(settings),
            chunk_days=4,
        )
    assert outcome.success, [r.error for r in outcome.runs]
    return folder


@pytest.fixture
def audited(backfilled, tmp_path):
    """A copy of the backfilled days, their settings, definitions and an instance that
    knows they were processed."""
    folder = tmp_path / "audit"
    shutil.copytree(backfilled, folder)
    settings = _settings(folder)
    with dg.instance_for_test() as instance:
        mark_processed(instance, *DAYS)
        yield settings, build_definitions(settings), instance


def sensor_tick(audited, cursor: str | None = None):
    """One real evaluation of the late-data sensor over the audited copy."""
    settings, defs, instance = audited
    context = dg.build_sensor_context(
        instance=instance,
        cursor=cursor,
        resources={"audit": AuditResource(**_locations(settings))},
        definitions=defs,
    )
    return defs.resolve_sensor_def("late_data_sensor").evaluate_tick(context)


def monthly_flag_days(settings) -> list[int]:
    flags = warehouse.read_range(settings.warehouse, "anomaly_flags", DAYS[0], DAYS[-1])
    return sorted(flags.filter(pl.col("flag") == "monthly_item_limit")["date"].dt.day().to_list())


def inputs_now(settings) -> FlagInputs:
    return FlagInputs(sha256_file(settings.contracts), detection_sha256(DetectorSettings()))


def test_a_backfill_in_chunks_flags_the_crossing_day_and_the_rest_of_the_month(audited):
    settings, _, _ = audited
    assert monthly_flag_days(settings) == [6, 7, 8, 9, 10]
    assert stale_flag_days(settings.warehouse, DAYS, inputs_now(settings)) == {}


def test_rerunning_one_late_day_recomputes_the_flags_of_the_days_after_it(audited):
    settings, defs, instance = audited
    write_calls(Path(settings.archive), DAYS[1], 900, items=30, name="late.parquet")

    run = run_job(
        defs, DAILY_JOB, instance, config=run_config_for(settings), partition_key="2022-03-02"
    )

    assert run.success, run.error
    assert monthly_flag_days(settings) == [3, 4, 5, 6, 7, 8, 9, 10]
    assert stale_flag_days(settings.warehouse, DAYS, inputs_now(settings)) == {}
    # Dagster records the recomputed days as materialised by that run.
    records = instance.fetch_materializations(dg.AssetKey("anomaly_flags"), limit=100).records
    by_run = {r.partition_key for r in records if r.run_id == run.run_id}
    assert by_run == {d.isoformat() for d in DAYS[1:]}


def test_the_late_data_sensors_run_recomputes_them_too(audited):
    settings, defs, instance = audited

    def tick(cursor=None):
        return sensor_tick(audited, cursor)

    first = tick()
    write_calls(Path(settings.archive), DAYS[1], 900, items=30, name="late.parquet")
    second = tick(first.cursor)
    assert [r.partition_key for r in second.run_requests] == ["2022-03-02"]
    assert DATA_VERSION_TAG in second.asset_events[0].tags

    run = run_job(
        defs,
        DAILY_JOB,
        instance,
        config=run_config_for(settings),
        partition_key=second.run_requests[0].partition_key,
        tags=second.run_requests[0].tags,
    )
    assert run.success, run.error
    assert monthly_flag_days(settings) == [3, 4, 5, 6, 7, 8, 9, 10]


def test_tables_rerun_without_their_flags_make_the_later_flags_stale_naming_the_day(audited):
    settings, _, instance = audited
    write_calls(Path(settings.archive), DAYS[1], 900, items=30, name="late.parquet")
    result = dg.materialize(
        build_assets(settings),
        selection=["usage_daily", "partner_daily", "network_daily", "ingest_daily", "quarantine"],
        resources={"audit": AuditResource(**_locations(settings))},
        instance=instance,
        partition_key="2022-03-02",
    )
    assert result.success

    stale = stale_flag_days(settings.warehouse, DAYS, inputs_now(settings))

    assert sorted(stale) == DAYS[1:]
    assert set(stale.values()) == {"tables of 2022-03-02 re-run after them"}


def test_flags_computed_with_another_contracts_file_are_stale(audited):
    settings, _, _ = audited
    with open(settings.contracts, "a") as handle:
        handle.write("        pricing: {monthly_fee: 100}\n")

    stale = stale_flag_days(settings.warehouse, DAYS, inputs_now(settings))

    assert sorted(stale) == DAYS
    assert set(stale.values()) == {"computed with another contracts.yaml"}


def _locations(settings) -> dict:
    return {k: getattr(settings, k) for k in ("archive", "contracts", "warehouse", "reports")}


def test_a_backfill_leaves_the_dependent_days_inside_its_range_to_their_own_chunk(audited):
    settings, defs, instance = audited

    outcome = backfill_days(
        defs, instance, DAYS[0], DAYS[-1], config=run_config_for(settings), chunk_days=4
    )

    assert outcome.success
    chunk_of = {
        day: run.run_id
        for run, days in zip(outcome.runs, (DAYS[:4], DAYS[4:8], DAYS[8:]), strict=True)
        for day in days
    }
    committed_by = {
        day: manifest.info["run_id"]
        for day, manifest in warehouse.day_manifests(
            settings.warehouse, "anomaly_flags", DAYS[0], DAYS[-1]
        ).items()
    }
    assert committed_by == chunk_of


def test_a_dismissed_volume_flag_re_runs_only_the_flags_from_its_day(audited):
    """The late-data sensor sees flag_reviews.yaml change: a volume flag of 2022-03-04 is
    dismissed, so the flags of that day and of the later days whose history holds it
    are stale. It asks for one run of anomaly_flags alone from that day; the run
    recomputes them, and nothing is left stale."""
    settings, defs, instance = audited
    for day in DAYS:  # the flags of every day exist, as after the backfill
        instance.report_runless_asset_event(
            dg.AssetMaterialization(asset_key="anomaly_flags", partition=day.isoformat())
        )

    def tick(cursor=None):
        return sensor_tick(audited, cursor)

    first = tick()
    reviews = Path(settings.contracts).with_name(REVIEWS_FILE)
    reviews.write_text(
        "reviews:\n"
        "  - {partner: acme, day: 2022-03-04, flag: volume_spike, status: dismissed,\n"
        "     note: planned re-index, reviewer: jdoe, reviewed_at: 2022-03-20}\n"
    )
    dismissed = load_reviews_for(settings).dismissed_volume()
    inputs = FlagInputs(
        sha256_file(settings.contracts), detection_sha256(DetectorSettings()), dismissed
    )
    assert sorted(stale_flag_days(settings.warehouse, DAYS, inputs)) == DAYS[3:]

    second = tick(first.cursor)

    [request] = second.run_requests
    assert request.job_name == DAILY_JOB
    assert request.partition_key == "2022-03-04"
    assert request.asset_selection == [dg.AssetKey("anomaly_flags")]
    [observed] = second.asset_events
    assert observed.asset_key == dg.AssetKey("flag_reviews")
    assert sha256_file(str(reviews)).startswith(observed.tags[DATA_VERSION_TAG])

    result = defs.resolve_job_def(DAILY_JOB).execute_in_process(
        run_config=run_config_for(settings),
        instance=instance,
        partition_key=request.partition_key,
        asset_selection=request.asset_selection,
        tags=request.tags,
    )

    assert result.success
    assert stale_flag_days(settings.warehouse, DAYS, inputs) == {}
    written = {
        (e.asset_key.to_user_string(), e.partition)
        for e in result.get_asset_materialization_events()
        for e in [e.event_specific_data.materialization]
    }
    assert written == {("anomaly_flags", d.isoformat()) for d in DAYS[3:]}
    assert tick(second.cursor).run_requests == []
