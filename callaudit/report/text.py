"""The sentences of the report: its first line and one headline per partner."""

from callaudit.report.figures import PartnerYear, YearReport
from callaudit.report.numbers import data_size, day, plural, possessive, rounded, thousands


def first_line(report: YearReport) -> str:
    """What the report covers; a partial year says so, and up to which day."""
    if report.partial:
        return (
            f"Partial year: this {report.year} report covers {day(report.start)} to "
            f"{day(report.end)}, the last day with data ({plural(report.days, 'day')})."
        )
    return f"Yearly report {report.year}: complete year, {day(report.start)} to {day(report.end)}."


def _period(report: YearReport) -> str:
    if report.partial:
        return f"From {day(report.start)} to {day(report.end)}"
    return f"In {report.year}"


def partner_headline(report: YearReport, partner: PartnerYear) -> str:
    """ "In 2022, Microsoft's apps called the API 780,412,233 times (more than 780
    million) and retrieved 26,031,877,120 tweets (more than 26 billion), ..."."""
    who = f"{possessive(partner.name)} apps"
    if not partner.calls:
        return f"{_period(report)}, {who} did not call the API."
    return (
        f"{_period(report)}, {who} called the API {_count(partner.calls, 'time')} and "
        f"retrieved {_count(partner.items, 'tweet')}: {data_size(partner.bytes)} on "
        f"{plural(partner.active_days, 'active day')}."
    )


def _count(value: int, word: str) -> str:
    """ "780,412,233 times (more than 780 million)"; small counts need no rounding."""
    exact = plural(value, word)
    short = rounded(value)
    return exact if short == thousands(value) else f"{exact} ({short})"


def headline(report: YearReport) -> str:
    """The one line the CLI prints: coverage, then the largest partner's headline."""
    if not report.partners:
        return f"{first_line(report)} No partner called the API."
    return f"{first_line(report)} {partner_headline(report, report.partners[0])}"
