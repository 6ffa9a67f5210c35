"""The sentences of the report: its title, first line and one headline per partner."""

from callaudit.report.figures import PartnerReport, Report
from callaudit.report.numbers import (
    compact_days,
    data_size,
    day,
    plural,
    possessive,
    rounded,
    thousands,
)


def title(report: Report) -> str:
    """ "Partner API usage report 2022" or "... report, 2022-04-01 to 2022-06-30"."""
    if report.year is not None:
        return f"Partner API usage report {report.year}"
    return f"Partner API usage report, {report.period.title}"


def first_line(report: Report) -> str:
    """What the report covers; a partial year or period says so, and which days; days
    without data inside it make every figure a lower bound, and it says so."""
    coverage = _coverage_line(report)
    missing = report.data_quality.missing_days
    if not missing:
        return coverage
    return (
        f"{coverage} Its figures are a lower bound: {plural(len(missing), 'day')} in it had "
        f"no data ({compact_days(missing)}; see Data quality)."
    )


def _coverage_line(report: Report) -> str:
    period = report.period
    if report.year is not None:
        if report.partial:
            return (
                f"Partial year: this {report.year} report covers {day(report.start)} to "
                f"{day(report.end)}, the last day with data ({plural(report.days, 'day')})."
            )
        return (
            f"Yearly report {report.year}: complete year, {day(report.start)} to {day(report.end)}."
        )
    if report.partial:
        return (
            f"Partial period: this report for {period.title} covers {day(report.start)} to "
            f"{day(report.end)}, the days with data ({plural(report.days, 'day')} of "
            f"{period.days})."
        )
    return f"Report for {period.title}: {plural(report.days, 'day')}, every one with data."


def period_phrase(report: Report) -> str:
    """ "In 2022" or "From 2022-04-01 to 2022-06-30", to open a sentence."""
    if report.year is not None and not report.partial:
        return f"In {report.year}"
    return f"From {day(report.start)} to {day(report.end)}"


def partner_headline(report: Report, partner: PartnerReport) -> str:
    """ "In 2022, Microsoft's apps called the API 780,412,233 times (more than 780
    million) and retrieved 26,031,877,120 tweets (more than 26 billion), ..."."""
    who = f"{possessive(partner.name)} apps"
    if not partner.calls:
        return f"{period_phrase(report)}, {who} did not call the API."
    return (
        f"{period_phrase(report)}, {who} called the API {count(partner.calls, 'time')} and "
        f"retrieved {count(partner.items, report.unit_one, report.unit)}: "
        f"{data_size(partner.bytes)} on {plural(partner.active_days, 'active day')}."
    )


def count(value: int, word: str, many: str | None = None) -> str:
    """ "780,412,233 times (more than 780 million)"; small counts need no rounding."""
    exact = plural(value, word, many)
    short = rounded(value)
    return exact if short == thousands(value) else f"{exact} ({short})"


def headline(report: Report) -> str:
    """The one line the CLI prints: coverage, then the largest partner's headline."""
    if not report.partners:
        return f"{first_line(report)} No partner called the API."
    return f"{first_line(report)} {partner_headline(report, report.partners[0])}"


def findings_summary(report: Report) -> str:
    """ "22 of 31 partners have findings: 12 with critical ones. 40 critical flags await
    review." The opening line of the findings."""
    calling = [p for p in report.partners if p.calls or p.has_findings]
    found = report.with_findings
    if not found:
        return f"No finding: none of the {plural(len(calling), 'partner')} breached an agreement."
    critical = [p for p in found if p.worst_severity == "critical"]
    counts = report.review_counts()
    review = (
        f" {plural(counts['unreviewed_critical'], 'critical flag')} "
        f"{'awaits' if counts['unreviewed_critical'] == 1 else 'await'} review."
        if counts["unreviewed_critical"]
        else " Every critical flag has been reviewed."
    )
    return (
        f"{len(found)} of {plural(len(calling), 'partner')} "
        f"{'has' if len(found) == 1 else 'have'} findings"
        f"{f', {len(critical)} of them critical' if critical else ''}.{review}"
    )
