"""How many times Chromium prints a report: twice from nothing (find the pages, print
them), once when the published PDF of the same period already gives the right pages,
and the files are the same either way."""

import base64
import datetime as dt
import os
import re
import time
from pathlib import Path

import pytest

from callaudit import storage
from callaudit.report import chromium, gather_year, write_report
from callaudit.report.build import ReportRefused
from callaudit.report.chromium import find_chromium
from callaudit.report.figures import Report
from callaudit.report.html import render_html, unpainted
from callaudit.report.pdf import number_structure_ids, page_count, page_destinations
from callaudit.report.write import STAGING, published_pages
from tests.report.builders import contracts, days, flag, usage, write_day

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(find_chromium() is None, reason="chromium is not installed"),
]


def _year(wh: Path, partners: int) -> Report:
    """Seventy days of 2022; ``partners`` more partners with no agreement, each a part
    of its own, so more of them push the later parts onto later pages."""
    for day in days(dt.date(2022, 1, 1), 70):
        rows = [usage("acme", 50, 500), usage("globex", 5, 50, app_id="globex-feed")]
        flags = [flag("acme", "unauthorized_app", "x")] if day.day == 9 else []
        for n in range(partners):
            rows.append(usage(f"initech-{n}", 4, 40, app_id="x"))
            flags.append({**flag(f"initech-{n}", "no_agreement", "none"), "observed": 4.0})
        write_day(wh, day, rows, flag_rows=flags)
    return gather_year(str(wh), contracts(), 2022)


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    return _year(tmp_path_factory.mktemp("small") / "wh", 1)


@pytest.fixture(scope="module")
def fresh(small, tmp_path_factory):
    """The small year written into an empty folder, and the prints it took."""
    return _write(small, tmp_path_factory.mktemp("fresh"))


@pytest.fixture(scope="module")
def large(tmp_path_factory):
    return _year(tmp_path_factory.mktemp("large") / "wh", 12)


def _write(report, reports: Path | str, **kwargs) -> tuple[dict[str, bytes], int]:
    """The files written (name -> bytes) and the prints it took."""
    before = chromium.prints
    files = write_report(report, str(reports), **kwargs)
    return {name: storage.read_bytes(url) for name, url in files.files.items()}, (
        chromium.prints - before
    )


def _same_print(a: bytes, b: bytes) -> bool:
    """Two PDFs equal but for the time Chromium stamps in them (it prints the date of
    the print; the report's own time is in the page and is compared)."""
    stamp = re.compile(rb"/(CreationDate|ModDate) \(D:[^)]*\)")
    return stamp.sub(b"", a) == stamp.sub(b"", b)


def _assert_same_set(a: dict[str, bytes], b: dict[str, bytes]) -> None:
    assert sorted(a) == sorted(b)
    for name in a:
        if name == "report.pdf":
            assert _same_print(a[name], b[name])
        elif name != "SHA256SUMS":
            assert a[name] == b[name], name
    lines = lambda s: {line for line in s.decode().splitlines() if "report.pdf" not in line}  # noqa: E731
    assert lines(a["SHA256SUMS"]) == lines(b["SHA256SUMS"])


def test_a_report_written_over_its_published_self_is_printed_once_and_is_the_same(
    small, fresh, tmp_path
):
    first, first_prints = _write(small, tmp_path / "nightly")
    again, again_prints = _write(small, tmp_path / "nightly")

    assert (fresh[1], first_prints, again_prints) == (2, 2, 1)
    _assert_same_set(again, fresh[0])
    _assert_same_set(first, fresh[0])
    assert page_destinations(again["report.pdf"]) == published_pages(
        str(tmp_path / "nightly" / "2022")
    )


def _tagged(pdf: bytes) -> bool:
    """Whether the PDF carries a structure tree (what screen readers read)."""
    return b"/StructTreeRoot" in pdf


def test_the_print_that_only_finds_the_pages_is_untagged_and_the_published_pdf_is_tagged(
    small, fresh, tmp_path
):
    untagged = chromium.untagged_prints
    first, first_prints = _write(small, tmp_path / "nightly")
    first_untagged = chromium.untagged_prints - untagged
    again, again_prints = _write(small, tmp_path / "nightly")

    assert (first_prints, first_untagged) == (2, 1)  # found untagged, published tagged
    assert (again_prints, chromium.untagged_prints - untagged) == (1, 1)  # the guess held
    assert _tagged(first["report.pdf"]) and _tagged(again["report.pdf"])
    _assert_same_set(first, fresh[0])
    _assert_same_set(again, fresh[0])


