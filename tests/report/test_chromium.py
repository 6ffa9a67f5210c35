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
    """Seventy days: acme with a hostile unauthorised app, initech with no agreement,
    globex with nothing to report."""
    root = tmp_path_factory.mktemp("chromium")
    wh = root / "wh"
    for day in days(dt.date(2022, 1, 1), 70):
        flags = [flag("acme", "unauthorized_app", "x")] if day.day == 9 else []
        rows = [
            usage("acme", 50, 500),
            usage("acme", 1, 1, app_id=HOSTILE_APP),
            usage("globex", 5, 50, app_id="globex-feed"),
        ]
        if day.day % 3 == 0:
            rows.append(usage("initech", 4, 40, app_id="x"))
            flags.append({**flag("initech", "no_agreement", "no agreement"), "observed": 4.0})
        write_day(wh, day, rows, flag_rows=flags)
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


def test_the_printed_contents_give_the_page_each_part_starts_on(written):
    import re

    from callaudit.report.pdf import page_destinations

    pdf = Path(written.files["report.pdf"]).read_bytes()
    html = Path(written.html).read_text()
    listed = dict(
        re.findall(r'<li><a href="#([^"]+)">[^<]*</a><span class="pg">(\d*)</span>', html)
    )

    starts = page_destinations(pdf)
    assert listed["findings"] == "1"
    assert listed and all(listed[anchor] == str(starts[anchor]) for anchor in listed)
    acme = next(anchor for anchor in listed if anchor.startswith("p-acme-"))
    assert int(listed[acme]) < int(listed["others"]) <= int(listed["provenance"])


def test_every_printed_page_is_numbered_and_none_is_blank(written, tmp_path):
    import shutil
    import subprocess

    if not (shutil.which("pdftoppm") and shutil.which("pdftotext")):
        pytest.skip("poppler-utils is not installed (apt-get install -y poppler-utils)")
    pdf = written.files["report.pdf"]
    text = subprocess.run(["pdftotext", pdf, "-"], capture_output=True, text=True, check=True)
    pages = text.stdout.split("\f")[:-1]
    assert len(pages) == written.pdf_pages >= 4
    for number, page in enumerate(pages, start=1):
        assert f"Page {number} of {len(pages)}" in page
    subprocess.run(["pdftoppm", "-r", "20", "-gray", pdf, str(tmp_path / "p")], check=True)
    for image in sorted(tmp_path.glob("p-*.pgm")):
        pixels = image.read_bytes().split(b"\n", 3)[3]  # P5, size, depth, then the pixels
        inked = sum(1 for value in pixels if value < 200) / len(pixels)
        assert inked > 0.004, f"{image.name} is nearly blank ({inked:.4f} of it inked)"


def test_a_screenshot_of_the_opening_findings_is_rendered(tmp_path):
    """Kept in the test's tmp folder: the README's picture of the report is the demo's,
    made by scripts/screenshots.py; a test never rewrites a tracked file."""
    from tests.devtools import Page

    png = tmp_path / "report-findings.png"
    html = _sample_quarter_report(tmp_path)
    with Page(width=1100) as page:
        page.open(html)
        page.screenshot(png, top=0, height=1400, width=1100)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert png.stat().st_size > 20_000


def _sample_quarter_report(tmp_path: Path) -> Path:
    """A first quarter with a breach of each common kind, for the docs screenshot."""
    from tests.report.builders import network

    wh = tmp_path / "wh"
    for day in days(dt.date(2022, 1, 1), 90):
        rows = [usage("acme", 90 + day.day, 900), usage("globex", 40, 400, app_id="globex-feed")]
        flags, nets = [], []
        if day.day in (10, 11):
            over = {"observed": 140.0, "threshold": 100.0, "metric": "calls"}
            flags.append({**flag("acme", "daily_call_limit", "over", "warning"), **over})
        if day.month == 2 and day.day in (3, 4, 5):
            nets.append(network("acme", "acme-search", "gov-agency-a", 6, 60))
            flags.append({**flag("acme", "restricted_network", "gov"), "observed": 6.0})
        if day > dt.date(2022, 2, 14):
            flags.append({**flag("acme", "no_agreement", "after the end"), "observed": 1.0})
        write_day(wh, day, rows, network_rows=nets, flag_rows=flags)
    report = gather_year(str(wh), contracts(), 2022)
    return Path(write_report(report, str(tmp_path / "reports"), pdf=False).html)
