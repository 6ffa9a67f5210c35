"""Exact rule flags, one behaviour per test, on hand-built daily tables."""

import datetime as dt

import polars as pl

from callaudit.flags.rules import FLAG_COLUMNS, rule_flags
from tests.flags.frames import day, network_days, partner_days, usage_days

NO_USAGE = usage_days([])
NO_NETWORK = network_days([])


def flags_of(contracts, partner_daily, usage=NO_USAGE, network=NO_NETWORK, **window):
    return rule_flags(partner_daily, usage, network, contracts, **window)


def only(flags: pl.DataFrame, flag: str) -> pl.DataFrame:
    return flags.filter(pl.col("flag") == flag)


# --- no_agreement ------------------------------------------------------------------------


def test_unknown_partner_has_no_agreement(contracts):
    flags = flags_of(contracts, partner_days([(day(3, 1), "xdh-harvest", 60, 100, 2)]))

    row = only(flags, "no_agreement").row(0, named=True)
    assert (row["partner_id"], row["observed"], row["severity"]) == (
        "xdh-harvest",
        60.0,
        "critical",
    )
    assert row["agreement_id"] is None
    assert "not a partner" in row["detail"]


def test_calls_after_an_agreement_ended_have_no_agreement(contracts):
    daily = partner_days([(day(12, 15), "openai", 10, 100, 1), (day(12, 16), "openai", 10, 100, 1)])

    flags = only(flags_of(contracts, daily), "no_agreement")

    assert flags["date"].to_list() == [day(12, 16)]
    assert "after openai-2021 ended on 2022-12-15" in flags["detail"][0]


def test_calls_before_the_first_agreement_starts_have_no_agreement(contracts):
    daily = partner_days([(dt.date(2021, 6, 30), "microsoft", 10, 10, 1)])

    flags = only(flags_of(contracts, daily), "no_agreement")

    assert flags["detail"].to_list() == [
        "Microsoft made 10 calls on 2021-06-30 with no agreement in force "
        "(before msft-2021 starts on 2021-07-01)"
    ]


def test_partner_with_two_agreements_is_judged_by_the_one_in_force(contracts):
    # 1,500 calls: over msft-2021's 1,000 a day, within msft-2022's 2,000.
    daily = partner_days(
        [(day(6, 15), "microsoft", 1500, 10, 1), (day(6, 16), "microsoft", 1500, 10, 1)]
    )

    flags = only(flags_of(contracts, daily), "daily_call_limit")

    assert flags.select("date", "agreement_id").rows() == [(day(6, 15), "msft-2021")]


# --- limits ------------------------------------------------------------------------------


def test_calls_exactly_at_the_daily_limit_are_not_flagged(contracts):
    daily = partner_days([(day(3, 1), "microsoft", 1000, 10, 1)])

    assert only(flags_of(contracts, daily), "daily_call_limit").is_empty()


def test_one_call_over_the_daily_limit_is_a_warning_with_its_numbers(contracts):
    daily = partner_days([(day(3, 14), "microsoft", 1001, 10, 1)])

    row = only(flags_of(contracts, daily), "daily_call_limit").row(0, named=True)

    assert (row["observed"], row["threshold"], row["severity"]) == (1001.0, 1000.0, "warning")
    assert row["score"] == 1001 / 1000
    assert row["detail"] == (
        "Microsoft made 1,001 calls on 2022-03-14, over the agreed 1,000 a day (msft-2021)"
    )


def test_more_than_twice_the_daily_limit_is_critical(contracts):
    daily = partner_days([(day(3, 1), "microsoft", 2001, 10, 1)])

    assert only(flags_of(contracts, daily), "daily_call_limit")["severity"].to_list() == [
        "critical"
    ]


def test_peak_minute_over_the_rate_limit_is_flagged_and_at_it_is_not(contracts):
    daily = partner_days(
        [(day(3, 1), "microsoft", 100, 10, 60), (day(3, 2), "microsoft", 100, 10, 61)]
    )

    flags = only(flags_of(contracts, daily), "rate_limit")

    assert flags.select("date", "metric", "observed").rows() == [
        (day(3, 2), "peak_calls_per_minute", 61.0)
    ]


