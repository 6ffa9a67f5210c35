"""The report: figures from the warehouse, agreements and reviews, rendered for readers.

``gather`` (``gather_year``, ``gather_period``) computes every figure once into plain
data; ``build_report`` refuses data that failed validation or has missing flags, adds
the validation over the whole period and the provenance, and ``write_report`` renders
it as report.html (self-contained), report.md, summary.json, partners.csv, flags.csv
and, when Chromium is installed, report.pdf, under ``<reports>/<year>/`` or
``<reports>/<start>_<end>/``. ``verify_report`` checks a written report still matches
its inputs. No Dagster import here: the asset in ``assets/yearly_report.py`` and the
period job in ``pipelines/period_report.py`` are thin wrappers.
"""

from callaudit.report.figures import (
    NoDataError,
    PartnerReport,
    Period,
    Report,
    gather,
    gather_period,
    gather_year,
)
from callaudit.report.text import first_line, headline, partner_headline
from callaudit.report.write import ReportFiles, report_folder, write_report

__all__ = [
    "NoDataError",
    "PartnerReport",
    "Period",
    "Report",
    "ReportFiles",
    "first_line",
    "gather",
    "gather_period",
    "gather_year",
    "headline",
    "partner_headline",
    "report_folder",
    "write_report",
]
