"""Daily aggregates on tiny hand-written frames: one behaviour per test."""

import datetime as dt

import polars as pl

from callaudit.aggregate import aggregate_day
from callaudit.contracts import RestrictedNetwork
from callaudit.schema import RAW_SCHEMA
from tests.rawlogs import at, call

GOV_V4 = RestrictedNetwork(cidr="192.0.2.0/24", label="gov-agency-a")
GOV_V6 = RestrictedNetwork(cidr="2001:db8:77::/48", label="gov-agency-v6")


def calls(*rows: dict) -> pl.DataFrame:
    frame = pl.DataFrame(list(rows))
    return frame.with_columns(request_id=pl.col("request_id").cast(pl.String)).select(
        [pl.col(c).cast(t) for c, t in RAW_SCHEMA.items()]
    )


def test_usage_counts_calls_items_bytes_and_error_classes():
    day = calls(
        call(1, items=10),
        call(2, items=5),
        call(3, status=429, items=0),
        call(4, status=404, items=0),
        call(5, status=503, items=0),
    )
    usage = aggregate_day(day, []).usage_daily.row(0, named=True)
    assert usage["calls"] == 5
    assert usage["items"] == 15
    assert usage["bytes"] == 5 * 25_000
    assert (usage["errors_4xx"], usage["throttled"], usage["errors_5xx"]) == (2, 1, 1)


def test_usage_is_one_row_per_partner_app_and_endpoint():
    day = calls(
        call(1),
        call(2, endpoint="GET /2/tweets/:id"),
        call(3, app_id="acme-ads"),
        call(4, partner_id="globex"),
    )
    usage = aggregate_day(day, []).usage_daily
    assert usage.height == 4
    assert usage.select("partner_id", "app_id", "endpoint").is_unique().all()


def test_sums_do_not_wrap_past_two_to_the_31():
    day = calls(*(call(i, bytes=2_000_000_000) for i in range(3)))
    partner = aggregate_day(day, []).partner_daily.row(0, named=True)
    assert partner["bytes"] == 6_000_000_000


def test_peak_calls_per_minute_is_the_busiest_utc_minute():
    day = calls(
        call(1, ts=at(9, 59, 59)),
        call(2, ts=at(10, 0, 0)),
        call(3, ts=at(10, 0, 30)),
        call(4, ts=at(10, 0, 59)),
        call(5, ts=at(10, 1, 0)),
    )
    partner = aggregate_day(day, []).partner_daily.row(0, named=True)
    assert partner["peak_calls_per_minute"] == 3


def test_partner_daily_counts_distinct_apps_endpoints_and_addresses():
    day = calls(
        call(1, client_ip="203.0.113.1"),
        call(2, client_ip="203.0.113.1", app_id="acme-ads"),
        call(3, client_ip="2001:db8::1", endpoint="GET /2/tweets/:id"),
    )
    partner = aggregate_day(day, []).partner_daily.row(0, named=True)
    assert (partner["apps"], partner["endpoints"], partner["distinct_client_ips"]) == (2, 2, 2)


def test_restricted_calls_count_ipv4_inside_the_cidr_only():
    day = calls(
        call(1, client_ip="192.0.2.10"),
        call(2, client_ip="192.0.2.255"),
        call(3, client_ip="192.0.3.0"),
        call(4, client_ip="192.0.2.1000"),
    )
    aggregates = aggregate_day(day, [GOV_V4])
    assert aggregates.partner_daily["restricted_calls"].to_list() == [2]
    assert aggregates.network_daily.select("network_label", "calls").rows() == [("gov-agency-a", 2)]


def test_restricted_calls_count_ipv6_including_compressed_and_mapped_forms():
    day = calls(
        call(1, client_ip="2001:db8:77::5"),
        call(2, client_ip="2001:0db8:0077:0000:0000:0000:0000:0009"),
        call(3, client_ip="2001:db8:78::1"),
        call(4, client_ip="::ffff:192.0.2.9"),
    )
    aggregates = aggregate_day(day, [GOV_V4, GOV_V6])
    assert aggregates.partner_daily["restricted_calls"].to_list() == [3]
    by_label = dict(aggregates.network_daily.select("network_label", "calls").rows())
    assert by_label == {"gov-agency-v6": 2, "gov-agency-a": 1}


def test_the_most_specific_network_wins():
    wide = RestrictedNetwork(cidr="192.0.0.0/16", label="wide")
    day = calls(call(1, client_ip="192.0.2.10"), call(2, client_ip="192.0.9.1"))
    network = aggregate_day(day, [wide, GOV_V4]).network_daily
    assert sorted(network["network_label"].to_list()) == ["gov-agency-a", "wide"]


def test_latency_p95_is_an_observed_value():
    day = calls(*(call(i, latency_ms=i * 10) for i in range(1, 21)))
    usage = aggregate_day(day, []).usage_daily.row(0, named=True)
    assert usage["latency_p95_ms"] in {190, 200}


def test_an_empty_day_gives_empty_tables_with_their_schema():
    empty = pl.DataFrame(schema=RAW_SCHEMA)
    aggregates = aggregate_day(empty, [GOV_V4])
    assert aggregates.usage_daily.is_empty()
    assert aggregates.partner_daily.columns[0] == "partner_id"


def test_day_column_free_tables_have_int64_counts():
    day = calls(call(1, ts=dt.datetime(2022, 3, 1, tzinfo=dt.UTC)))
    usage = aggregate_day(day, []).usage_daily
    assert usage.schema["items"] == pl.Int64


def test_restricted_calls_are_counted_on_rows_as_ingest_delivers_them(tmp_path):
    from callaudit.ingest import ingest_day
    from tests.rawlogs import DAY, write_raw

    write_raw(
        tmp_path, [call(1, client_ip="192.0.2.4"), call(2), call(3, client_ip="2001:db8:77::9")]
    )
    valid = ingest_day(str(tmp_path), DAY).valid
    aggregates = aggregate_day(valid, [GOV_V4, GOV_V6])
    assert aggregates.partner_daily["restricted_calls"].to_list() == [2]
    assert aggregates.network_daily["network_label"].to_list() == ["gov-agency-a", "gov-agency-v6"]


def test_a_day_of_plausible_calls_is_proved_to_fit_int64_and_summed_there():
    from callaudit.aggregate import sums_fit_int64

    day = calls(*(call(i, items=10**9, bytes=10**12) for i in range(1000)))
    assert sums_fit_int64(day)
    assert aggregate_day(day, []).partner_daily["bytes"].to_list() == [10**15]


def test_a_day_the_proof_cannot_vouch_for_is_summed_wide_and_written_when_it_fits():
    from callaudit.aggregate import sums_fit_int64

    day = calls(call(1, bytes=2**62), *(call(i, bytes=1) for i in range(2, 6)))
    assert not sums_fit_int64(day)  # 5 rows x 2^62 could wrap; this day's sum does not
    assert aggregate_day(day, []).usage_daily["bytes"].to_list() == [2**62 + 4]
