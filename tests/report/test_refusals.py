"""A report refuses, naming the days, what it cannot show to be whole and fresh: flags
that recorded no inputs, and days inside its range that no run ever committed. A
committed data gap is not such a day: it is stated as a lower bound, and refused only
with --fail-on-gaps."""

import datetime as dt
import json
from pathlib import Path

import polars as pl
import pytest

from callaudit import warehouse
from callaudit.report import Period
from callaudit.report.build import ReportRefused, build_report
from callaudit.schema import ANOMALY_FLAGS
from tests.report.builders import days, usage, write_day
from tests.report.test_build import located

APRIL = days(dt.date(2022, 4, 1), 10)
GAP_DAY = dt.date(2022, 4, 4)


def write_days(
    settings, skip: list[dt.date] = (), unflagged: list[dt.date] = (), gaps: list[dt.date] = ()
) -> None:
    """April's days in order, as a backfill commits them: ``skip`` never processed,
    ``gaps`` committed as data gaps, ``unflagged`` without flags."""
    for day in APRIL:
        if day in gaps:
            commit_gap(settings, day)
        elif day not in skip:
            flags = None if day in unflagged else []
            write_day(settings.warehouse, day, [usage("acme", 10, 100)], flag_rows=flags)


def commit_gap(settings, day: dt.date) -> None:
    """A day the daily pass found without raw data: committed with no table, a reason."""
    warehouse.commit_day(
        settings.warehouse,
        warehouse.DAY_TABLES,
        day,
        {},
        info={"kind": warehouse.GAP, "reason": "no day folder"},
    )


def test_flags_that_recorded_no_inputs_are_refused_like_stale_ones(tmp_path):
    settings = located(tmp_path)
    old = [dt.date(2022, 4, 6), dt.date(2022, 4, 7)]
    write_days(settings, unflagged=old)
    for day in old:  # flags as a callaudit before input recording wrote them: no info
        warehouse.commit_day(
            settings.warehouse,
            ANOMALY_FLAGS.name,
            day,
            {ANOMALY_FLAGS: pl.DataFrame(schema=ANOMALY_FLAGS.schema)},
        )

    with pytest.raises(ReportRefused) as refused:
        build_report(settings, Period.of_year(2022), pdf=False)

    assert (
        "2 day(s) have stale flags, no record of what they were computed from "
        "(2022-04-06 to 2022-04-07)"
    ) in str(refused.value)
    assert "callaudit backfill --start 2022-04-06 --end 2022-04-07" in str(refused.value)
    assert refused.value.days == old
    assert not Path(settings.reports, "2022").exists()


def test_a_day_no_run_ever_committed_is_refused_by_name_without_fail_on_gaps(tmp_path):
    settings = located(tmp_path)
    write_days(settings, skip=[GAP_DAY, GAP_DAY + dt.timedelta(days=1)])

    with pytest.raises(ReportRefused) as refused:
        build_report(settings, Period.of_year(2022), pdf=False)

    assert str(refused.value).startswith(
        "not building the 2022 report: 2 day(s) were never processed (2022-04-04 to 2022-04-05)"
    )
    assert refused.value.days == [GAP_DAY, GAP_DAY + dt.timedelta(days=1)]
    assert not Path(settings.reports, "2022").exists()


def test_a_committed_data_gap_is_a_lower_bound_and_fatal_only_with_fail_on_gaps(tmp_path):
    settings = located(tmp_path)
    write_days(settings, gaps=[GAP_DAY])

    built = build_report(settings, Period.of_year(2022), pdf=False)
    summary = json.loads(Path(built.files.files["summary.json"]).read_text())

    assert summary["data_gaps"] == [{"date": "2022-04-04", "reason": "no day folder"}]
    assert "Its figures are a lower bound: 1 day in it had no data (2022-04-04" in (
        Path(built.files.files["report.md"]).read_text()
    )
    assert summary["partners"][0]["calls"] == 90  # nine days of 10 calls, exactly

    strict = located(tmp_path, fail_on_gaps=True)
    with pytest.raises(ReportRefused) as refused:
        build_report(strict, Period.of_year(2022), pdf=False)
    assert "1 day(s) have no data (2022-04-04), and data gaps are fatal" in str(refused.value)
