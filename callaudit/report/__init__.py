"""The yearly report: figures from the warehouse and agreements, rendered for readers.

``gather_year`` computes every figure once into plain data; ``write_report`` renders it
as report.html (self-contained), report.md, summary.json, partners.csv, flags.csv and,
when Chromium is installed, report.pdf. No Dagster import here: the asset in
``assets/report.py`` is a thin wrapper.
"""

from callaudit.report.figures import NoDataError, ValidationOutcome, YearReport, gather_year
from callaudit.report.text import first_line, headline, partner_headline
from callaudit.report.write import ReportFiles, write_report

__all__ = [
    "NoDataError",
    "ReportFiles",
    "ValidationOutcome",
    "YearReport",
    "first_line",
    "gather_year",
    "headline",
    "partner_headline",
    "write_report",
]
