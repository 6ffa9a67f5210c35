"""The files of a report: checksums, the PDF or a line saying how to get it."""

import datetime as dt
import hashlib
from pathlib import Path

from callaudit.report import gather_year, write_report
from callaudit.report.write import CHECKSUMS, NO_CHROMIUM
from tests.report.builders import contracts, usage, write_day


def report(tmp_path):
    write_day(tmp_path / "wh", dt.date(2022, 1, 5), [usage("acme", 1, 1)], flag_rows=[])
    return gather_year(str(tmp_path / "wh"), contracts(), 2022)


def test_without_chromium_the_other_files_are_written_and_a_line_says_how_to_get_the_pdf(
    tmp_path, monkeypatch
):
    monkeypatch.setenv("CALLAUDIT_CHROMIUM", str(tmp_path / "no-such-chromium"))
    folder = tmp_path / "reports" / "2022"
    folder.mkdir(parents=True)
    (folder / "report.pdf").write_bytes(b"%PDF an older report")

    files = write_report(report(tmp_path), str(tmp_path / "reports"))

    assert files.pdf_note == NO_CHROMIUM
    assert "apt-get install chromium" in files.pdf_note and "CALLAUDIT_CHROMIUM" in files.pdf_note
    assert sorted(Path(u).name for u in files.files.values()) == [
        CHECKSUMS,
        "flags.csv",
        "partners.csv",
        "report.html",
        "report.md",
        "summary.json",
    ]
    assert not (folder / "report.pdf").exists()  # never an older PDF beside a newer report


def test_every_file_written_is_listed_with_its_sha256(tmp_path):
    files = write_report(report(tmp_path), str(tmp_path / "reports"), pdf=False)

    listed = dict(
        reversed(line.split("  ", 1))
        for line in Path(files.files[CHECKSUMS]).read_text().splitlines()
    )
    assert set(listed) == {"report.html", "report.md", "summary.json", "partners.csv", "flags.csv"}
    for name, digest in listed.items():
        assert hashlib.sha256(Path(files.files[name]).read_bytes()).hexdigest() == digest
