"""Building a report: validation over the whole period, refusals naming the days, and
reviews that change the flags (a dismissed volume flag is a normal day)."""

import datetime as dt
import hashlib
import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from callaudit import warehouse
from callaudit.contracts import parse_contracts
from callaudit.flags.flag_range import flag_range
from callaudit.flags.freshness import FlagInputs, detection_sha256
from callaudit.flags.settings import DetectorSettings
from callaudit.flags.volume import history_days_needed
from callaudit.report import Period
from callaudit.report.build import ReportRefused, build_report, refusal
from callaudit.report.html import render_html
from callaudit.reviews import REVIEWS_FILE, parse_reviews
from callaudit.schema import INGEST_DAILY, NETWORK_DAILY, PARTNER_DAILY, QUARANTINE, USAGE_DAILY
from callaudit.validation.outcome import CRITICAL, WARNING, Finding
from callaudit.validation.results import daily_check_names, record_findings
from tests.graph import settings_for_test
from tests.report.builders import CONTRACTS_YAML, days, usage, write_day

MARCH = days(dt.date(2022, 3, 1), 31)


def located(tmp_path: Path, **values):
    contracts = tmp_path / "contracts.yaml"
    if not contracts.exists():
        contracts.write_text(CONTRACTS_YAML)
    return settings_for_test(
        archive=str(tmp_path / "raw"),
        contracts=str(contracts),
        warehouse=str(tmp_path / "wh"),
        reports=str(tmp_path / "reports"),
        **values,
    )


def validate(wh: str, day: dt.date, *, failing: str | None = None, severity: str = CRITICAL):
    """Record every daily check's findings of ``day``, ``failing`` one not met."""
    findings = [
        Finding(day, check, check.rsplit("_", 1)[0], "expect_ok", "", severity,
                check != failing, unexpected_count=int(check == failing))
        for check in daily_check_names()
    ]  # fmt: skip
    record_findings(wh, findings, daily_check_names())


@pytest.fixture
def march(tmp_path):
    """March 2022 for acme, validated on every day but the 30th and 31st."""
    settings = located(tmp_path)
    for day in MARCH:
        write_day(settings.warehouse, day, [usage("acme", 10, 100)], flag_rows=[])
        if day.day < 30:
            validate(settings.warehouse, day)
    return settings


def test_validation_covers_every_day_of_the_period_not_the_last_run(march):
    validate(march.warehouse, dt.date(2022, 3, 7), failing="usage_daily_suite", severity=WARNING)

    built = build_report(march, Period.of_year(2022), pdf=False)
    validation = json.loads(Path(built.files.files["summary.json"]).read_text())["validation"]

    assert validation["days_in_range"] == 31
    assert validation["days_validated"] == 29
    assert validation["failed_days"] == []
    assert validation["warned_days"] == ["2022-03-07"]
    assert validation["warnings"] == {"2022-03-07": ["usage_daily_suite: expect_ok"]}
    assert validation["not_validated_days"] == ["2022-03-30", "2022-03-31"]
    assert "29 of 31 days with data validated by every daily check" in render_html(built.report)


def test_a_day_that_failed_validation_is_refused_by_name(march):
    validate(march.warehouse, dt.date(2022, 3, 9), failing="ingest_daily_adds_up")

    with pytest.raises(ReportRefused) as refused:
        build_report(march, Period.of_year(2022), pdf=False)

    assert str(refused.value).startswith(
        "not building the 2022 report: 1 day(s) failed validation "
        "(2022-03-09: ingest_daily_adds_up: expect_ok)"
    )
    assert refused.value.days == [dt.date(2022, 3, 9)]
    assert not Path(march.reports, "2022").exists()


def test_days_without_flags_are_refused_by_name(march):
    write_day(march.warehouse, dt.date(2022, 4, 1), [usage("acme", 1, 1)], flag_rows=None)
    write_day(march.warehouse, dt.date(2022, 4, 2), [usage("acme", 1, 1)], flag_rows=None)

    found = refusal(march.warehouse, Period.between(dt.date(2022, 3, 1), dt.date(2022, 4, 30)))

    assert "2 day(s) have no flags (2022-04-01 to 2022-04-02)" in str(found)
    assert refusal(march.warehouse, Period.between(MARCH[0], MARCH[-1])) is None


# --- reviews change flags: the weekly job of tests/flags/test_volume.py, end to end ------

