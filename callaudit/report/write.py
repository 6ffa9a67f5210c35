"""Writing a report's files under ``<reports>/<year>/`` or ``<reports>/<start>_<end>/``.

Every file is written atomically (local or s3://). ``SHA256SUMS`` lists the SHA-256 of
each file written, in ``sha256sum`` format, so ``callaudit verify`` (or ``sha256sum -c``)
can tell a report file was altered after it was written.

The PDF is printed by headless Chromium when it is installed, in two passes: the first
tells on which page each part landed (callaudit.report.pdf), the second prints the
contents with those page numbers. Without Chromium the other files are written and
``pdf_note`` says how to get the PDF.
"""

import contextlib
import datetime as dt
import hashlib
import json
import shutil
import tempfile
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from callaudit import storage
from callaudit.report import chromium
from callaudit.report.figures import Period, Report
from callaudit.report.html import render_html
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


def _print(html: str) -> bytes:
    with tempfile.TemporaryDirectory(prefix="callaudit-pdf-") as tmp:
        html_path, pdf_path = Path(tmp) / "report.html", Path(tmp) / "report.pdf"
        html_path.write_text(html, encoding="utf-8")
        chromium.html_to_pdf(html_path, pdf_path)
        return pdf_path.read_bytes()


def render_pdf(report: Report) -> tuple[str, bytes] | None:
    """(report.html with page numbers in its contents, report.pdf), or None when
    Chromium is not installed."""
    if chromium.find_chromium() is None:
        return None
    html = render_html(report)
    data = _print(html)
    pages: dict[str, int] = {}
    for _ in range(MAX_PDF_PASSES - 1):
        found = page_destinations(data)
        if not found or found == pages:
            break
        pages = found
        html = render_html(report, page_numbers=pages)
        data = _print(html)
    return html, data


def write_report(
    report: Report,
    reports: str,
    *,
    pdf: bool = True,
    before_publish: Callable[[dict], None] | None = None,
) -> ReportFiles:
    """Render every format into a staging folder, then replace the published set with it
    whole; the PDF only when Chromium is present (``pdf=False`` skips it).

    ``before_publish`` is called with the new summary.json (as a dict) once the set is
    written aside: when it raises (a blocking check failed), the staged set is dropped
    and the published one is left exactly as it was.
    """
    target = report_folder(reports, report.period)
    folder = storage.join(reports, STAGING, f"{report.period.folder}-{uuid.uuid4().hex[:12]}")
    try:
        written = _write_set(report, folder, pdf=pdf)
        if before_publish is not None:
            before_publish(json.loads(storage.read_bytes(written.files["summary.json"])))
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


def _write_set(report: Report, folder: str, *, pdf: bool) -> ReportFiles:
    """Render and write every file of the report into ``folder``."""
    printed = render_pdf(report) if pdf else None
    texts = {
        "report.html": printed[0] if printed else render_html(report),
        "report.md": render_markdown(report),
        "summary.json": summary_json(report),
        "partners.csv": partners_csv(report),
        "flags.csv": flags_csv(report),
    }
    blobs = {name: text.encode("utf-8") for name, text in texts.items()}
    note, pages = "PDF not requested", 0
    if pdf:
        if printed is None:
            note = NO_CHROMIUM
        else:
            blobs["report.pdf"], note, pages = printed[1], "", page_count(printed[1])
    files = {}
    for name, data in blobs.items():
        files[name] = storage.join(folder, name)
        storage.write_bytes_atomic(files[name], data)
    sums = "".join(f"{hashlib.sha256(data).hexdigest()}  {name}\n" for name, data in blobs.items())
    files[CHECKSUMS] = storage.join(folder, CHECKSUMS)
    storage.write_text_atomic(files[CHECKSUMS], sums)
    return ReportFiles(folder=folder, files=files, pdf_note=note, pdf_pages=pages)
