"""The machine-readable files say numbers as what they mean, in one unit for items."""

import csv
import datetime as dt
import html
import io
import re

import pytest

from callaudit.contracts import parse_contracts
from callaudit.report import gather_year
from callaudit.report.html import render_html
from callaudit.report.markdown import render_markdown
from callaudit.report.tables import flags_csv, partners_csv, summary
from callaudit.report.text import headline
from tests.report.builders import CONTRACTS_YAML, contracts, flag, usage, write_day


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    wh = tmp_path_factory.mktemp("tables") / "wh"
    volume = {
        **flag("acme", "volume_spike", "spike", "warning"),
        "metric": "items",
        "observed": 2745.0,
        "threshold": 1195.9849748640418,
        "expected": 421.99999999999994,
        "score": 25.41234,
    }
    write_day(wh, dt.date(2022, 1, 5), [usage("acme", 7, 701)], flag_rows=[volume])
    return gather_year(str(wh), contracts(), 2022)


def rows(text: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(text)))


def test_flag_counts_are_whole_numbers_and_the_score_has_two_decimals(report):
    [row] = rows(flags_csv(report))

    assert (row["observed"], row["threshold"], row["expected"]) == ("2745", "1196", "422")
    assert row["score"] == "25.41"
    assert row["review"] == "unreviewed"


def test_money_in_partners_csv_is_in_cents(report):
    row = next(r for r in rows(partners_csv(report)) if r["partner_id"] == "acme")

    # The report covers one day: 1/31 of 3,000 a month and of the 1,000 included items;
    # the 701 - 32.26 items beyond cost 2.00 per thousand.
    assert row["monthly_fees"] == "96.77"
    assert row["overage"] == f"{(701 - 1000 / 31) / 1000 * 2:.2f}" == "1.34"
    assert row["calls"] == "7" and row["items"] == "701" and row["unit"] == "items"


def test_summary_json_states_counts_as_integers(report):
    month = summary(report)["partners"][0]["fees"]["months"][0]

    assert isinstance(month["included_items"], int)
    assert isinstance(month["overage_items"], int)


def test_one_unit_label_for_items_everywhere_when_contracts_name_it(tmp_path):
    """contracts.yaml `item_unit: tweets` puts "tweets" in every sentence, header and
    card of every format (HTML, and so the PDF printed from it, Markdown, the headline
    the CLI prints, summary.json, the unit column of partners.csv), never "items"; the
    field names of summary.json and the CSVs stay `items`, as a machine reads them."""
    wh = tmp_path / "wh"
    monthly = flag("acme", "monthly_item_limit", "Acme had retrieved 701 tweets in January")
    write_day(
        wh,
        dt.date(2022, 1, 5),
        [usage("acme", 7, 701), usage("globex", 3, 50)],
        flag_rows=[monthly],
    )
    tweets = parse_contracts(
        CONTRACTS_YAML.replace("currency: USD\n", "currency: USD\nitem_unit: tweets\n")
    )

    report = gather_year(str(wh), tweets, 2022)
    page = render_html(report)
    visible = html.unescape(re.sub(r"<style.*?</style>|<[^>]+>", " ", page, flags=re.S))
    readable = {
        "html": visible,
        "markdown": render_markdown(report),
        "headline": headline(report),
        "flags.csv": flags_csv(report),
    }

    assert report.unit == "tweets"
    assert "retrieved 701 tweets" in readable["markdown"]
    assert "Tweets retrieved" in visible
    for name, text in readable.items():
        assert not re.search(r"(?i)\bitems?\b", text), name
    assert summary(report)["unit"] == "tweets"
    assert summary(report)["partners"][0]["items"] == 701
    assert {r["unit"] for r in rows(partners_csv(report))} == {"tweets"}


def test_without_a_unit_in_contracts_items_are_items(report):
    assert report.unit == "items"
    assert "retrieved 701 items" in render_markdown(report)
