"""flag_reviews.yaml: a valid file loads; each kind of mistake is an error that says where."""

import datetime as dt

import pytest

from callaudit.reviews import (
    REVIEWS_FILE,
    ReviewsError,
    dismissed_in,
    load_reviews,
    load_reviews_for,
    parse_reviews,
    reviews_frame,
)
from tests.graph import settings_for_test

VALID = """\
reviews:
  - partner: openai
    day: 2022-05-22
    flag: volume_spike
    status: dismissed
    note: Planned re-index after the v2 migration, agreed by email on 2022-05-10.
    reviewer: jdoe
    reviewed_at: 2022-05-24
  - partner: nielsen
    day: 2022-03-27
    flag: restricted_network
    status: confirmed
    note: Traffic from gov-agency-a confirmed with the partner's security team.
    reviewer: asmith
    reviewed_at: 2022-04-02T09:30:00+02:00
"""


def error_of(text: str) -> str:
    with pytest.raises(ReviewsError) as caught:
        parse_reviews(text, source="data/flag_reviews.yaml")
    return str(caught.value)


def test_a_valid_file_loads_each_review_by_its_flag():
    reviews = parse_reviews(VALID)

    spike = reviews.by_key[("openai", dt.date(2022, 5, 22), "volume_spike")]
    assert spike.status == "dismissed"
    assert spike.reviewer == "jdoe"
    confirmed = reviews.by_key[("nielsen", dt.date(2022, 3, 27), "restricted_network")]
    assert confirmed.reviewed_utc == dt.datetime(2022, 4, 2, 7, 30, tzinfo=dt.UTC)


def test_only_dismissed_volume_flags_reach_the_detector():
    """A confirmed flag is kept out of the baseline already; a dismissed rule flag does
    not change an exact rule. Only a dismissed spike or drop becomes a normal day."""
    text = VALID + (
        "  - {partner: openai, day: 2022-06-01, flag: volume_drop, status: confirmed,"
        " reviewer: jdoe, reviewed_at: 2022-06-02}\n"
        "  - {partner: acme, day: 2022-06-01, flag: no_agreement, status: dismissed,"
        " note: signed late, reviewer: jdoe, reviewed_at: 2022-06-02}\n"
    )

    assert parse_reviews(text).dismissed_volume() == {
        ("openai", dt.date(2022, 5, 22), "volume_spike")
    }


def test_the_dismissals_a_run_applied_are_listed_for_its_days_only():
    dismissed = parse_reviews(VALID).dismissed_volume()

    assert dismissed_in(dismissed, dt.date(2022, 5, 1), dt.date(2022, 5, 31)) == [
        "openai 2022-05-22 volume_spike"
    ]
    assert dismissed_in(dismissed, dt.date(2022, 6, 1), dt.date(2022, 6, 30)) == []


def test_reviews_join_flags_on_day_partner_and_flag():
    frame = reviews_frame(parse_reviews(VALID))

    assert frame.columns[:3] == ["date", "partner_id", "flag"]
    assert frame.row(1, named=True)["reviewed_at"] == "2022-04-02 07:30 UTC"
    assert frame.row(0, named=True)["reviewed_at"] == "2022-05-24"


def test_an_empty_file_is_no_reviews():
    assert parse_reviews("").reviews == []
    assert parse_reviews("reviews: []\n").reviews == []


@pytest.mark.parametrize(
    ("change", "says"),
    [
        (
            ("flag: volume_spike", "flag: volume_spyke"),
            "line 4: review #1 (openai 2022-05-22 volume_spyke), field flag: Input should be",
        ),
        (
            ("status: dismissed", "status: ignored"),
            "line 5: review #1 (openai 2022-05-22 volume_spike), field status: "
            "Input should be 'confirmed' or 'dismissed'",
        ),
        (
            ("day: 2022-05-22", "day: 2022-05-32"),
            "line 3: review #1 (openai 2022-05-32 volume_spike), field day:",
        ),
        (
            ("reviewer: jdoe", "reviewed_by: jdoe"),
            "line 7: review #1 (openai 2022-05-22 volume_spike), field reviewed_by: unknown key",
        ),
        (
            ("reviewed_at: 2022-05-24", "reviewed_at: 2022-05-20"),
            "line 8: review #1 (openai 2022-05-22 volume_spike), field reviewed_at: "
            "2022-05-20T00:00:00 is before the flagged day 2022-05-22",
        ),
        (
            (
                "    note: Planned re-index after the v2 migration, agreed by email on 2022-05-10.\n",
                "",
            ),
            "review #1 (openai 2022-05-22 volume_spike), field note: a dismissal needs a note",
        ),
    ],
)
def test_a_mistake_names_the_file_line_review_and_field(change, says):
    old, new = change
    message = error_of(VALID.replace(old, new, 1))

    assert message.startswith("data/flag_reviews.yaml: line ")
    assert says in message


def test_a_missing_field_is_named():
    message = error_of(VALID.replace("    reviewer: asmith\n", ""))

    assert (
        "line 9: review #2 (nielsen 2022-03-27 restricted_network), field reviewer: required"
        in message
    )


def test_the_same_flag_reviewed_twice_is_refused_naming_both_reviews():
    twice = VALID + VALID.split("reviews:\n", 1)[1].split("  - partner: nielsen")[0]

    message = error_of(twice)

    assert "line 16: review #3 (openai 2022-05-22 volume_spike)" in message
    assert "already reviewed by review #1" in message


def test_a_file_that_is_not_a_list_of_reviews_says_so():
    assert error_of("- partner: openai\n") == (
        "data/flag_reviews.yaml: line 1: expected a mapping with a `reviews:` list"
    )
    assert error_of("reviews: [\n").startswith("data/flag_reviews.yaml: line 2: is not valid YAML")


def test_the_file_beside_contracts_is_optional_but_a_named_one_must_exist(tmp_path):
    contracts = tmp_path / "contracts.yaml"
    contracts.write_text("currency: USD\n")
    beside = settings_for_test(contracts=str(contracts))

    assert beside.reviews_location == f"{tmp_path}/{REVIEWS_FILE}"
    assert load_reviews_for(beside).reviews == []

    (tmp_path / REVIEWS_FILE).write_text(VALID)
    assert len(load_reviews_for(beside).reviews) == 2

    named = settings_for_test(contracts=str(contracts), reviews=str(tmp_path / "nope.yaml"))
    with pytest.raises(ReviewsError, match=r"nope\.yaml: reviews file not found"):
        load_reviews_for(named)
    assert load_reviews(tmp_path / "nope.yaml").reviews == []


def test_a_key_given_twice_in_a_review_names_both_lines():
    doubled = VALID.replace(
        "    status: dismissed\n", "    status: dismissed\n    status: confirmed\n"
    )

    assert error_of(doubled) == (
        "data/flag_reviews.yaml: line 6: key 'status' is given twice in the same mapping "
        "(first on line 5); YAML would silently keep this one: remove one"
    )
