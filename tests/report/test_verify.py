"""`callaudit verify`: a written report still matches its inputs and totals, or it names
the day and file (or input, or figure) that changed."""

import datetime as dt
import json
from pathlib import Path

import polars as pl
import pytest

from callaudit import warehouse
from callaudit.pipelines.cli import main
from callaudit.report import Period
from callaudit.report.build import build_report
from callaudit.report.verify import NoReportError, verify_report
from callaudit.schema import USAGE_DAILY
from tests.graph import settings_for_test
from tests.rawlogs import call, write_raw
from tests.report.builders import CONTRACTS_YAML, days, usage, write_day

DAYS = days(dt.date(2022, 3, 1), 3)


@pytest.fixture
def written(tmp_path):
    """A 2022 report over three days, with its raw files, contracts and warehouse."""
    contracts = tmp_path / "contracts.yaml"
    contracts.write_text(CONTRACTS_YAML)
    for day in DAYS:
        for part in range(2):
            write_raw(tmp_path / "raw", [call(part * 10 + i) for i in range(5)], day=day,
                      name=f"part-{part}.parquet")  # fmt: skip
        write_day(tmp_path / "wh", day, [usage("acme", 10, 100)], flag_rows=[])
    settings = settings_for_test(
        archive=str(tmp_path / "raw"),
        contracts=str(contracts),
        warehouse=str(tmp_path / "wh"),
        reports=str(tmp_path / "reports"),
    )
    build_report(settings, Period.of_year(2022), pdf=False)
    return settings


def test_an_untouched_report_verifies(written):
    result = verify_report(written, Period.of_year(2022))

    assert result.ok, result.differences
    assert result.files == 6
    assert any(line.startswith("archive ") and "matches" in line for line in result.checked)
    assert any("totals from the warehouse" in line for line in result.checked)


def test_a_changed_raw_file_is_named_with_its_day(written):
    path = Path(written.archive) / "date=2022-03-02" / "part-1.parquet"
    write_raw(Path(written.archive), [call(99)], day=dt.date(2022, 3, 2), name="part-1.parquet")

    result = verify_report(written, Period.of_year(2022))

    assert path.exists()
    assert len(result.differences) == 1
    assert result.differences[0].startswith("2022-03-02 part-1.parquet: content changed (sha256 ")


def test_an_added_and_a_removed_file_are_named(written):
    archive = Path(written.archive)
    write_raw(archive, [call(1)], day=dt.date(2022, 3, 3), name="part-late.parquet")
    (archive / "date=2022-03-01" / "part-0.parquet").unlink()

    result = verify_report(written, Period.of_year(2022))

    assert result.differences == [
        "2022-03-01 part-0.parquet: removed from the archive",
        "2022-03-03 part-late.parquet: added to the archive since the report",
    ]


def test_a_changed_contracts_file_is_named(written):
    Path(written.contracts).write_text(
        CONTRACTS_YAML.replace("per_1k_items: 0.5", "per_1k_items: 0.7")
    )

    result = verify_report(written, Period.of_year(2022))

    assert result.differences[0].startswith(f"contracts {written.contracts} changed: sha256 ")
    # The fees at the new rates no longer match the report's either.
    assert any(d.startswith("partner acme fees total:") for d in result.differences)


def test_a_total_the_warehouse_no_longer_backs_is_named(written):
    frame = warehouse.read_partition(written.warehouse, USAGE_DAILY, DAYS[1])
    warehouse.write_partition(
        written.warehouse, USAGE_DAILY, DAYS[1], frame.with_columns(pl.col("calls") + 1)
    )

    result = verify_report(written, Period.of_year(2022))

    assert "partner acme calls: 30 in the report, 31 now" in result.differences
    assert "totals calls: 30 in the report, 31 now" in result.differences


def test_an_edited_report_file_is_named(written):
    page = Path(written.reports) / "2022" / "report.md"
    page.write_text(page.read_text().replace("30", "3"))

    result = verify_report(written, Period.of_year(2022))

    assert result.differences == ["report file report.md was changed after it was written"]


def test_a_report_that_was_never_written_is_an_error_not_a_mismatch(written):
    with pytest.raises(NoReportError, match="no report for 2021"):
        verify_report(written, Period.of_year(2021))


def run_cli(capsys, *argv):
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def test_the_command_exits_0_when_everything_matches(written, capsys):
    status, out, err = run_cli(capsys, "verify", "--year", "2022", "--reports", written.reports)

    assert status == 0, err
    assert out.strip().splitlines()[-1].startswith("report 2022 verified: 6 raw files")
    assert err == ""


def test_the_command_exits_1_naming_the_day_and_file_that_changed(written, capsys):
    write_raw(Path(written.archive), [call(7)], day=dt.date(2022, 3, 2), name="part-0.parquet")

    status, out, err = run_cli(capsys, "verify", "--year", "2022", "--reports", written.reports)

    assert status == 1
    assert err.count("\n") == 1
    assert err.startswith(
        "callaudit: report 2022 no longer matches its inputs: 2022-03-02 part-0.parquet: "
        "content changed"
    )
    assert "CHANGED: 2022-03-02 part-0.parquet" in out


def test_summary_json_records_every_file_of_every_day(written):
    summary = json.loads((Path(written.reports) / "2022" / "summary.json").read_text())

    prov = summary["provenance"]
    assert [d["date"] for d in prov["days"]] == ["2022-03-01", "2022-03-02", "2022-03-03"]
    assert [f["name"] for f in prov["days"][0]["files"]] == ["part-0.parquet", "part-1.parquet"]
    assert set(prov) >= {
        "version",
        "git_commit",
        "contracts_sha256",
        "archive_sha256",
        "days",
        "runs",
        "warehouse",
        "generated_at",
    }
