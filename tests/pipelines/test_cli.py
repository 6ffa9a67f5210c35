"""The command line as a user types it: what it says, its exit status, what it leaves."""

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from callaudit.pipelines.cli import build_parser, main
from tests.conftest import SAMPLE_START
from tests.services import free_port

ONE_WEEK = ["--start", "2022-03-01", "--end", "2022-03-07"]


@pytest.fixture(autouse=True)
def no_dagster_home(monkeypatch):
    """No DAGSTER_HOME from outside, and none left behind: a CLI run in this process
    points it at its instance, as Dagster needs, and a later test's servers (which
    inherit the environment) must not open this one's."""
    monkeypatch.setenv("DAGSTER_HOME", "")  # recorded, so the teardown restores it
    monkeypatch.delenv("DAGSTER_HOME")


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    """An empty working directory, and no CALLAUDIT_* from outside."""
    for name in list(os.environ):
        if name.startswith("CALLAUDIT_"):
            monkeypatch.delenv(name)
    folder = tmp_path / "work"
    folder.mkdir()
    monkeypatch.chdir(folder)
    return folder


def run(capsys, *argv: str) -> tuple[int, str, str]:
    try:
        status = main(list(argv))
    except SystemExit as exit_:  # argparse's own exits (--help, argument errors)
        status = exit_.code
    out, err = capsys.readouterr()
    return status, out, err


def one_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    return lines[0]


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["backfill", *ONE_WEEK, "--chunk-days", "0"], "--chunk-days: must be 1 or more, not 0"),
        (["backfill", *ONE_WEEK, "--chunk-days", "-2"], "--chunk-days: must be 1 or more, not -2"),
        (["backfill", "--start", "2022-02-30", "--end", "2022-03-01"], "no such day: 2022-02-30"),
        (["backfill", "--start", "1/3/2022", "--end", "2022-03-01"], "YYYY-MM-DD form"),
        (["backfill", "--start", "2022-03-01"], "the following arguments are required: --end"),
        (["report", "--year", "22"], "not a year in YYYY form"),
        (["report", "--start", "2022-04-31", "--end", "2022-06-30"], "no such day: 2022-04-31"),
        (["verify", "--year", "twenty"], "not a year in YYYY form"),
        (["generate", "--scale", "0"], "--scale: must be above 0"),
        (["dev", "--port", "x"], "--port: not a whole number"),
    ],
)
def test_an_argument_mistake_is_one_line_naming_the_option(workdir, capsys, argv, says):
    status, _, err = run(capsys, *argv)
    assert status == 2
    line = one_line(err)
    assert says in line
    assert "--help" in line
    assert list(workdir.iterdir()) == []


def test_a_missing_archive_is_called_missing(workdir, capsys):
    status, _, err = run(capsys, "backfill", *ONE_WEEK, "--archive", "/nope")
    assert status == 1
    assert one_line(err) == (
        "callaudit: archive /nope does not exist (--archive or CALLAUDIT_ARCHIVE; "
        "`callaudit generate` writes a sample one)"
    )
    assert list(workdir.iterdir()) == []


def test_an_end_before_the_start_is_refused(workdir, capsys):
    status, _, err = run(capsys, "backfill", "--start", "2022-03-07", "--end", "2022-03-01")
    assert status == 1
    assert "--end 2022-03-01 is before --start 2022-03-07" in one_line(err)


def test_a_range_with_no_day_folders_says_where_it_looked(workdir, capsys, sample_archive):
    archive = str(sample_archive / "raw")
    status, _, err = run(
        capsys, "backfill", "--start", "2023-01-01", "--end", "2023-01-31", "--archive", archive
    )
    assert status == 1
    assert f"no day folders between 2023-01-01 and 2023-01-31 in archive {archive}" in err
    assert list(workdir.iterdir()) == []


def test_a_bad_setting_in_the_environment_is_named(workdir, capsys, monkeypatch):
    monkeypatch.setenv("CALLAUDIT_WORKERS", "many")
    status, _, err = run(capsys, "backfill", *ONE_WEEK)
    assert status == 1
    assert one_line(err) == "callaudit: CALLAUDIT_WORKERS='many': must be a whole number"


