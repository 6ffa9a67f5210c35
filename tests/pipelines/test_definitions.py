"""The shape of the code location, pinned: a change to the graph shows up as a diff.

As Dagster's dagster-open-platform does in its test_defs.py, the definitions are built
under each kind of deployment (an open archive, a closed one, automation on) and their
shape is compared with a stored snapshot (syrupy; `--snapshot-update` rewrites it after
an intended change). Also: Dagster loads the code location the way `dagster dev`, `dg`
and workspace.yaml name it.
"""

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest
import yaml

from callaudit.pipelines import tags
from callaudit.pipelines.cli import workspace_yaml
from callaudit.pipelines.definitions import CODE_LOCATION, DEFINITIONS_MODULE, build_definitions
from callaudit.settings import load_settings
from tests.conftest import REPO
from tests.graph import settings_for_test

DEPLOYMENTS = {
    "open_archive": settings_for_test(),
    "closed_archive": settings_for_test(
        first_day=dt.date(2022, 1, 1), last_day=dt.date(2022, 12, 31)
    ),
    "automation_running": settings_for_test(automation="running", nightly_cron="30 3 * * *"),
    "celery_workers": settings_for_test(backfill_run_days=3),
}


def _partitions(definition) -> str | None:
    partitions = definition.partitions_def
    if partitions is None:
        return None
    if isinstance(partitions, dg.TimeWindowPartitionsDefinition):
        end = partitions.end.date().isoformat() if partitions.end else "open"
        return f"{partitions.cron_schedule} from {partitions.start.date()} to {end}"
    return type(partitions).__name__


def shape(defs: dg.Definitions) -> dict:
    """What a reviewer should see change: assets, checks, jobs, automation, resources."""
    graph = defs.resolve_asset_graph()
    assets = {}
    for key in sorted(graph.get_all_asset_keys(), key=lambda k: k.to_user_string()):
        node = graph.get(key)
        assets[key.to_user_string()] = {
            "group": node.group_name,
            "kinds": sorted(node.kinds),
            "owners": list(node.owners),
            "executable": node.is_executable,
            "partitions": _partitions(node),
            "backfill_policy": str(node.backfill_policy) if node.backfill_policy else None,
            "deps": sorted(k.to_user_string() for k in node.parent_keys),
            "columns": [
                c.name
                for c in node.metadata.get("dagster/column_schema", dg.TableSchema([])).columns
            ],
            "has_description": bool(node.description),
        }
    checks = {
        f"{key.asset_key.to_user_string()}:{key.name}": {"blocking": graph.get(key).blocking}
        for key in sorted(graph.asset_check_keys, key=lambda k: (k.asset_key.path, k.name))
    }
    jobs = {}
    for job in sorted(defs.resolve_all_job_defs(), key=lambda j: j.name):
        if job.name.startswith("__"):
            continue
        jobs[job.name] = {
            "assets": sorted(k.to_user_string() for k in job.asset_layer.executable_asset_keys),
            "partitions": _partitions(job),
        }
    schedules = {
        s.name: {
            "cron": s.cron_schedule,
            "timezone": s.execution_timezone,
            "job": s.job_name,
            "default_status": s.default_status.value,
        }
        for s in defs.schedules or []
    }
    sensors = {
        s.name: {
            "type": type(s).__name__,
            "jobs": sorted(t.job_name for t in s.targets),
            "minimum_interval_seconds": s.minimum_interval_seconds,
            "default_status": s.default_status.value,
        }
        for s in defs.sensors or []
    }
    return {
        "assets": assets,
        "checks": checks,
        "jobs": jobs,
        "schedules": schedules,
        "sensors": sensors,
        "resources": sorted(defs.resources or {}),
    }


@pytest.mark.parametrize("deployment", sorted(DEPLOYMENTS))
def test_the_definitions_keep_their_shape(deployment, snapshot):
    assert shape(build_definitions(DEPLOYMENTS[deployment])) == snapshot


def _partner_days_of_flag_day(defs: dg.Definitions, day: str) -> list[str]:
    """The partner_daily partitions Dagster takes a flag day to depend on."""
    graph = defs.resolve_asset_graph()
    flags = graph.get(dg.AssetKey("anomaly_flags"))
    partitions = flags.partitions_def
    mapping = graph.get_partition_mapping(flags.key, dg.AssetKey("partner_daily"))
    upstream = mapping.get_upstream_mapped_partitions_result_for_partitions(
        partitions.subset_with_partition_keys([day]), partitions, partitions
    )
    return sorted(upstream.partitions_subset.get_partition_keys())


def test_a_flag_day_depends_on_the_same_day_and_reads_its_history_itself():
    # A window over earlier days would make a UI backfill of a range also select the
    # later days' flags (Dagster issue 13255); the run reads the history instead.
    defs = build_definitions(settings_for_test())
    flags = defs.resolve_asset_graph().get(dg.AssetKey("anomaly_flags"))
    assert flags.metadata["history_days"] == 112
    assert _partner_days_of_flag_day(defs, "2022-06-01") == ["2022-06-01"]


def test_with_parallel_backfill_runs_a_flag_day_depends_on_its_history_window():
    # The daemon then orders the chunks: a chunk's flags wait for their history's tables.
    defs = build_definitions(settings_for_test(backfill_run_days=3))
    days = _partner_days_of_flag_day(defs, "2022-06-01")
    assert (days[0], days[-1], len(days)) == ("2022-02-09", "2022-06-01", 113)