FIRST = dt.date(2022, 1, 3)  # a Monday
SERIES = days(FIRST, 160)
JOB = [70 + 7 * k for k in range(13)]  # a planned Monday job triples calls from mid-March
VOLUME_CONTRACTS = (
    "partners:\n  - id: acme\n    agreements:\n      - {id: acme-2022, start: 2022-01-01}\n"
)


def _day_tables(day: dt.date, calls: int) -> dict:
    row = usage("acme", calls, calls * 30)
    partner = {c: 0 for c in PARTNER_DAILY.schema} | {
        "partner_id": "acme",
        "calls": calls,
        "items": calls * 30,
        "bytes": row["bytes"],
    }
    ingest = {c: 0 for c in INGEST_DAILY.schema} | {
        "files": 1,
        "rows_read": calls,
        "rows_valid": calls,
        "skipped_file_names": "",
    }
    return {
        USAGE_DAILY: pl.DataFrame([row], schema=USAGE_DAILY.schema),
        PARTNER_DAILY: pl.DataFrame([partner], schema=PARTNER_DAILY.schema),
        NETWORK_DAILY: NETWORK_DAILY.empty(),
        QUARANTINE: QUARANTINE.empty(),
        INGEST_DAILY: pl.DataFrame([ingest], schema=INGEST_DAILY.schema),
    }


def _flag(settings, dismissed=frozenset()) -> None:
    detection = DetectorSettings()
    sha = hashlib.sha256(Path(settings.contracts).read_bytes()).hexdigest()
    flag_range(
        settings.warehouse,
        SERIES,
        parse_contracts(VOLUME_CONTRACTS),
        detection,
        history_days=history_days_needed(detection),
        inputs=FlagInputs(sha, detection_sha256(detection), dismissed),
    )


@pytest.fixture
def weekly_job(tmp_path):
    (tmp_path / "contracts.yaml").write_text(VOLUME_CONTRACTS)
    settings = located(tmp_path, first_day=SERIES[0], last_day=SERIES[-1])
    calls = np.random.default_rng(7).poisson(
        [1000 * (0.8 if d.weekday() >= 5 else 1.0) for d in SERIES]
    )
    calls[JOB] *= 3
    for day, n in zip(SERIES, calls, strict=True):
        warehouse.commit_day(
            settings.warehouse, warehouse.DAY_TABLES, day, _day_tables(day, int(n))
        )
    _flag(settings)
    return settings


def spike_days(settings) -> list[dt.date]:
    flags = warehouse.read_range(settings.warehouse, "anomaly_flags", SERIES[0], SERIES[-1])
    return sorted(set(flags.filter(pl.col("flag") == "volume_spike")["date"].to_list()))


def dismiss(settings, indices: list[int]) -> None:
    lines = ["reviews:"] + [
        f"  - {{partner: acme, day: {SERIES[i]}, flag: volume_spike, status: dismissed, "
        f"note: planned weekly bulk job, reviewer: jdoe, reviewed_at: {SERIES[i] + dt.timedelta(days=1)}}}"
        for i in indices
    ]
    Path(settings.contracts).with_name(REVIEWS_FILE).write_text("\n".join(lines) + "\n")


def test_dismissing_a_weekly_job_makes_the_later_flags_stale_until_they_are_recomputed(weekly_job):
    settings, period = weekly_job, Period.between(SERIES[0], SERIES[-1])
    assert spike_days(settings) == [SERIES[i] for i in JOB]

    dismiss(settings, JOB[:4])
    with pytest.raises(ReportRefused) as refused:
        build_report(settings, period, pdf=False)
    message = str(refused.value)
    assert "have stale flags, computed with other dismissed volume flags" in message
    # From the first dismissed day on, the days whose history window holds a dismissal.
    assert refused.value.days[0] == SERIES[JOB[0]]
    assert refused.value.days[-1] == SERIES[-1]

    _flag(settings, parse_reviews(Path(settings.reviews_location).read_text()).dismissed_volume())
    built = build_report(settings, period, pdf=False)

    # The four dismissed Mondays are still raised, reviewed; the detector learnt the job.
    assert spike_days(settings) == [SERIES[i] for i in JOB[:4]]
    acme = built.report.partners[0]
    assert acme.findings == []
    assert acme.dismissed_days() == {"volume_spike": 4}
    assert built.report.review_counts()["dismissed"] == 8  # calls and items, four days
