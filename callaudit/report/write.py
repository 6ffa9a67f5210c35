"""Writing a report's files under ``<reports>/<year>/`` or ``<reports>/<start>_<end>/``.

Every file is written atomically (local or s3://). ``SHA256SUMS`` lists the SHA-256 of
each file written, in ``sha256sum`` format, so ``callaudit verify`` (or ``sha256sum -c``)
can tell a report file was altered after it was written.

The PDF is printed by headless Chromium when it is installed, in two passes: the first
tells on which page each part landed (callaudit.report.pdf), the second prints the
contents with those page numbers. When the published PDF of the same period already
gives the right pages, one pass is enough (:func:`render_pdf`); Chromium can be started
before the report is gathered (:func:`early_printer`), and the other files and the
blocking checks are done while it prints. Without Chromium the other files are
written and ``pdf_note`` says how to get the PDF.
"""

import contextlib
import datetime as dt
import hashlib
import json
import shutil
import tempfile
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from callaudit import storage
from callaudit.report import chromium
from callaudit.report.figures import Period, Report
from callaudit.report.html import paged_html, render_html, unpainted
from callaudit.report.markdown import render_markdown
from callaudit.report.pdf import page_count, page_destinations
from callaudit.report.tables import flags_csv, partners_csv, summary_json

CHECKSUMS = "SHA256SUMS"
NO_CHROMIUM = (
    "no report.pdf: Chromium is not installed (Debian: apt-get install chromium; or set "
    "CALLAUDIT_CHROMIUM to a Chromium binary), the other files are written"
)
#: Print passes at most: the second adds page numbers; a third only if they moved.
MAX_PDF_PASSES = 3


@dataclass
class ReportFiles:
    folder: str
    files: dict[str, str]  # file name -> url
    pdf_note: str  # why there is no PDF, or ""
    pdf_pages: int = 0

    @property
    def html(self) -> str:
        return self.files["report.html"]


def report_folder(reports: str, period: Period | int) -> str:
    """``<reports>/<year>`` or ``<reports>/<start>_<end>``."""
    if isinstance(period, int):
        period = Period.of_year(period)
    return storage.join(reports, period.folder)


def published_pages(folder: str) -> dict[str, int]:
    """Anchor -> page in the report.pdf already published in ``folder``: where the parts
    of the next report of the same period most likely land (nightly, the layout rarely
    moves). Only a guess that :func:`render_pdf` checks, so anything unreadable (no
    PDF, another writer's, a damaged one, an unreachable store) is simply no guess."""
    try:
        return page_destinations(storage.read_bytes(storage.join(folder, "report.pdf")))
    except Exception:
        return {}


def early_printer(pdf: bool = True) -> contextlib.AbstractContextManager:
    """A Chromium started now, for a report whose HTML is not ready yet (pass it to
    :func:`write_report`): it starts while the figures are computed. A null context
    when there is to be no PDF or Chromium is not installed."""
    if pdf and chromium.find_chromium() is not None:
        return chromium.Printer()
    return contextlib.nullcontext()


