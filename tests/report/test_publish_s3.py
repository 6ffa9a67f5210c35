"""Publishing a report on S3 (a real S3 server, moto, on 127.0.0.1): the new set is
written aside and published only after its blocking checks pass; a reader can always
tell a complete set (no PUBLISHING marker, every file matching SHA256SUMS, which is
written last), and `callaudit verify` says when a publication did not finish."""

import datetime as dt
import json

import boto3
import pytest

from callaudit import storage
from callaudit.contracts import load_contracts
from callaudit.report import Period
from callaudit.report.build import ReportRefused, build_report
from callaudit.report.figures import gather
from callaudit.report.verify import verify_report
from callaudit.report.write import CHECKSUMS, PUBLISHING, STAGING, write_report
from tests.badinput.archives import write_strict_suites
from tests.graph import settings_for_test
from tests.rawlogs import call, write_raw
from tests.report.builders import CONTRACTS_YAML, days, usage, write_day

DAYS = days(dt.date(2022, 3, 1), 3)
YEAR = Period.of_year(2022)


@pytest.fixture
def located(tmp_path, s3_bucket):
    """Three days of raw files and tables on the local disk, reports on S3."""
    contracts = tmp_path / "contracts.yaml"
    contracts.write_text(CONTRACTS_YAML)
    for n, day in enumerate(DAYS):
        write_raw(tmp_path / "raw", [call(10 * n + i) for i in range(3)], day=day)
        write_day(tmp_path / "wh", day, [usage("acme", 10, 100)], flag_rows=[])
    return settings_for_test(
        archive=str(tmp_path / "raw"),
        contracts=str(contracts),
        warehouse=str(tmp_path / "wh"),
        reports=f"{s3_bucket}/reports",
    )


def objects(reports: str) -> dict[str, bytes]:
    """Every object under ``reports`` (its key below it -> content), read with boto3."""
    bucket, prefix = reports.removeprefix("s3://").split("/", 1)
    client = boto3.client("s3")
    found = {}
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            body = client.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
            found[item["Key"].removeprefix(prefix + "/")] = body
    return found


def test_a_report_on_s3_is_published_whole_and_verifies(located):
    build_report(located, YEAR, pdf=False)

    published = objects(located.reports)
    assert sorted(published) == [
        f"2022/{name}"
        for name in sorted(
            ["SHA256SUMS", "flags.csv", "partners.csv", "report.html", "report.md", "summary.json"]
        )
    ]  # no marker left, nothing left in staging
    summary = json.loads(published["2022/summary.json"])
    assert summary["partners"][0]["calls"] == 30
    result = verify_report(located, YEAR)
    assert result.ok, result.differences
    assert f"report files match {CHECKSUMS}" in result.checked


def test_a_report_that_fails_a_blocking_check_leaves_the_s3_set_untouched(
    located, tmp_path, monkeypatch
):
    build_report(located, YEAR, pdf=False)
    before = objects(located.reports)
    monkeypatch.setenv("CALLAUDIT_EXPECTATIONS", str(write_strict_suites(tmp_path / "suites")))

    with pytest.raises(ReportRefused) as refused:
        build_report(located, YEAR, pdf=False)

    assert "not publishing the 2022 report, the previous one is kept" in str(refused.value)
    assert objects(located.reports) == before  # byte for byte, and no staging left over


def test_a_publication_that_did_not_finish_is_told_by_verify_until_the_next_one(located):
    build_report(located, YEAR, pdf=False)
    report = gather(located.warehouse, load_contracts(located.contracts), YEAR)
    report.provenance = None  # the new set's summary differs from the published one

    def lose_a_staged_file(summary: dict) -> None:
        """The blocking checks passed; then the staged report.md disappears (a lifecycle
        rule, a second cleaner) and the copy fails after some files were replaced."""
        [staged] = {
            key.split("/")[1] for key in objects(located.reports) if key.startswith(STAGING)
        }
        storage.remove(storage.join(located.reports, STAGING, staged, "report.md"))

    with pytest.raises(FileNotFoundError):
        write_report(report, located.reports, pdf=False, before_publish=lose_a_staged_file)

    published = objects(located.reports)
    assert f"2022/{PUBLISHING}" in published
    began = json.loads(published[f"2022/{PUBLISHING}"])
    result = verify_report(located, YEAR)
    assert not result.ok
    assert result.differences[-2].startswith(
        f"report files are not a complete set: publication of {began['set']} started at "
        f"{began['started']} has not finished"
    )
    assert result.differences[-1] == "report file report.html was changed after it was written"

    build_report(located, YEAR, pdf=False)  # the next report replaces it whole
    assert f"2022/{PUBLISHING}" not in objects(located.reports)
    assert verify_report(located, YEAR).ok