def test_a_deployment_that_cannot_be_reached_is_named(workdir, capsys, sample_archive):
    port = free_port()  # nothing listens there
    archive = str(sample_archive / "raw")
    contracts = str(sample_archive / "contracts.yaml")
    argv = ["backfill", *ONE_WEEK, "--archive", archive, "--contracts", contracts]
    status, _, err = run(capsys, *argv, "--submit", "--dagster-url", f"http://127.0.0.1:{port}")
    assert status == 1
    line = one_line(err)
    assert f"cannot reach the Dagster webserver at http://127.0.0.1:{port}" in line
    assert list(workdir.iterdir()) == []


def test_chunk_days_belong_to_local_runs_not_to_a_deployment(workdir, capsys, sample_archive):
    archive = str(sample_archive / "raw")
    contracts = str(sample_archive / "contracts.yaml")
    argv = ["backfill", *ONE_WEEK, "--archive", archive, "--contracts", contracts]
    status, _, err = run(capsys, *argv, "--submit", "--chunk-days", "7")
    assert status == 1
    assert "CALLAUDIT_BACKFILL_RUN_DAYS" in one_line(err)


def test_every_option_of_every_command_is_explained_in_help():
    parser = build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for name, command in commands.choices.items():
        for action in command._actions:
            assert action.help, f"callaudit {name} {action.option_strings} has no help"


def test_backfill_help_says_what_start_and_end_are(capsys):
    status, out, _ = run(capsys, "backfill", "--help")
    text = " ".join(out.split())
    assert status == 0
    assert "--start DAY first day to process, a UTC day, YYYY-MM-DD" in text
    assert "--end DAY last day to process (inclusive), a UTC day, YYYY-MM-DD" in text


def test_the_installed_command_answers_help():
    command = Path(sys.executable).with_name("callaudit")
    result = subprocess.run([str(command), "--help"], capture_output=True, text=True, check=True)
    for name in ("generate", "backfill", "report", "verify", "evaluate", "dev"):
        assert name in result.stdout


@pytest.fixture(scope="module")
def backfilled(sample_archive, tmp_path_factory):
    """A week of the sample archive backfilled by the CLI from an empty directory."""
    folder = tmp_path_factory.mktemp("cli_backfill")
    shutil.copytree(sample_archive / "raw", folder / "data" / "raw")
    shutil.copy(sample_archive / "contracts.yaml", folder / "data" / "contracts.yaml")
    environ = {k: v for k, v in os.environ.items() if not k.startswith("CALLAUDIT_")}
    environ.pop("DAGSTER_HOME", None)
    command = [str(Path(sys.executable).with_name("callaudit")), "backfill", *ONE_WEEK]
    result = subprocess.run(
        [*command, "--quiet", "--chunk-days", "4"],
        cwd=folder,
        env=environ,
        capture_output=True,
        text=True,
        timeout=600,
    )
    return folder, result


def test_a_backfill_on_local_defaults_writes_the_tables_and_the_report(backfilled):
    folder, result = backfilled
    assert result.returncode == 0, result.stderr
    assert "runs of 4 days" in result.stderr
    assert "2022-03-01..2022-03-04: ok" in result.stderr
    assert "2022-03-05..2022-03-07: ok" in result.stderr
    assert "done: 7 days" in result.stdout
    report = folder / "data" / "reports" / "2022" / "report.html"
    assert f"report: {report}" in result.stdout
    summary = json.loads((report.parent / "summary.json").read_text())
    assert (summary["start"], summary["end"]) == ("2022-03-01", "2022-03-07")
    assert (folder / "dagster_home" / "dagster.yaml").exists()


def test_a_year_without_data_names_the_years_there_are(backfilled, capsys, monkeypatch):
    folder, _ = backfilled
    monkeypatch.chdir(folder)
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    status, _, err = run(capsys, "report", "--year", "1999")
    assert status == 1
    line = one_line(err)
    assert "no data for 1999" in line
    assert "it holds days of 2022" in line


