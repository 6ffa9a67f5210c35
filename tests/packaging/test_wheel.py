"""callaudit as an ordinary package: a wheel, a fresh virtual environment, no checkout.

The wheel is built from the repository and installed into a new venv; every command
then runs in an empty directory, where only what the wheel ships can be found: the
suites, the instance template, the code location.
"""

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.e2e.graphql import code_location_loaded, graphql, wait_until
from tests.services import free_port, running, wait_for_http

pytestmark = pytest.mark.e2e

DAYS = ["--start", "2022-03-01", "--end", "2022-03-05"]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(out), str(REPO)],
        check=True,
        capture_output=True,
        timeout=600,
    )
    [built] = out.glob("callaudit-*.whl")
    return built


@pytest.fixture(scope="module")
def venv(wheel, tmp_path_factory) -> Path:
    """A fresh virtual environment with the wheel and its dependencies, nothing else."""
    root = tmp_path_factory.mktemp("venv") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(root)], check=True, timeout=300)
    subprocess.run(
        [str(root / "bin" / "python"), "-m", "pip", "install", "--quiet", str(wheel)],
        check=True,
        capture_output=True,
        timeout=1200,
    )
    return root


@pytest.fixture(scope="module")
def empty_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("empty")


def clean_env(venv: Path, **extra: str) -> dict[str, str]:
    """The environment of a new shell: no CALLAUDIT_*, no DAGSTER_HOME, no checkout on
    the path, the venv first on PATH."""
    environ = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("CALLAUDIT_", "PYTHON", "VIRTUAL_ENV")) and k != "DAGSTER_HOME"
    }
    environ["PATH"] = f"{venv / 'bin'}{os.pathsep}{environ.get('PATH', '')}"
    environ["VIRTUAL_ENV"] = str(venv)
    environ["GX_ANALYTICS_ENABLED"] = "false"
    return {**environ, **extra}


def callaudit(venv: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [str(venv / "bin" / "callaudit"), *args],
        cwd=cwd,
        env=clean_env(venv),
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, f"callaudit {' '.join(args)}:\n{result.stderr[-3000:]}"
    return result


def test_the_wheel_holds_one_import_package_with_its_data(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    top_level = {n.split("/", 1)[0] for n in names}
    assert {t for t in top_level if not t.endswith(".dist-info")} == {"callaudit"}
    for shipped in (
        "callaudit/assets/warehouse_tables.py",
        "callaudit/pipelines/definitions.py",
        "callaudit/pipelines/dagster.yaml",
        "callaudit/expectations/usage_daily.json",
        "callaudit/expectations/anomaly_flags.json",
    ):
        assert shipped in names
    assert not any(n.startswith("callaudit/report/devtools") for n in names)


def test_pip_lists_no_generic_top_level_package(venv):
    shown = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "show", "-f", "callaudit"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    files = [line.strip() for line in shown.split("Files:", 1)[1].splitlines() if line.strip()]
    top_level = {f.split("/", 1)[0] for f in files if not f.startswith("..")}
    assert "assets" not in top_level and "pipelines" not in top_level
    assert "callaudit" in top_level


@pytest.fixture(scope="module")
def generated_and_backfilled(venv, empty_dir):
    generate = callaudit(
        venv, empty_dir, "generate", "--scale", "0.0005", *DAYS, "--seed", "7", "--quiet"
    )
    backfill = callaudit(venv, empty_dir, "backfill", *DAYS, "--quiet")
    return generate, backfill


def test_generate_backfill_and_report_work_from_an_empty_directory(
    generated_and_backfilled, venv, empty_dir
):
    generate, backfill = generated_and_backfilled
    assert "5 days 2022-03-01..2022-03-05" in generate.stdout
    assert "done: 5 days" in backfill.stdout
    report = callaudit(venv, empty_dir, "report", "--year", "2022")
    html = empty_dir / "data" / "reports" / "2022" / "report.html"
    assert report.stdout.splitlines()[0] == str(html)
    assert html.exists()
    assert (empty_dir / "dagster_home" / "dagster.yaml").exists()
    # The suites came from the wheel: the checks ran and recorded every day.
    validated = empty_dir / "data" / "warehouse" / "validation_results"
    assert len(list(validated.glob("date=*/part-*.parquet"))) == 5


def test_dagster_validates_the_installed_code_location_anywhere(venv, empty_dir):
    # `dg check defs` needs the project's pyproject.toml and source tree (tests/pipelines/
    # test_definitions.py runs it in the checkout); outside a checkout, Dagster runs the
    # same validation of the code location by module name.
    result = subprocess.run(
        [
            str(venv / "bin" / "dagster"),
            "definitions",
            "validate",
            "-m",
            "callaudit.pipelines.definitions",
        ],
        cwd=empty_dir,
        env=clean_env(venv),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "All code locations passed validation." in result.stdout + result.stderr


def test_dev_serves_the_ui_for_the_runs_made_in_that_directory(
    generated_and_backfilled, venv, empty_dir
):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [str(venv / "bin" / "callaudit"), "dev", "--port", str(port)]
    log = empty_dir.parent / "callaudit_dev.log"
    with running(command, env=clean_env(venv), log_path=log, cwd=empty_dir) as process:
        wait_for_http(f"{url}/server_info", timeout=120, process=process)
        wait_until(lambda: code_location_loaded(url), timeout=120, what="code location loaded")
        runs = graphql(url, "{ runsOrError { ... on Runs { results { jobName status } } } }")
    # The backfill's run and the report runs, recorded in ./dagster_home, all shown.
    results = runs["runsOrError"]["results"]
    assert {r["status"] for r in results} == {"SUCCESS"}
    assert {r["jobName"] for r in results} == {"daily_job", "report_job"}
    assert (empty_dir / "dagster_home" / "workspace.yaml").exists()
