"""The statistical volume detector on series with known events."""

import datetime as dt

import numpy as np
import polars as pl
import pytest

from callaudit.flags.settings import DetectorSettings, VolumeThresholds
from callaudit.flags.volume import INSUFFICIENT_HISTORY, history_days_needed, volume_flags

FIRST = dt.date(2022, 1, 3)  # a Monday
DAYS = [FIRST + dt.timedelta(days=i) for i in range(160)]


def steady_calls(seed: int = 7, weekend: float = 0.8) -> np.ndarray:
    """About 1,000 calls on weekdays, ``weekend`` times that on weekends, Poisson noise."""
    level = np.array([1000 * (weekend if d.weekday() >= 5 else 1.0) for d in DAYS])
    return np.random.default_rng(seed).poisson(level).astype(float)


def detect(calls: np.ndarray, settings: DetectorSettings | None = None, partner: str = "acme"):
    daily = pl.DataFrame(
        {
            "date": DAYS,
            "partner_id": partner,
            "calls": calls.astype(np.int64),
            "items": (calls * 30).astype(np.int64),
        }
    )
    return volume_flags(daily, settings or DetectorSettings(), start=DAYS[0], end=DAYS[-1])


def flagged(result, metric: str = "calls") -> list[tuple[dt.date, str]]:
    rows = result.flags.filter(pl.col("metric") == metric)
    return list(rows.select("date", "flag").iter_rows())


def test_a_steady_series_with_weekly_rhythm_raises_nothing():
    assert detect(steady_calls(weekend=0.5)).flags.is_empty()


def test_a_known_spike_is_flagged_on_its_day_with_expected_observed_and_score():
    calls = steady_calls()
    calls[80] *= 3

    result = detect(calls)

    assert flagged(result) == [(DAYS[80], "volume_spike")]
    row = result.flags.filter(pl.col("metric") == "calls").row(0, named=True)
    assert row["observed"] == calls[80]
    assert row["expected"] == pytest.approx(1000, rel=0.05)
    assert row["score"] > 4
    assert row["threshold"] >= 2 * row["expected"]
    assert row["severity"] == "warning"


def test_a_spike_is_flagged_on_items_too():
    calls = steady_calls()
    calls[80] *= 3

    assert flagged(detect(calls), "items") == [(DAYS[80], "volume_spike")]


def test_a_known_drop_is_flagged():
    calls = steady_calls()
    calls[90] *= 0.3

    assert flagged(detect(calls)) == [(DAYS[90], "volume_drop")]


def test_a_partner_going_silent_is_a_drop_even_without_a_row():
    calls = steady_calls()
    daily = pl.DataFrame(
        {"date": DAYS, "partner_id": "acme", "calls": calls.astype(np.int64), "items": 1}
    ).filter(pl.col("date") != DAYS[90])
    other = pl.DataFrame({"date": DAYS, "partner_id": "other", "calls": 5, "items": 1})

    result = volume_flags(
        pl.concat([daily, other], how="vertical_relaxed"),
        DetectorSettings(),
        start=DAYS[90],
        end=DAYS[90],
    )

    row = result.flags.filter(pl.col("metric") == "calls").row(0, named=True)
    assert (row["flag"], row["observed"]) == ("volume_drop", 0.0)


def test_a_holiday_dip_smaller_than_the_minimum_change_is_not_flagged():
    calls = steady_calls()
    calls[100] *= 0.72  # e.g. Christmas Day: statistically unusual, but not halved

    assert flagged(detect(calls)) == []


def test_a_level_shift_is_flagged_at_most_level_shift_days_then_accepted():
    calls = steady_calls()
    calls[70:] *= 2.5
    params = VolumeThresholds()

    spikes = flagged(detect(calls))

    assert 1 <= len(spikes) <= params.level_shift_days
    assert all(DAYS[70] <= day < DAYS[70 + params.level_shift_days] for day, _ in spikes)


def test_a_spike_after_an_accepted_level_shift_is_judged_against_the_new_level():
    calls = steady_calls()
    calls[70:] *= 2.5
    calls[120] *= 3

    spikes = flagged(detect(calls))

    assert spikes[-1] == (DAYS[120], "volume_spike")
    row = detect(calls).flags.filter(pl.col("date") == DAYS[120]).row(0, named=True)
    assert row["expected"] == pytest.approx(2500, rel=0.1)


def test_too_little_history_gives_notes_and_no_flags():
    calls = steady_calls()
    calls[5] *= 10
    params = VolumeThresholds()

    result = detect(calls)

    assert flagged(result) == []
    notes = result.notes.filter(pl.col("metric") == "calls")
    assert notes["note"].unique().to_list() == [INSUFFICIENT_HISTORY]
    assert notes["date"].to_list() == DAYS[: params.min_history_days]
    assert notes["history_days"].to_list() == list(range(params.min_history_days))


def test_a_partner_override_raises_the_minimum_change_for_that_partner_only():
    calls = steady_calls()
    calls[80] *= 3
    settings = DetectorSettings.model_validate({"partners": {"acme": {"spike_ratio": 4.0}}})

    assert detect(calls, settings, partner="acme").flags.is_empty()
    assert flagged(detect(calls, settings, partner="zenith")) == [(DAYS[80], "volume_spike")]