def test_a_report_is_rebuilt_with_its_path_and_headline(backfilled, capsys, monkeypatch):
    folder, _ = backfilled
    monkeypatch.chdir(folder)
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    status, out, err = run(capsys, "report", "--year", SAMPLE_START[:4])
    assert status == 0, err
    path, headline = out.splitlines()[:2]
    assert path == str(folder / "data" / "reports" / "2022" / "report.html")
    assert headline.startswith("Partial year: this 2022 report covers 2022-03-01 to 2022-03-07")


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["report"], "give --year YYYY, or --start DAY and --end DAY"),
        (["report", "--start", "2022-04-01"], "give --year YYYY, or --start DAY and --end DAY"),
        (
            ["report", "--year", "2022", "--start", "2022-04-01"],
            "--year or --start/--end, not both",
        ),
        (["report", "--start", "2022-06-30", "--end", "2022-04-01"], "--end 2022-04-01 is before"),
        (["verify"], "give --year YYYY, or --start DAY and --end DAY"),
    ],
)
def test_a_report_period_is_a_year_or_a_start_and_an_end(workdir, capsys, argv, says):
    status, _, err = run(capsys, *argv)
    assert status == 1
    assert says in one_line(err)
    assert list(workdir.iterdir()) == []


def test_a_quarter_is_reported_in_its_own_folder(backfilled, capsys, monkeypatch):
    folder, _ = backfilled
    monkeypatch.chdir(folder)
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    status, out, err = run(capsys, "report", "--start", "2022-03-02", "--end", "2022-03-05")
    assert status == 0, err
    path, headline = out.splitlines()[:2]
    assert path == str(folder / "data" / "reports" / "2022-03-02_2022-03-05" / "report.html")
    assert headline.startswith("Report for 2022-03-02 to 2022-03-05: 4 days, every one with data.")
    summary = json.loads((Path(path).parent / "summary.json").read_text())
    assert summary["validation"]["days_validated"] == 4
    assert summary["provenance"]["report_run"]  # built by a recorded Dagster run


def test_a_report_just_rebuilt_verifies(backfilled, capsys, monkeypatch):
    folder, _ = backfilled
    monkeypatch.chdir(folder)
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    assert run(capsys, "report", "--year", "2022")[0] == 0
    status, out, err = run(capsys, "verify", "--year", "2022")
    assert status == 0, out + err
    assert out.splitlines()[-1].startswith("report 2022 verified:")


def test_a_refused_report_is_one_line_naming_the_days_and_where_its_log_is(backfilled, tmp_path):
    """Flags computed with another contracts.yaml: the report run fails, and the user
    sees one line (the refusal, naming the days), not Dagster's ERROR log and stack
    trace; the full log is in the run's event log in the instance."""
    folder, _ = backfilled
    changed = tmp_path / "contracts.yaml"
    changed.write_text((folder / "data" / "contracts.yaml").read_text() + "# edited\n")
    environ = {k: v for k, v in os.environ.items() if not k.startswith("CALLAUDIT_")}
    environ.pop("DAGSTER_HOME", None)
    command = [str(Path(sys.executable).with_name("callaudit")), "report", "--year", "2022"]

    result = subprocess.run(
        [*command, "--contracts", str(changed)],
        cwd=folder,
        env=environ,
        capture_output=True,
        text=True,
        timeout=300,
    )

    assert result.returncode == 1
    line = one_line(result.stderr)
    assert line.startswith("callaudit: report 2022 failed: not building the 2022 report: ")
    assert "7 day(s) have stale flags, computed with another contracts.yaml" in line
    assert "(2022-03-01 to 2022-03-07)" in line
    run_id = line.rsplit("full log: Dagster run ", 1)[1].rstrip(")")
    assert (folder / "dagster_home" / "history" / "runs" / f"{run_id}.db").exists()