def test_an_untagged_print_puts_every_part_on_the_same_page_as_the_tagged_one(large, tmp_path):
    html = tmp_path / "report.html"
    html.write_text(render_html(large), encoding="utf-8")
    with chromium.Printer() as printer:
        tagged = printer.print_pdf(html)
    with chromium.Printer() as printer:
        untagged = printer.print_pdf(html, tagged=False)

    assert _tagged(tagged) and not _tagged(untagged)
    assert len(untagged) < len(tagged)
    assert page_count(untagged) == page_count(tagged) > 1
    assert page_destinations(untagged) == page_destinations(tagged)
    assert len(set(page_destinations(tagged).values())) > 1


def test_the_page_finding_print_paints_nothing_and_finds_the_same_pages(large, tmp_path):
    html = render_html(large)
    painted, blank = tmp_path / "painted.html", tmp_path / "blank.html"
    painted.write_text(html, encoding="utf-8")
    blank.write_text(unpainted(html), encoding="utf-8")
    charts = html.count("<svg")
    assert charts > 2 and unpainted(html).count("<svg") == charts  # the same charts...
    assert "<rect" in html and "<rect" not in unpainted(html)  # ...empty
    with chromium.Printer() as printer:
        published = printer.print_pdf(painted)
    with chromium.Printer() as printer:
        found = printer.print_pdf(blank, tagged=False)

    assert page_count(found) == page_count(published) > 1
    assert page_destinations(found) == page_destinations(published)
    assert len(found) * 10 < len(published)  # no text, no figure: blank pages


def test_when_the_parts_moved_the_print_goes_on_and_gives_a_fresh_reports_files(
    small, large, tmp_path
):
    _write(small, tmp_path / "nightly")
    moved = published_pages(str(tmp_path / "nightly" / "2022"))
    anew, _ = _write(large, tmp_path / "fresh")
    assert page_destinations(anew["report.pdf"]) != moved  # the guess is wrong

    over, prints = _write(large, tmp_path / "nightly")

    assert prints == 2  # the guess, then the pages it found: no more than from nothing
    _assert_same_set(over, anew)


def test_on_s3_the_published_pdf_is_read_back_and_one_print_is_enough(small, fresh, s3_bucket):
    first, first_prints = _write(small, f"{s3_bucket}/reports")
    again, again_prints = _write(small, f"{s3_bucket}/reports")

    assert (first_prints, again_prints) == (2, 1)
    _assert_same_set(first, fresh[0])
    _assert_same_set(again, fresh[0])


@pytest.mark.parametrize(
    "previous",
    [b"%PDF-1.4 not one Chromium wrote", b"", b"startxref\n12345678\n%%EOF"],
    ids=["foreign", "empty", "damaged"],
)
def test_an_unreadable_published_pdf_is_no_guess_and_never_an_error(
    small, fresh, tmp_path, previous
):
    folder = tmp_path / "nightly" / "2022"
    folder.mkdir(parents=True)
    (folder / "report.pdf").write_bytes(previous)

    assert published_pages(str(folder)) == {}
    over, prints = _write(small, tmp_path / "nightly")

    assert prints == 2
    _assert_same_set(over, fresh[0])


def test_a_blocking_check_that_fails_while_chromium_prints_keeps_the_published_set(small, tmp_path):
    published, _ = _write(small, tmp_path / "reports")

    def refuse(summary: dict) -> None:
        assert summary["year"] == 2022
        raise ReportRefused("a blocking check failed", [])

    with pytest.raises(ReportRefused, match="a blocking check failed"):
        _write(small, tmp_path / "reports", before_publish=refuse)

    folder = tmp_path / "reports" / "2022"
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == published
    assert list((tmp_path / "reports" / STAGING).iterdir()) == []


def test_the_blocking_checks_run_while_the_first_print_is_under_way(small, tmp_path):
    started = []
    before = chromium.prints

    _, prints = _write(
        small, tmp_path / "reports", before_publish=lambda _: started.append(chromium.prints)
    )

    assert prints == 2
    assert started == [before + 1]  # the first print was started, the second not yet