def render_pdf(
    report: Report,
    *,
    pages: Mapping[str, int] | None = None,
    meanwhile: Callable[[], None] | None = None,
    printer: chromium.Printer | None = None,
) -> tuple[str, bytes] | None:
    """(report.html with page numbers in its contents, report.pdf), or None when
    Chromium is not installed.

    Printed until the page of each part read back from the PDF is the one its contents
    give (MAX_PDF_PASSES at most). From no numbers that takes two prints: the first
    finds them, the second prints them, every print in the one Chromium (the first
    untagged, :class:`~callaudit.report.chromium.Printer`). ``pages`` starts from a guess (those
    of the report already published): when the parts have not moved, the first print
    proves it and is the only one, about 3 s saved at full size. A first print with no
    guess is untagged and unpainted (:func:`~callaudit.report.html.unpainted`: quicker;
    only its pages are read) and never the last, so the published PDF is always a
    tagged print of the final HTML. The numbers take no room of their own
    (callaudit.report.pdf), so the pages found do not depend on the guess and the files
    are the same either way. ``meanwhile`` is run once, while the first print is under
    way (Chromium is a separate process). ``printer``: a Chromium already started
    (:func:`early_printer`) for the first print."""
    if printer is None and chromium.find_chromium() is None:
        if meanwhile is not None:
            meanwhile()
        return None
    pages = dict(pages or {})
    with printer if printer is not None else chromium.Printer() as running:
        with_pages = paged_html(report)
        for printed in range(MAX_PDF_PASSES):
            html = with_pages(pages)
            # With no guess the first print only finds the pages and is never published:
            # untagged and unpainted, it is 0.6-0.8 s quicker with the same pages
            # (chromium.FIND_PAGES, html.UNPAINTED).
            tagged = printed > 0 or bool(pages)
            with tempfile.TemporaryDirectory(prefix="callaudit-pdf-") as tmp:
                html_path = Path(tmp) / "report.html"
                html_path.write_text(html if tagged else unpainted(html), encoding="utf-8")
                running.start(html_path, tagged=tagged)
                if printed == 0 and meanwhile is not None:
                    meanwhile()
                data = running.finish()
            found = page_destinations(data)
            if found == pages and tagged:
                break
            pages = found
    return html, data


def write_report(
    report: Report,
    reports: str,
    *,
    pdf: bool = True,
    before_publish: Callable[[dict], None] | None = None,
    printer: chromium.Printer | None = None,
    pages: Mapping[str, int] | None = None,
) -> ReportFiles:
    """Render every format into a staging folder, then replace the published set with it
    whole; the PDF only when Chromium is present (``pdf=False`` skips it); ``printer``:
    a Chromium started early for it (:func:`early_printer`).

    ``before_publish`` is called with the new summary.json (as a dict) once it is
    written aside (with the PDF, while Chromium prints): when it raises (a blocking
    check failed), the staged set is dropped and the published one is left exactly as
    it was. The PDF's print starts from ``pages`` when given (found by
    callaudit.report.early), else from those of the published one (see
    :func:`render_pdf`).
    """
    target = report_folder(reports, report.period)
    folder = storage.join(reports, STAGING, f"{report.period.folder}-{uuid.uuid4().hex[:12]}")
    try:
        if not pdf:
            pages = {}
        elif not pages:
            pages = published_pages(target)
        written = _write_set(
            report, folder, pdf=pdf, pages=pages, before_publish=before_publish, printer=printer
        )
        _publish(folder, target, list(written.files))
    finally:
        _drop(folder)
    files = {name: storage.join(target, name) for name in written.files}
    return ReportFiles(target, files, written.pdf_note, written.pdf_pages)


#: Folder under ``<reports>`` where a report is written before it is published.
STAGING = ".staging"
#: On an object store, the marker of a publication in progress (see :func:`_publish`).
PUBLISHING = "PUBLISHING"
#: Every file a report set may hold (SHA256SUMS lists those of one set).
SET_FILES = (
    "report.html",
    "report.pdf",
    "report.md",
    "summary.json",
    "partners.csv",
    "flags.csv",
    CHECKSUMS,
)