def test_monthly_items_flag_the_crossing_day_and_later_days_of_the_month(contracts):
    daily = partner_days(
        [
            (day(3, 1), "microsoft", 10, 6000, 1),
            (day(3, 2), "microsoft", 10, 4000, 1),  # month to date 10,000: at the limit
            (day(3, 3), "microsoft", 10, 1, 1),  # 10,001: crossed
            (day(3, 5), "microsoft", 10, 1, 1),
        ]
    )

    flags = only(flags_of(contracts, daily), "monthly_item_limit")

    assert flags.select("date", "observed").rows() == [(day(3, 3), 10001.0), (day(3, 5), 10002.0)]


def test_monthly_items_start_again_at_a_month_boundary(contracts):
    daily = partner_days(
        [(day(3, 31), "microsoft", 10, 10001, 1), (day(4, 1), "microsoft", 10, 5, 1)]
    )

    flags = only(flags_of(contracts, daily), "monthly_item_limit")

    assert flags["date"].to_list() == [day(3, 31)]


def test_monthly_items_count_earlier_days_given_as_history_but_flag_only_requested_days(
    contracts,
):
    daily = partner_days(
        [(day(3, 1), "microsoft", 10, 9000, 1), (day(3, 2), "microsoft", 10, 2000, 1)]
    )

    flags = only(flags_of(contracts, daily, start=day(3, 2), end=day(3, 2)), "monthly_item_limit")

    assert flags.select("date", "observed").rows() == [(day(3, 2), 11000.0)]


# --- monthly_item_pace ---------------------------------------------------------------------


def steady(first: dt.date, days: int, items: int, partner: str = "microsoft") -> list[tuple]:
    return [(first + dt.timedelta(days=i), partner, 10, items, 1) for i in range(days)]


def test_a_pace_that_crosses_the_monthly_limit_is_flagged_with_the_projected_day(contracts):
    # 400 a day for a week: 2,800 by March 7; 2,800 + 18 x 400 = 10,000 is at the limit,
    # 2,800 + 19 x 400 = 10,400 is over it, so the projected day is March 7 + 19 = March 26.
    flags = only(flags_of(contracts, partner_days(steady(day(3, 1), 7, 400))), "monthly_item_pace")

    row = flags.row(0, named=True)
    assert flags.height == 1
    assert (row["date"], row["severity"], row["metric"]) == (day(3, 7), "warning", "items")
    assert (row["observed"], row["threshold"], row["expected"]) == (2800.0, 10000.0, 12400.0)
    assert row["detail"] == (
        "Microsoft had retrieved 2,800 items in March 2022 by 2022-03-07 (7 days); at that "
        "pace it crosses the agreed 10,000 a month on 2022-03-26 (msft-2021)"
    )


def test_the_pace_is_not_projected_before_a_full_week_of_the_month(contracts):
    flags = flags_of(contracts, partner_days(steady(day(3, 1), 6, 1400)))

    assert only(flags, "monthly_item_pace").is_empty()


def test_a_pace_that_stays_within_the_limit_is_not_flagged(contracts):
    # 300 a day: 2,100 by March 7, 2,100 + 24 x 300 = 9,300 at the end of March.
    flags = flags_of(contracts, partner_days(steady(day(3, 1), 7, 300)))

    assert only(flags, "monthly_item_pace").is_empty()


def test_the_pace_counts_calendar_days_not_days_with_calls(contracts):
    daily = partner_days(
        [(day(3, 1), "microsoft", 10, 1400, 1), (day(3, 7), "microsoft", 10, 1400, 1)]
    )

    flags = only(flags_of(contracts, daily), "monthly_item_pace")

    assert flags.select("date", "observed").rows() == [(day(3, 7), 2800.0)]
    assert flags["detail"][0].endswith("on 2022-03-26 (msft-2021)")