def test_a_chromium_started_before_the_report_prints_the_same_files(small, fresh, tmp_path):
    launched = chromium.launched
    with chromium.Printer() as early:
        written, prints = _write(small, tmp_path / "reports", printer=early)

    assert prints == 2  # no published PDF: the pages found, then printed
    assert chromium.launched - launched == 1  # both prints in the one Chromium
    _assert_same_set(written, fresh[0])
    early.wait_closed()
    with pytest.raises(ChildProcessError):  # stopped and reaped: no process left behind
        os.waitpid(early.pid, os.WNOHANG)


def _print_to_pdf(html: Path, pdf: Path) -> bytes:
    """``html`` printed by Chromium's own ``--print-to-pdf``, its structure elements
    numbered: what a print over the pipe must equal."""
    chromium.run_chromium(
        [
            f"--print-to-pdf={pdf}",
            "--no-pdf-header-footer",
            "--generate-pdf-document-outline",
            "--run-all-compositor-stages-before-draw",
            html.resolve().as_uri(),
        ]
    )
    return number_structure_ids(pdf.read_bytes())


def test_a_print_over_the_devtools_pipe_is_the_same_pdf_as_print_to_pdf(fresh, tmp_path):
    html = tmp_path / "report.html"
    html.write_bytes(fresh[0]["report.html"])
    cli = _print_to_pdf(html, tmp_path / "cli.pdf")
    with chromium.Printer() as printer:
        piped = printer.print_pdf(html)

    assert _same_print(piped, cli)
    assert _same_print(piped, fresh[0]["report.pdf"])


def test_the_tagged_print_after_page_finding_prints_is_the_same_pdf_as_print_to_pdf(
    fresh, tmp_path
):
    html = tmp_path / "report.html"
    html.write_bytes(fresh[0]["report.html"])
    blank = tmp_path / "blank.html"
    blank.write_text(unpainted(html.read_text()))
    cli = _print_to_pdf(html, tmp_path / "cli.pdf")
    with chromium.Printer() as printer:
        # Every print in the one tab: two page-finding prints, then two tagged ones.
        found = [printer.print_pdf(blank, tagged=False) for _ in range(2)]
        published = [printer.print_pdf(html) for _ in range(2)]

    assert page_destinations(found[0]) == page_destinations(found[1])
    assert page_destinations(found[0]) == page_destinations(published[0])
    assert _same_print(published[0], cli)
    assert _same_print(published[1], cli)


def test_a_print_that_takes_too_long_stops_chromium_and_says_so(fresh, tmp_path):
    html = tmp_path / "report.html"
    html.write_bytes(fresh[0]["report.html"])
    printer = chromium.Printer(timeout=0.001)

    with pytest.raises(TimeoutError, match=r"no .* within 0 s \(pid \d+\)"):
        printer.print_pdf(html)

    printer.wait_closed()
    with pytest.raises(ChildProcessError):
        os.waitpid(printer.pid, os.WNOHANG)
    with pytest.raises(RuntimeError, match="was stopped"):
        printer.start(html)


def _printed_unnumbered(printer: chromium.Printer, html: Path) -> bytes:
    """``html`` printed tagged in the printer's tab (its renderer has laid out a page
    already), as Chromium makes it: its structure elements' names not numbered."""
    deadline = time.monotonic() + 60
    printer._call("Page.navigate", {"url": html.resolve().as_uri() + "?again"}, deadline)
    printer._wait_for("Page.loadEventFired", deadline)
    printed = printer._call("Page.printToPDF", chromium.PRINT_TO_PDF, deadline)
    return base64.b64decode(printed["data"])


def _structure_ids(pdf: bytes) -> list[bytes]:
    return re.findall(rb"/ID \(node(\d+)\)", pdf)


def test_a_page_laid_out_twice_in_one_renderer_is_named_on_from_the_first_and_numbered_the_same(
    fresh, tmp_path
):
    html = tmp_path / "report.html"
    html.write_bytes(fresh[0]["report.html"])
    with chromium.Printer() as printer:
        published = printer.print_pdf(html)
        again = _printed_unnumbered(printer, html)

    assert _structure_ids(published)[:3] == [b"00000001", b"00000002", b"00000003"]
    assert int(_structure_ids(again)[0]) > len(_structure_ids(published))  # named on
    assert not _same_print(again, published)
    assert _same_print(number_structure_ids(again), published)
    assert _same_print(published, fresh[0]["report.pdf"])
