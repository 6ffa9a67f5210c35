"""Writing a yearly report's files under ``<reports>/<year>/`` (local or s3://)."""

import tempfile
from dataclasses import dataclass
from pathlib import Path

from callaudit import storage
from callaudit.report import chromium
from callaudit.report.figures import YearReport
from callaudit.report.html import render_html
from callaudit.report.markdown import render_markdown
from callaudit.report.tables import flags_csv, partners_csv, summary_json


@dataclass
class ReportFiles:
    folder: str
    files: dict[str, str]  # file name -> url
    pdf_note: str  # why there is no PDF, or ""

    @property
    def html(self) -> str:
        return self.files["report.html"]


def report_folder(reports: str, year: int) -> str:
    return storage.join(reports, str(year))


def render_pdf(html: str) -> bytes | None:
    """report.pdf from the HTML through headless Chromium; None when not installed."""
    if chromium.find_chromium() is None:
        return None
    with tempfile.TemporaryDirectory(prefix="callaudit-pdf-") as tmp:
        html_path, pdf_path = Path(tmp) / "report.html", Path(tmp) / "report.pdf"
        html_path.write_text(html, encoding="utf-8")
        chromium.html_to_pdf(html_path, pdf_path)
        return pdf_path.read_bytes()


def write_report(report: YearReport, reports: str, *, pdf: bool = True) -> ReportFiles:
    """Render every format and write each file atomically; the PDF only when Chromium
    is present (``pdf=False`` skips it)."""
    folder = report_folder(reports, report.year)
    html = render_html(report)
    texts = {
        "report.html": html,
        "report.md": render_markdown(report),
        "summary.json": summary_json(report),
        "partners.csv": partners_csv(report),
        "flags.csv": flags_csv(report),
    }
    files = {}
    for name, text in texts.items():
        files[name] = storage.join(folder, name)
        storage.write_text_atomic(files[name], text)
    note = "PDF not requested"
    if pdf:
        data = render_pdf(html)
        if data is None:
            note = "no PDF: chromium is not installed"
        else:
            files["report.pdf"] = storage.join(folder, "report.pdf")
            storage.write_bytes_atomic(files["report.pdf"], data)
            note = ""
    return ReportFiles(folder=folder, files=files, pdf_note=note)
