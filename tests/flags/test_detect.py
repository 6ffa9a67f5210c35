"""detect_flags: rule and volume flags of a range of days, notes kept apart."""

import datetime as dt

import polars as pl

from callaudit.flags.detect import detect_flags
from callaudit.flags.rules import FLAG_COLUMNS
from callaudit.flags.settings import DetectorSettings
from callaudit.flags.volume import history_days_needed
from callaudit.schema import ANOMALY_FLAGS, FLAG_NAMES
from tests.flags.frames import network_days, partner_days, usage_days

START = dt.date(2022, 1, 3)


def dataminr_days(count: int, spike_on: int) -> pl.DataFrame:
    rows = [
        (START + dt.timedelta(days=i), "dataminr", 500 * (3 if i == spike_on else 1), 5000, 5)
        for i in range(count)
    ]
    return partner_days(rows)


def test_a_range_gets_rule_and_volume_flags_with_the_agreement_named(contracts):
    daily = dataminr_days(60, spike_on=50)
    spike_day = START + dt.timedelta(days=50)
    network = network_days([(spike_day, "dataminr", "dataminr-pulse", "gov-agency-c", 3)])

    result = detect_flags(spike_day, spike_day, daily, usage_days([]), network, contracts)

    assert result.flags.schema == pl.Schema(FLAG_COLUMNS)
    assert result.flags.select("flag", "metric", "agreement_id").rows() == [
        ("restricted_network", "calls", "dataminr-2020"),
        ("volume_spike", "calls", "dataminr-2020"),
    ]


def test_notes_are_returned_apart_and_never_as_flags(contracts):
    daily = dataminr_days(10, spike_on=5)

    result = detect_flags(
        START, START + dt.timedelta(days=9), daily, usage_days([]), network_days([]), contracts
    )

    assert result.flags.is_empty()
    assert result.notes.height == 20  # 10 days x calls and items
    assert set(result.flags["flag"]) <= set(FLAG_NAMES)


def test_one_day_of_flags_is_an_anomaly_flags_partition(contracts):
    daily = dataminr_days(60, spike_on=50)
    spike_day = START + dt.timedelta(days=50)

    result = detect_flags(
        START, START + dt.timedelta(days=59), daily, usage_days([]), network_days([]), contracts
    )

    partition = result.for_day(spike_day)
    assert partition.columns == ANOMALY_FLAGS.names
    assert partition["flag"].to_list() == ["volume_spike"]
    # Every day of the range, flagged or not, is its rows of the whole result.
    for i in range(60):
        day = START + dt.timedelta(days=i)
        expected = result.flags.filter(pl.col("date") == day).drop("date")
        assert result.for_day(day).equals(expected)
        assert result.for_day(day).schema == expected.schema
    assert result.for_day(START - dt.timedelta(days=1)).height == 0


def test_a_daily_run_with_the_history_needed_matches_the_backfill(contracts):
    # 400 items a day cross the 10,000 a month on the 26th; the target day is 2022-07-28.
    rows = [
        (START + dt.timedelta(days=i), "microsoft", 500 * (3 if i == 206 else 1), 400, 5)
        for i in range(220)
    ]
    daily = partner_days(rows)
    target = START + dt.timedelta(days=206)
    history = daily.filter(
        pl.col("date") >= target - dt.timedelta(days=history_days_needed(DetectorSettings()))
    )
    empty = (usage_days([]), network_days([]))

    backfill = detect_flags(START, START + dt.timedelta(days=219), daily, *empty, contracts)
    daily_run = detect_flags(target, target, history, *empty, contracts)

    assert daily_run.flags["flag"].to_list() == ["monthly_item_limit", "volume_spike"]
    assert daily_run.flags.equals(backfill.flags.filter(pl.col("date") == target))
