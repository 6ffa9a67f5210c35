"""Small hand-built agreements and daily tables for the flag tests."""

import datetime as dt

import polars as pl

from callaudit.contracts import Contracts, parse_contracts

CONTRACTS_YAML = """\
currency: USD
restricted_networks:
  - {cidr: 192.0.2.0/24, label: gov-agency-a}
  - {cidr: "2001:db8:77::/48", label: gov-agency-c}
partners:
  - id: microsoft
    name: Microsoft
    agreements:
      - id: msft-2021
        start: 2021-07-01
        end: 2022-06-15
        apps: [msft-bing-social, msft-xbox-feed]
        endpoints: ["GET /2/tweets/*", "GET /1.1/statuses/*"]
        limits: {calls_per_day: 1000, items_per_month: 10000, calls_per_minute: 60}
      - id: msft-2022
        start: 2022-06-16
        apps: [msft-bing-social, msft-xbox-feed, msft-ads-insights]
        limits: {calls_per_day: 2000, items_per_month: 10000}
  - id: dataminr
    name: Dataminr
    agreements:
      - id: dataminr-2020
        start: 2020-01-01
        allow_networks: [gov-agency-a]
  - id: openai
    name: OpenAI
    agreements:
      - id: openai-2021
        start: 2021-01-01
        end: 2022-12-15
"""


def contracts_fixture() -> Contracts:
    return parse_contracts(CONTRACTS_YAML)


def partner_days(rows: list[tuple]) -> pl.DataFrame:
    """partner_daily rows as (date, partner_id, calls, items, peak_calls_per_minute)."""
    return pl.DataFrame(
        rows,
        schema={
            "date": pl.Date(),
            "partner_id": pl.String(),
            "calls": pl.Int64(),
            "items": pl.Int64(),
            "peak_calls_per_minute": pl.Int64(),
        },
        orient="row",
    )


def usage_days(rows: list[tuple]) -> pl.DataFrame:
    """usage_daily rows as (date, partner_id, app_id, endpoint, calls)."""
    frame = pl.DataFrame(
        rows,
        schema={
            "date": pl.Date(),
            "partner_id": pl.String(),
            "app_id": pl.String(),
            "endpoint": pl.String(),
            "calls": pl.Int64(),
        },
        orient="row",
    )
    return frame.with_columns(items=pl.col("calls") * 10)


def network_days(rows: list[tuple]) -> pl.DataFrame:
    """network_daily rows as (date, partner_id, app_id, network_label, calls)."""
    frame = pl.DataFrame(
        rows,
        schema={
            "date": pl.Date(),
            "partner_id": pl.String(),
            "app_id": pl.String(),
            "network_label": pl.String(),
            "calls": pl.Int64(),
        },
        orient="row",
    )
    return frame.with_columns(items=pl.col("calls") * 10, distinct_client_ips=pl.lit(1))


def day(month: int, dom: int) -> dt.date:
    return dt.date(2022, month, dom)
