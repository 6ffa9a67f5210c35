"""Labelling caller addresses with the restricted network they are in."""

import polars as pl

from callaudit.contracts import RestrictedNetwork
from callaudit.networks import label_addresses

GOV_V4 = RestrictedNetwork(cidr="192.0.2.0/24", label="gov-agency-a")
GOV_V6 = RestrictedNetwork(cidr="2001:db8:77::/48", label="gov-agency-v6")
WIDE = RestrictedNetwork(cidr="192.0.0.0/16", label="wide")


def labels(addresses: list[str | None], networks: list[RestrictedNetwork]) -> dict[str, str]:
    series = pl.Series("client_ip", addresses, dtype=pl.String).cast(pl.Categorical())
    return dict(label_addresses(series, networks).iter_rows())


def test_only_restricted_addresses_are_labelled_each_once():
    found = labels(
        ["192.0.2.7", "192.0.2.7", "203.0.113.7", "2001:db8:77::1", "::ffff:192.0.2.9", None],
        [GOV_V4, GOV_V6],
    )
    assert found == {
        "192.0.2.7": "gov-agency-a",
        "2001:db8:77::1": "gov-agency-v6",
        "::ffff:192.0.2.9": "gov-agency-a",
    }


def test_addresses_seen_before_are_labelled_by_the_networks_asked_about():
    day_one = ["192.0.2.7", "192.0.3.1", "203.0.113.7"]
    assert labels(day_one, [GOV_V4]) == {"192.0.2.7": "gov-agency-a"}
    # the same addresses against other networks: nothing remembered from the first call
    assert labels(day_one, [GOV_V4, WIDE]) == {"192.0.2.7": "gov-agency-a", "192.0.3.1": "wide"}
    # a later day, known and new addresses mixed, against the first networks again
    day_two = ["192.0.3.1", "192.0.2.200", "203.0.113.7", "198.51.100.1"]
    assert labels(day_two, [GOV_V4]) == {"192.0.2.200": "gov-agency-a"}
    assert labels(day_one + day_two, [GOV_V4]) == {
        "192.0.2.7": "gov-agency-a",
        "192.0.2.200": "gov-agency-a",
    }


def test_no_network_or_no_address_labels_nothing():
    assert labels(["192.0.2.7"], []) == {}
    assert labels([], [GOV_V4]) == {}
    assert labels([None], [GOV_V4]) == {}
