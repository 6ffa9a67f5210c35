"""The report as a reader's browser sees it: offline, nothing executed, printable."""

import datetime as dt
from pathlib import Path

import pytest

from callaudit.report import gather_year, write_report
from callaudit.report.chromium import find_chromium
from tests.report.builders import contracts, days, flag, usage, write_day
from tests.report.test_escaping import HOSTILE_APP

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(find_chromium() is None, reason="chromium is not installed"),
]


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    root = tmp_path_factory.mktemp("chromium")
    wh = root / "wh"
    for day in days(dt.date(2022, 1, 1), 40):
        flags = [flag("acme", "unauthorized_app", "x")] if day.day == 9 else []
        write_day(
            wh,
            day,
            [usage("acme", 50, 500), usage("acme", 1, 1, app_id=HOSTILE_APP)],
            flag_rows=flags,
        )
    return write_report(gather_year(str(wh), contracts(), 2022), str(root / "reports"))


def test_the_html_loads_with_no_network_request(written):
    from tests.devtools import Page

    html = Path(written.html)
    with Page() as page:
        page.open(html)
        assert page.requests() == [html.resolve().as_uri()]


def test_a_hostile_app_id_is_shown_as_text_and_never_runs(written):
    from tests.devtools import Page

    with Page() as page:
        page.open(Path(written.html))
        found = page.call(
            "Runtime.evaluate",
            expression=(
                "[document.scripts.length, document.images.length, "
                "[...document.querySelectorAll('td')].some(td => td.textContent === "
                f"{HOSTILE_APP!r})]"
            ),
            returnByValue=True,
        )["result"]["value"]
    assert found == [0, 0, True]


def test_a_pdf_is_printed_next_to_the_html(written):
    pdf = Path(written.files["report.pdf"])
    assert pdf.read_bytes().startswith(b"%PDF")
