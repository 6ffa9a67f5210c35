"""contracts.yaml: a valid file loads; each kind of mistake is an error that says where."""

import datetime as dt

import pytest

from callaudit.contracts import ContractsError, load_contracts, parse_contracts

VALID = """\
currency: USD
list_pricing: {per_1k_items: 0.84}
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
        apps: [msft-bing-social]
        endpoints: ["GET /2/tweets/*"]
        limits: {calls_per_day: 2500000, items_per_month: 2000000000, calls_per_minute: 6000}
        pricing: {monthly_fee: 42000, included_items: 50000000, overage_per_1k_items: 0.84}
        allow_networks: [gov-agency-a]
      - id: msft-2022
        start: 2022-06-16
"""


def error_of(text: str) -> str:
    with pytest.raises(ContractsError) as caught:
        parse_contracts(text)
    return str(caught.value)


def test_a_valid_file_loads_with_its_agreements():
    contracts = parse_contracts(VALID)

    agreement = contracts.agreement_on("microsoft", dt.date(2022, 3, 14))
    assert agreement is not None
    assert agreement.limits.calls_per_day == 2_500_000
    assert contracts.display_name("microsoft") == "Microsoft"


def test_the_agreement_in_force_is_the_one_covering_the_day():
    contracts = parse_contracts(VALID)

    assert contracts.agreement_on("microsoft", dt.date(2022, 6, 15)).id == "msft-2021"
    assert contracts.agreement_on("microsoft", dt.date(2022, 6, 16)).id == "msft-2022"
    assert contracts.agreement_on("microsoft", dt.date(2021, 6, 30)) is None
    assert contracts.agreement_on("nobody", dt.date(2022, 1, 1)) is None


def test_endpoint_globs_let_star_match_slashes():
    agreement = parse_contracts(VALID).agreement_on("microsoft", dt.date(2022, 1, 1))

    assert agreement.allows_endpoint("GET /2/tweets/search/recent")
    assert not agreement.allows_endpoint("GET /2/dm_events")


def test_a_wrong_type_names_line_partner_agreement_and_field():
    message = error_of(VALID.replace("calls_per_day: 2500000", "calls_per_day: lots"))

    assert "line 15" in message
    assert "partner 'microsoft', agreement 'msft-2021', field limits.calls_per_day" in message


def test_a_quoted_number_is_a_wrong_type_not_a_value():
    message = error_of(VALID.replace("calls_per_day: 2500000", 'calls_per_day: "2500000"'))

    assert "field limits.calls_per_day" in message


def test_an_unknown_key_is_an_error():
    message = error_of(VALID.replace("        apps:", "        aps: [x]\n        apps:"))

    assert "line 13" in message
    assert "agreement 'msft-2021', field aps: unknown key" in message


def test_end_before_start_names_the_end_field():
    message = error_of(VALID.replace("end: 2022-06-15", "end: 2021-06-15"))

    assert "line 12: partner 'microsoft', agreement 'msft-2021', field end:" in message
    assert "before start 2021-07-01" in message


def test_overlapping_agreements_name_the_later_start_and_the_other_agreement():
    message = error_of(VALID.replace("start: 2022-06-16", "start: 2022-06-01"))

    assert "line 19: partner 'microsoft', agreement 'msft-2022', field start:" in message
    assert "'msft-2021'" in message


def test_an_open_ended_agreement_followed_by_another_overlaps():
    message = error_of(VALID.replace("        end: 2022-06-15\n", ""))

    assert "agreement 'msft-2022', field start" in message


def test_a_bad_cidr_names_the_network_and_field():
    message = error_of(VALID.replace("192.0.2.0/24", "192.0.2.300/24"))

    assert "line 4: restricted network #1, field cidr: not a CIDR network" in message


def test_a_bad_ipv6_cidr_is_an_error():
    message = error_of(VALID.replace("2001:db8:77::/48", "2001:db8:zz::/48"))

    assert "restricted network #2, field cidr" in message


def test_a_bad_endpoint_glob_names_the_field():
    message = error_of(VALID.replace('"GET /2/tweets/*"', '"/2/tweets/*"'))

    assert "line 14: partner 'microsoft', agreement 'msft-2021', field endpoints:" in message


def test_an_unbalanced_bracket_glob_is_an_error():
    message = error_of(VALID.replace('"GET /2/tweets/*"', '"GET /2/tweets/[ab"'))

    assert "unbalanced" in message


def test_an_unknown_network_label_names_the_allow_networks_field():
    message = error_of(VALID.replace("allow_networks: [gov-agency-a]", "allow_networks: [gov-x]"))

    assert "line 17: partner 'microsoft', agreement 'msft-2021', field allow_networks:" in message
    assert "gov-x" in message


def test_a_repeated_partner_id_names_the_second_one():
    message = error_of(VALID + "  - id: microsoft\n")

    assert "line 20: partner 'microsoft', field id: partner id 'microsoft' is used twice" in message


def test_an_impossible_date_is_an_error():
    message = error_of(VALID.replace("start: 2022-06-16", "start: 2022-02-30"))

    assert "agreement 'msft-2022', field start" in message


def test_broken_yaml_names_the_line():
    message = error_of("partners:\n  - id: [unclosed\n")

    assert "line" in message
    assert "not valid YAML" in message


def test_load_contracts_reads_a_file_and_names_a_missing_one(tmp_path):
    path = tmp_path / "contracts.yaml"
    path.write_text(VALID)

    assert load_contracts(path).partner("microsoft").display_name == "Microsoft"
    with pytest.raises(ContractsError, match="not found"):
        load_contracts(tmp_path / "absent.yaml")


def test_the_unit_label_is_items_unless_the_file_names_one():
    assert parse_contracts(VALID).item_unit == "items"
    assert parse_contracts("item_unit: tweets\n" + VALID).item_unit == "tweets"
    assert parse_contracts("item_unit: data points\n" + VALID).item_unit == "data points"


@pytest.mark.parametrize(
    "label", ["Tweets", "<b>tweets</b>", "tweets2", '""', "a  lot", "x" * 31, "12"]
)
def test_a_unit_label_that_is_not_plain_words_names_the_file_line_and_field(tmp_path, label):
    path = tmp_path / "contracts.yaml"
    path.write_text(VALID.replace("currency: USD\n", f"currency: USD\nitem_unit: {label}\n"))

    with pytest.raises(ContractsError) as caught:
        load_contracts(path)

    assert str(caught.value).startswith(f"{path}: line 2: field item_unit: ")
