"""Every case of the bad-archive corpus, run through the real command line, gives its
expected exit status, message and warehouse."""

import json
import os
import shutil
from pathlib import Path

import polars as pl
import pytest

from callaudit import warehouse
from callaudit.pipelines.cli import main
from tests.badinput.archives import ARCHIVE_CASES, BACKFILL, ArchiveCase, Workspace, good_archive


def _clean_env(monkeypatch) -> None:
    for name in [n for n in os.environ if n.startswith("CALLAUDIT_")]:
        monkeypatch.delenv(name)


@pytest.fixture(scope="module")
def backfilled(tmp_path_factory) -> Path:
    """The good archive backfilled once (`callaudit backfill`), with its Dagster instance:
    cases that start from there copy it."""
    root = tmp_path_factory.mktemp("backfilled")
    ws = Workspace(root / "case")
    good_archive(ws)
    with pytest.MonkeyPatch.context() as monkeypatch:
        _clean_env(monkeypatch)
        monkeypatch.setenv("DAGSTER_HOME", str(root / "dagster_home"))
        monkeypatch.chdir(root)
        assert main([*BACKFILL, *ws.locations(), "--quiet"]) == 0
    return root


@pytest.fixture
def workspace(request, tmp_path, monkeypatch, backfilled) -> Workspace:
    """A case's folders and Dagster instance (copies of the backfilled ones when the case
    starts from there), and no CALLAUDIT_* from outside."""
    case: ArchiveCase = request.node.callspec.params["case"]
    _clean_env(monkeypatch)
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    monkeypatch.chdir(tmp_path)
    ws = Workspace(tmp_path / "case")
    if case.backfilled:
        shutil.copytree(backfilled, tmp_path, dirs_exist_ok=True)
    else:
        case.archive(ws)
    return ws


def usage_calls(ws: Workspace, day) -> int | None:
    if not warehouse.has_partition(str(ws.warehouse), "usage_daily", day):
        return None
    return int(warehouse.read_partition(str(ws.warehouse), "usage_daily", day)["calls"].sum())


@pytest.mark.parametrize("case", ARCHIVE_CASES, ids=[c.id for c in ARCHIVE_CASES])
def test_each_bad_archive_gets_its_expected_answer(
    workspace, capsys, monkeypatch, case: ArchiveCase
):
    ws = workspace
    published: dict[str, bytes] = {}
    for number, step in enumerate(case.steps, 1):
        step.change(ws)
        for name, value in step.env.items():
            monkeypatch.setenv(name, str(ws.root / value))
        status = main([*step.command, *ws.locations(), "--quiet"][: _argc(step.command, ws)])
        out, err = capsys.readouterr()
        said = out + err
        assert status == step.status, f"step {number} {step.command}: {said}"
        for fragment in step.says:
            assert fragment in said, f"step {number} {step.command}: {fragment!r} not in {said}"
        if status:
            assert len([line for line in err.splitlines() if line.startswith("callaudit:")]) == 1
        elif step.command[0] == "report":
            published = _files(ws.reports / "2022")
        for name in step.env:
            monkeypatch.delenv(name)

    days = sorted(case.calls)
    assert {d: usage_calls(ws, d) for d in days} == case.calls
    gaps = warehouse.data_gaps(str(ws.warehouse), days) if ws.warehouse.exists() else {}
    assert sorted(gaps) == sorted(case.gaps)
    for day, fragment in case.gaps.items():
        assert fragment in gaps[day]
    if case.gaps and case.steps[-1].status == 0:  # a gap stops no other day's flags
        flagged = warehouse.partition_days(str(ws.warehouse), "anomaly_flags")
        assert [d for d in days if case.calls[d] is not None and d not in flagged] == []
    if case.flags:
        flags = warehouse.read_range(str(ws.warehouse), "anomaly_flags", days[0], days[-1])
        for flag, flagged in case.flags.items():
            on = sorted(flags.filter(pl.col("flag") == flag)["date"].unique().to_list())
            assert on == sorted(flagged), flag
    if case.report_kept:
        assert published, "no report was published"
        assert _files(ws.reports / "2022") == published
    if case.report_says or case.report_gaps:
        folder = ws.reports / "2022"
        markdown = (folder / "report.md").read_text()
        for fragment in case.report_says:
            assert fragment in markdown
        summary = json.loads((folder / "summary.json").read_text())
        assert [g["date"] for g in summary["data_gaps"]] == list(case.report_gaps)


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def _argc(command: tuple[str, ...], ws: Workspace) -> int:
    """`report` takes no --quiet: leave it off."""
    return len(command) + len(ws.locations()) + (1 if command[0] == "backfill" else 0)