def _publish(staged: str, target: str, names: list[str]) -> None:
    """Replace the set in ``target`` by the staged one. On a local disk the folders are
    swapped by two renames: a reader finds the old set, for a moment none, or the new
    set, never a mix.

    An object store has no rename and no multi-object transaction, so a reader cannot
    be kept from seeing a mix while the files are replaced; it can always tell one. A
    ``PUBLISHING`` marker (the new set's id and start time) is written first, then
    each file is copied in place server-side (one atomic PUT each), the old set's files
    the new one lacks are removed, ``SHA256SUMS`` is written last and the marker
    deleted. A set is complete when there is no marker and every file matches
    ``SHA256SUMS``; ``callaudit verify`` checks both, and a publisher killed half-way
    leaves the marker, which names what happened until the next report replaces it."""
    if not storage.is_remote(target):
        target_path, staged_path = Path(target), Path(staged)
        old = target_path.with_name(f".{target_path.name}.replaced-{uuid.uuid4().hex[:12]}")
        target_path.parent.mkdir(parents=True, exist_ok=True)
        if target_path.exists():
            target_path.rename(old)
        staged_path.rename(target_path)
        shutil.rmtree(old, ignore_errors=True)
        return
    marker = storage.join(target, PUBLISHING)
    started = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    set_id = staged.rstrip("/").rsplit("/", 1)[-1]
    storage.write_text_atomic(
        marker, json.dumps({"set": set_id, "started": started, "files": sorted(names)})
    )
    fs = storage.filesystem(target)
    path = lambda url: url.split("://", 1)[1]  # noqa: E731
    for name in sorted(n for n in names if n != CHECKSUMS):
        fs.copy(path(storage.join(staged, name)), path(storage.join(target, name)))
    for stale in SET_FILES:
        if stale not in names:
            storage.remove(storage.join(target, stale))
    fs.copy(path(storage.join(staged, CHECKSUMS)), path(storage.join(target, CHECKSUMS)))
    storage.remove(marker)


def _drop(staged: str) -> None:
    """Remove what is left of a staging folder (all of it when the set was refused)."""
    if storage.is_remote(staged):
        fs = storage.filesystem(staged)
        with contextlib.suppress(FileNotFoundError):
            fs.rm(staged.split("://", 1)[1], recursive=True)
    else:
        shutil.rmtree(staged, ignore_errors=True)


def _write_set(
    report: Report,
    folder: str,
    *,
    pdf: bool,
    pages: Mapping[str, int],
    before_publish: Callable[[dict], None] | None,
    printer: chromium.Printer | None = None,
) -> ReportFiles:
    """Render and write every file of the report into ``folder`` and run the blocking
    checks on its summary; with a PDF, the other files and the checks are done while
    Chromium prints."""
    blobs: dict[str, bytes] = {}
    files: dict[str, str] = {}

    def write(name: str, data: bytes) -> None:
        blobs[name], files[name] = data, storage.join(folder, name)
        storage.write_bytes_atomic(files[name], data)

    def the_others_and_checks() -> None:
        write("report.md", render_markdown(report).encode("utf-8"))
        write("summary.json", summary_json(report).encode("utf-8"))
        write("partners.csv", partners_csv(report).encode("utf-8"))
        write("flags.csv", flags_csv(report).encode("utf-8"))
        if before_publish is not None:
            before_publish(json.loads(storage.read_bytes(files["summary.json"])))

    note, pdf_pages = "PDF not requested", 0
    if pdf:
        printed = render_pdf(report, pages=pages, meanwhile=the_others_and_checks, printer=printer)
        if printed is None:
            write("report.html", render_html(report).encode("utf-8"))
            note = NO_CHROMIUM
        else:
            write("report.html", printed[0].encode("utf-8"))
            write("report.pdf", printed[1])
            note, pdf_pages = "", page_count(printed[1])
    else:
        write("report.html", render_html(report).encode("utf-8"))
        the_others_and_checks()
    # SHA256SUMS lists the files in the same order whichever was written first.
    order = ("report.html", "report.md", "summary.json", "partners.csv", "flags.csv", "report.pdf")
    sums = "".join(
        f"{hashlib.sha256(blobs[name]).hexdigest()}  {name}\n" for name in order if name in blobs
    )
    files[CHECKSUMS] = storage.join(folder, CHECKSUMS)
    storage.write_text_atomic(files[CHECKSUMS], sums)
    files = {name: files[name] for name in (*order, CHECKSUMS) if name in files}
    return ReportFiles(folder=folder, files=files, pdf_note=note, pdf_pages=pdf_pages)
