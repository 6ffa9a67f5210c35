"""From raw call logs to a report, and the report rebuilt through Dagster."""

import datetime as dt
import json
import re
from pathlib import Path

import dagster as dg
import pytest

from callaudit.assets.partitions import build_partitions
from callaudit.assets.resources import AUDIT_RESOURCE_KEY, AuditResource
from callaudit.pipelines.backfill import run_config_for, run_job
from callaudit.pipelines.jobs import build_report_job
from callaudit.pipelines.reporting import build_reports
from callaudit.raw_to_tables import process_days
from callaudit.report import gather_year, write_report
from tests.conftest import REPO
from tests.graph import assets_def, settings_for_test
from tests.rawlogs import at, call, write_raw
from tests.report.builders import CONTRACTS_YAML, contracts, usage, write_day

DAYS = (dt.date(2022, 3, 1), dt.date(2022, 3, 2))


def test_a_report_from_raw_logs_counts_every_valid_call(tmp_path):
    archive, wh = tmp_path / "raw", tmp_path / "wh"
    for day in DAYS:
        rows = [call(i, ts=at(9, 0, i, day=day)) for i in range(1, 6)]
        rows.append(call(1, ts=at(9, 0, 1, day=day)))  # shipped twice
        write_raw(archive, rows, day=day)
    c = contracts()
    results, failures = process_days(str(archive), str(wh), list(DAYS), c.restricted_networks)
    assert not failures
    files = write_report(gather_year(str(wh), c, 2022), str(tmp_path / "reports"), pdf=False)
    written = json.loads(Path(files.files["summary.json"]).read_text())
    assert written["totals"]["calls"] == sum(r.ingest["rows_valid"] for r in results) == 10
    assert written["data_quality"]["duplicates"] == 2
    assert written["partners"][0]["items"] == 10 * call(1)["items"]


@pytest.fixture
def located(tmp_path):
    contracts_path = tmp_path / "contracts.yaml"
    contracts_path.write_text(CONTRACTS_YAML)
    wh = tmp_path / "wh"
    write_day(wh, dt.date(2022, 6, 1), [usage("acme", 7, 70)], flag_rows=[])
    return settings_for_test(
        archive=str(tmp_path / "raw"),
        contracts=str(contracts_path),
        warehouse=str(wh),
        reports=str(tmp_path / "reports"),
    )


@pytest.fixture
def defs():
    """Only the report and its job: these days are written by hand, not by the graph."""
    yearly = build_partitions(settings_for_test()).yearly
    return dg.Definitions(
        assets=[assets_def("yearly_report")],
        jobs=[build_report_job(yearly)],
        resources={AUDIT_RESOURCE_KEY: AuditResource()},
    )


def test_build_reports_runs_the_report_job_and_returns_path_and_headline(located, defs, tmp_path):
    with dg.DagsterInstance.ephemeral() as instance:
        built = build_reports(defs, instance, located, [2022])
    [report] = built
    assert report.path == str(tmp_path / "reports" / "2022" / "report.html")
    assert Path(report.path).exists()
    assert report.headline.startswith(
        "Partial year: this 2022 report covers 2022-06-01 to 2022-06-01"
    )
    assert "Acme's apps called the API 7 times" in report.headline


def test_build_reports_for_a_year_without_data_says_so(located, defs):
    with (
        dg.DagsterInstance.ephemeral() as instance,
        pytest.raises(ValueError, match="no data for 2023"),
    ):
        build_reports(defs, instance, located, [2023])


def test_the_asset_itself_fails_with_a_readable_reason_for_a_year_without_data(located, defs):
    config = run_config_for(located)
    with dg.DagsterInstance.ephemeral() as instance:
        run = run_job(defs, "report_job", instance, config=config, partition_key="2023")
    assert not run.success
    assert "no data for 2023" in run.error


def readme_summary_keys() -> dict[str, list[str]]:
    """The README's list of summary.json keys, a line per object:
    "- `path`: `key`, `key` — what they mean" (or "— and `path`: `key`, ..." for a second)."""
    text = (REPO / "README.md").read_text()
    section = text.split("**`summary.json`**, key by key", 1)[1].split("\n\n", 2)[1]
    listed = {}
    for line in section.splitlines():
        head, _, tail = line.removeprefix("- ").partition(" — ")
        for part in [head, *([tail.removeprefix("and ")] if tail.startswith("and `") else [])]:
            path, keys = part.split(": ", 1)
            listed[path.strip("`")] = re.findall(r"`([a-z_0-9]+)`", keys)
    return listed


def test_the_readme_lists_every_key_of_summary_json_in_order(located, defs):
    with dg.DagsterInstance.ephemeral() as instance:
        [built] = build_reports(defs, instance, located, [2022])
    written = json.loads((Path(built.path).parent / "summary.json").read_text())
    partner, provenance = written["partners"][0], written["provenance"]
    listed = readme_summary_keys()

    objects = {
        "top level": written,
        "partners[]": partner,
        "partners[].fees": partner["fees"],
        "partners[].fees.months[]": partner["fees"]["months"][0],
        "totals": written["totals"],
        "reviews": written["reviews"],
        "data_quality": written["data_quality"],
        "validation": written["validation"],
        "provenance": provenance,
    }
    for path, value in objects.items():
        assert listed[path] == list(value), path
    finding = listed["partners[].findings[]"]
    assert all(list(f)[: len(finding)] == finding for f in partner["findings"])
    for path, rows in {
        "data_gaps[]": written["data_gaps"],
        "validation.checks[]": written["validation"]["checks"],
        "provenance.days[]": provenance["days"],
        "provenance.days[].files[]": [f for day in provenance["days"] for f in day["files"]],
        "provenance.runs[]": provenance["runs"],
    }.items():
        assert all(list(row) == listed[path] for row in rows), path