def test_a_crossed_limit_is_the_monthly_limit_flag_not_the_pace_flag(contracts):
    daily = partner_days([*steady(day(3, 1), 7, 1000), (day(3, 8), "microsoft", 10, 4000, 1)])

    flags = flags_of(contracts, daily)

    assert only(flags, "monthly_item_pace")["date"].to_list() == [day(3, 7)]
    assert only(flags, "monthly_item_limit")["date"].to_list() == [day(3, 8)]


def test_the_pace_must_cross_before_the_agreement_ends(contracts):
    # msft-2021 ends on June 15: at 500 a day the limit would fall on June 21, too late;
    # at 1,000 a day, 7,000 by June 7, it falls on June 11.
    slow = flags_of(contracts, partner_days(steady(day(6, 1), 7, 500)))
    fast = only(flags_of(contracts, partner_days(steady(day(6, 1), 7, 1000))), "monthly_item_pace")

    assert only(slow, "monthly_item_pace").is_empty()
    assert fast["detail"][0].endswith("on 2022-06-11 (msft-2021)")


def test_an_agreement_starting_mid_month_paces_from_its_first_day(contracts):
    # msft-2022 starts June 16: 6,300 in its first 7 days is 900 a day, which crosses
    # 10,000 on June 27 (counted from June 1 it would be 286 a day and not flagged).
    flags = only(flags_of(contracts, partner_days(steady(day(6, 16), 7, 900))), "monthly_item_pace")

    assert flags.select("date", "agreement_id").rows() == [(day(6, 22), "msft-2022")]
    assert flags["detail"][0].endswith(
        "(7 days); at that pace it crosses the agreed 10,000 a month on 2022-06-27 (msft-2022)"
    )


def test_the_pace_is_exact_for_limits_near_int64(contracts):
    from callaudit.contracts import parse_contracts
    from tests.flags.frames import CONTRACTS_YAML

    huge = parse_contracts(
        CONTRACTS_YAML.replace(
            "items_per_month: 10000, calls_per_minute",
            "items_per_month: 9000000000000000000, calls_per_minute",
        )
    )
    # 10^18 a day for 7 days: 7 x 10^18 by March 7; 7e18 + 2 x 1e18 = 9e18 is at the limit,
    # + 3 x 1e18 is over it: March 10.
    flags = only(flags_of(huge, partner_days(steady(day(3, 1), 7, 10**18))), "monthly_item_pace")

    assert flags["detail"][0].endswith("on 2022-03-10 (msft-2021)")


def test_agreement_ending_mid_month_restarts_the_month_to_date_count(contracts):
    # msft-2021 ends 2022-06-15; msft-2022 starts the next day with its own monthly count.
    daily = partner_days(
        [(day(6, 15), "microsoft", 10, 9000, 1), (day(6, 16), "microsoft", 10, 9000, 1)]
    )

    assert only(flags_of(contracts, daily), "monthly_item_limit").is_empty()


def test_days_after_an_agreement_ended_mid_month_do_not_count_against_it(contracts):
    daily = partner_days(
        [(day(12, 14), "openai", 10, 9000, 1), (day(12, 16), "openai", 10, 9000, 1)]
    )

    flags = flags_of(contracts, daily)

    assert flags["flag"].to_list() == ["no_agreement"]


# --- apps and endpoints --------------------------------------------------------------------


def test_app_not_listed_is_flagged_with_its_calls(contracts):
    usage = usage_days(
        [
            (day(3, 1), "microsoft", "msft-bing-social", "GET /2/tweets/search/recent", 90),
            (day(3, 1), "microsoft", "msft-scraper", "GET /2/tweets/search/recent", 7),
            (day(3, 1), "microsoft", "msft-test-key", "GET /2/tweets/search/recent", 1200),
        ]
    )

    row = only(flags_of(contracts, partner_days([]), usage), "unauthorized_app").row(0, named=True)

    assert (row["observed"], row["severity"], row["agreement_id"]) == (
        1207.0,
        "critical",
        "msft-2021",
    )
    assert row["detail"].endswith("msft-test-key (1,200 calls), msft-scraper (7 calls)")


