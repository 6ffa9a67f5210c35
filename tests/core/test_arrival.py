"""Is yesterday in by the deadline? The verdict for explicit instants around the deadline."""

import datetime as dt

import pytest

from callaudit.arrival import LATE, NOT_APPLICABLE, NOT_DUE, PASSED, arrival, last_deadline

FIRST = dt.date(2026, 1, 1)


def at(day: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, 11, day, hour, minute, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("now", "deadline"),
    [
        (at(29, 5, 59), at(28, 6)),  # before today's deadline: yesterday's counts
        (at(29, 6, 0), at(29, 6)),  # at the deadline: today's
        (at(29, 23, 59), at(29, 6)),
    ],
)
def test_the_deadline_that_counts_is_the_last_one_passed(now, deadline):
    assert last_deadline(now, 6) == deadline


def test_yesterday_missing_after_the_deadline_is_late_by_the_time_since():
    verdict = arrival(at(29, 7, 30), 6, {dt.date(2026, 11, 27)}, first_day=FIRST, last_day=None)

    assert (verdict.status, verdict.day, verdict.passed) == (LATE, dt.date(2026, 11, 28), False)
    assert verdict.text == (
        "2026-11-28 was due by 2026-11-29 06:00 UTC and is missing, 1 h 30 min late."
    )


def test_yesterday_present_after_the_deadline_passes():
    verdict = arrival(at(29, 7), 6, {dt.date(2026, 11, 28)}, first_day=FIRST, last_day=None)

    assert (verdict.status, verdict.passed) == (PASSED, True)
    assert verdict.text == "2026-11-28 was due by 2026-11-29 06:00 UTC and is in."


def test_before_the_deadline_yesterday_is_not_due_yet_but_the_day_before_is():
    verdict = arrival(at(29, 5), 6, {dt.date(2026, 11, 27)}, first_day=FIRST, last_day=None)

    assert (verdict.status, verdict.day) == (PASSED, dt.date(2026, 11, 27))


def test_a_closed_archive_is_not_applicable():
    verdict = arrival(at(29, 7), 6, set(), first_day=FIRST, last_day=dt.date(2022, 12, 31))

    assert (verdict.status, verdict.passed) == (NOT_APPLICABLE, True)
    assert verdict.text == (
        "Not applicable: a closed archive, its last day 2022-12-31; no new day is expected."
    )


def test_a_day_before_the_first_partition_is_not_due():
    verdict = arrival(at(29, 7), 6, set(), first_day=dt.date(2026, 11, 29), last_day=None)

    assert verdict.status == NOT_DUE