def test_the_history_window_follows_the_detection_settings(tmp_path):
    detection = tmp_path / "detection.yaml"
    detection.write_text("defaults: {baseline_weeks: 4}\n")
    defs = build_definitions(settings_for_test(detection=str(detection)))
    flags = defs.resolve_asset_graph().get(dg.AssetKey("anomaly_flags"))
    assert flags.metadata["history_days"] == 56


def _archive_of(folder: Path, *days: dt.date) -> str:
    for day in days:
        (folder / f"date={day.isoformat()}").mkdir(parents=True)
    return str(folder)


def _daily_keys(defs: dg.Definitions) -> list[str]:
    return defs.resolve_job_def("daily_job").partitions_def.get_partition_keys()


def _yearly_keys(defs: dg.Definitions) -> list[str]:
    return defs.resolve_job_def("report_job").partitions_def.get_partition_keys()


def test_without_days_set_the_partitions_are_the_closed_archives_days(tmp_path):
    archive = _archive_of(tmp_path / "raw", dt.date(2022, 3, 1), dt.date(2022, 3, 4))
    (tmp_path / "raw" / "date=2022-02-30").mkdir()  # not a day: not a partition either
    defs = build_definitions(load_settings(environ={"CALLAUDIT_ARCHIVE": archive}))
    assert _daily_keys(defs) == ["2022-03-01", "2022-03-02", "2022-03-03", "2022-03-04"]
    assert _yearly_keys(defs) == ["2022"]


def test_an_archive_still_written_keeps_an_open_end_up_to_today(tmp_path):
    today = dt.datetime.now(dt.UTC).date()
    first = today - dt.timedelta(days=10)
    archive = _archive_of(tmp_path / "raw", first, today - dt.timedelta(days=2))
    defs = build_definitions(load_settings(environ={"CALLAUDIT_ARCHIVE": archive}))
    keys = _daily_keys(defs)
    assert (keys[0], keys[-1]) == (first.isoformat(), (today - dt.timedelta(days=1)).isoformat())
    assert defs.resolve_job_def("daily_job").partitions_def.end is None


def test_days_set_in_the_settings_win_over_the_archives(tmp_path):
    archive = _archive_of(tmp_path / "raw", dt.date(2022, 3, 1), dt.date(2022, 3, 4))
    environ = {"CALLAUDIT_ARCHIVE": archive, "CALLAUDIT_LAST_DAY": "2022-03-10"}
    keys = _daily_keys(build_definitions(load_settings(environ=environ)))
    assert (keys[0], keys[-1], len(keys)) == ("2022-03-01", "2022-03-10", 10)


def test_a_cli_range_beyond_the_archive_widens_the_window(tmp_path):
    archive = _archive_of(tmp_path / "raw", dt.date(2022, 3, 1), dt.date(2022, 3, 4))
    settings = load_settings(environ={"CALLAUDIT_ARCHIVE": archive})
    covered = settings.with_partition_window(cover=(dt.date(2022, 2, 27), dt.date(2022, 3, 6)))
    assert (covered.first_day, covered.last_day) == (dt.date(2022, 2, 27), dt.date(2022, 3, 6))


def test_dagster_loads_the_code_location_from_its_module_with_the_process_settings():
    environ = {k: v for k, v in os.environ.items() if not k.startswith("CALLAUDIT_")}
    environ["CALLAUDIT_LAST_DAY"] = "2022-12-31"
    script = (
        "import dagster as dg\n"
        f"import {DEFINITIONS_MODULE} as module\n"
        "defs = module.defs()\n"
        "print(defs.resolve_job_def('daily_job').partitions_def.get_last_partition_key())\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], env=environ, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip().splitlines()[-1] == "2022-12-31"


def test_workspace_yaml_and_pyproject_name_the_same_code_location():
    workspace = yaml.safe_load((REPO / "workspace.yaml").read_text())
    assert workspace == yaml.safe_load(workspace_yaml(DEFINITIONS_MODULE, CODE_LOCATION))
    import tomllib

    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    dg_project = project["tool"]["dg"]["project"]
    assert dg_project["code_location_target_module"] == DEFINITIONS_MODULE
    assert dg_project["code_location_name"] == CODE_LOCATION
    assert Path(REPO, *dg_project["defs_module"].split(".")).is_dir()


def test_dg_checks_the_definitions():
    dg_command = Path(sys.executable).with_name("dg")
    result = subprocess.run(
        [str(dg_command), "check", "defs"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "All definitions loaded successfully." in result.stdout


def test_the_tag_names_are_dagsters_own():
    from dagster._core.definitions.data_version import DATA_VERSION_TAG
    from dagster._core.storage import tags as dagster_tags

    assert tags.PARTITION_RANGE_START_TAG == dagster_tags.ASSET_PARTITION_RANGE_START_TAG
    assert tags.PARTITION_RANGE_END_TAG == dagster_tags.ASSET_PARTITION_RANGE_END_TAG
    assert tags.PARTITION_TAG == dagster_tags.PARTITION_NAME_TAG
    assert tags.BACKFILL_ID_TAG == dagster_tags.BACKFILL_ID_TAG
    assert tags.DATA_VERSION_TAG == DATA_VERSION_TAG