def test_an_app_listed_only_in_the_later_agreement_is_unauthorized_before_it(contracts):
    usage = usage_days(
        [
            (day(6, 15), "microsoft", "msft-ads-insights", "GET /2/tweets/search/recent", 5),
            (day(6, 16), "microsoft", "msft-ads-insights", "GET /2/tweets/search/recent", 5),
        ]
    )

    flags = only(flags_of(contracts, partner_days([]), usage), "unauthorized_app")

    assert flags["date"].to_list() == [day(6, 15)]


def test_endpoint_matching_no_glob_is_flagged_and_star_matches_slashes(contracts):
    usage = usage_days(
        [
            (day(3, 1), "microsoft", "msft-bing-social", "GET /2/tweets/search/recent", 50),
            (day(3, 1), "microsoft", "msft-bing-social", "GET /1.1/statuses/user_timeline.json", 5),
            (day(3, 1), "microsoft", "msft-bing-social", "GET /2/dm_events", 3),
        ]
    )

    row = only(flags_of(contracts, partner_days([]), usage), "unauthorized_endpoint").row(
        0, named=True
    )

    assert (row["observed"], row["severity"]) == (3.0, "warning")
    assert row["detail"].endswith(": GET /2/dm_events (3 calls)")


def test_agreement_without_endpoint_globs_allows_every_endpoint(contracts):
    usage = usage_days([(day(7, 1), "microsoft", "msft-bing-social", "GET /2/dm_events", 3)])

    assert flags_of(contracts, partner_days([]), usage).is_empty()


def test_usage_on_a_day_without_agreement_raises_no_app_or_endpoint_flag(contracts):
    usage = usage_days([(day(3, 1), "xdh-harvest", "xdh-crawler-1", "GET /2/dm_events", 3)])

    assert flags_of(contracts, partner_days([]), usage).is_empty()


def test_a_long_list_of_apps_names_the_largest_and_counts_the_rest(contracts):
    usage = usage_days(
        [
            (day(3, 1), "microsoft", f"rogue-{i}", "GET /2/tweets/search/recent", 100 - i)
            for i in range(7)
        ]
    )

    detail = only(flags_of(contracts, partner_days([]), usage), "unauthorized_app")["detail"][0]

    assert "rogue-0 (100 calls)" in detail
    assert "rogue-5" not in detail
    assert detail.endswith("and 2 more")


# --- restricted networks -----------------------------------------------------------------


def test_restricted_network_not_allowed_is_flagged_with_its_label(contracts):
    network = network_days([(day(3, 1), "microsoft", "msft-bing-social", "gov-agency-a", 4)])

    row = only(flags_of(contracts, partner_days([]), network=network), "restricted_network").row(
        0, named=True
    )

    assert (row["observed"], row["severity"]) == (4.0, "critical")
    assert "gov-agency-a (4 calls)" in row["detail"]


def test_ipv6_restricted_network_is_flagged_like_ipv4(contracts):
    network = network_days([(day(3, 1), "dataminr", "dataminr-pulse", "gov-agency-c", 2)])

    flags = only(flags_of(contracts, partner_days([]), network=network), "restricted_network")

    assert "gov-agency-c (2 calls)" in flags["detail"][0]


def test_restricted_network_the_agreement_allows_is_not_flagged(contracts):
    network = network_days([(day(3, 1), "dataminr", "dataminr-pulse", "gov-agency-a", 9)])

    assert flags_of(contracts, partner_days([]), network=network).is_empty()


# --- output shape --------------------------------------------------------------------------


def test_flags_have_the_anomaly_flags_columns_and_only_requested_days(contracts):
    daily = partner_days(
        [(day(3, 1), "microsoft", 5000, 10, 1), (day(3, 2), "microsoft", 5000, 10, 1)]
    )

    flags = flags_of(contracts, daily, start=day(3, 2), end=day(3, 2))

    assert flags.schema == pl.Schema(FLAG_COLUMNS)
    assert flags["date"].unique().to_list() == [day(3, 2)]