def test_a_disabled_partner_is_not_scored():
    calls = steady_calls()
    calls[80] *= 3
    settings = DetectorSettings.model_validate({"partners": {"acme": {"enabled": False}}})

    assert detect(calls, settings).flags.is_empty()


def test_a_flag_just_over_the_threshold_is_info():
    calls = steady_calls()
    calls[80] *= 3
    # The spike's z-score is far above 4; put the threshold just below it.
    z = detect(calls).flags["score"][0]
    settings = DetectorSettings.model_validate({"defaults": {"z_threshold": z - 0.5}})

    assert detect(calls, settings).flags["severity"].unique().to_list() == ["info"]


def test_history_needed_covers_two_baseline_windows_and_a_month():
    assert history_days_needed(DetectorSettings()) == 2 * 7 * VolumeThresholds().baseline_weeks
    short = DetectorSettings.model_validate(
        {"defaults": {"baseline_weeks": 2, "min_history_days": 7}}
    )
    assert history_days_needed(short) == 31


def test_a_day_scored_alone_with_its_history_matches_the_full_pass():
    calls = steady_calls()
    calls[150] *= 3
    daily = pl.DataFrame(
        {"date": DAYS, "partner_id": "acme", "calls": calls.astype(np.int64), "items": 1}
    )
    settings = DetectorSettings()
    target = DAYS[150]
    history = daily.filter(
        pl.col("date") >= target - dt.timedelta(days=history_days_needed(settings))
    )

    alone = volume_flags(history, settings, start=target, end=target).flags
    full = volume_flags(daily, settings, start=DAYS[0], end=DAYS[-1]).flags

    assert history["date"].min() > DAYS[0]
    assert not alone.is_empty()
    assert alone.equals(full.filter(pl.col("date") == target))


# --- reviewed flags: a dismissed volume flag is a normal day ---------------------------


def detect_reviewed(calls: np.ndarray, dismissed: set) -> pl.DataFrame:
    daily = pl.DataFrame(
        {
            "date": DAYS,
            "partner_id": "acme",
            "calls": calls.astype(np.int64),
            "items": (calls * 30).astype(np.int64),
        }
    )
    settings = DetectorSettings()
    return volume_flags(daily, settings, start=DAYS[0], end=DAYS[-1], dismissed=dismissed)


def mondays_from(first: int, count: int) -> list[int]:
    return [first + 7 * k for k in range(count)]


def test_a_dismissed_spike_is_still_raised_so_its_review_stays_attached():
    calls = steady_calls()
    calls[80] *= 3

    result = detect_reviewed(calls, {("acme", DAYS[80], "volume_spike")})

    assert flagged(result) == [(DAYS[80], "volume_spike")]


def test_a_weekly_job_is_flagged_every_week_until_analysts_dismiss_it_then_it_is_learnt():
    """A planned Monday bulk job triples Monday's calls from mid-March. Flagged days
    stay out of the baseline, and Mondays are not consecutive days, so the level-shift
    rule never accepts it: without reviews every Monday is flagged. Once analysts
    dismiss the first four, those Mondays count as normal, the Monday offset learns the
    job, and later Mondays are expected."""
    calls = steady_calls()
    job = mondays_from(70, 13)
    calls[job] *= 3

    unreviewed = flagged(detect_reviewed(calls, set()))
    dismissed = {("acme", DAYS[i], "volume_spike") for i in job[:4]}
    reviewed = flagged(detect_reviewed(calls, dismissed))

    assert unreviewed == [(DAYS[i], "volume_spike") for i in job]
    assert reviewed == [(DAYS[i], "volume_spike") for i in job[:4]]


def test_a_dismissal_applies_to_the_flag_it_names_only():
    """Dismissing a drop on a day that was a spike changes nothing: the review is of
    another flag, so the Mondays stay out of the baseline and keep being flagged."""
    calls = steady_calls()
    job = mondays_from(70, 13)
    calls[job] *= 3
    wrong_flag = {("acme", DAYS[i], "volume_drop") for i in job[:4]}
    other_partner = {("zenith", DAYS[i], "volume_spike") for i in job[:4]}

    assert len(flagged(detect_reviewed(calls, wrong_flag))) == len(job)
    assert len(flagged(detect_reviewed(calls, other_partner))) == len(job)


def test_a_dismissed_day_in_the_history_before_the_range_still_counts_as_normal():
    """A daily run reads weeks of history: dismissals there apply as in a full pass."""
    calls = steady_calls()
    job = mondays_from(70, 13)
    calls[job] *= 3
    dismissed = {("acme", DAYS[i], "volume_spike") for i in job[:4]}
    daily = pl.DataFrame(
        {"date": DAYS, "partner_id": "acme", "calls": calls.astype(np.int64), "items": 1}
    )
    target = DAYS[job[8]]
    settings = DetectorSettings(defaults=VolumeThresholds(metrics=["calls"]))

    alone = volume_flags(daily, settings, start=target, end=target, dismissed=dismissed)
    unreviewed = volume_flags(daily, settings, start=target, end=target)

    assert alone.flags.is_empty()
    assert flagged(unreviewed) == [(target, "volume_spike")]
