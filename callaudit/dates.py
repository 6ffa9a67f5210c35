"""Day arithmetic shared by the CLI, assets and reports (all days are UTC)."""

import datetime as dt
import re
from collections.abc import Iterable, Iterator

_DAY_FORM = re.compile(r"\d{4}-\d{2}-\d{2}")


def parse_day(text: str) -> dt.date:
    """A YYYY-MM-DD day, with an error that says what is wrong: the form, or a day
    that does not exist (2022-02-30)."""
    if not _DAY_FORM.fullmatch(text):
        raise ValueError(f"not a day in YYYY-MM-DD form: {text!r}")
    try:
        return dt.date.fromisoformat(text)
    except ValueError as exc:
        raise ValueError(f"no such day: {text} ({exc})") from None


def days_between(start: dt.date, end: dt.date) -> list[dt.date]:
    """Every day from ``start`` to ``end`` inclusive."""
    if end < start:
        raise ValueError(f"end {end} is before start {start}")
    return [start + dt.timedelta(days=i) for i in range((end - start).days + 1)]


def days_of_partition_keys(keys: Iterable[str]) -> list[dt.date]:
    return sorted(parse_day(k) for k in keys)


def chunks(days: list[dt.date], size: int) -> Iterator[list[dt.date]]:
    """Consecutive runs of at most ``size`` days (``size`` >= 1)."""
    if size < 1:
        raise ValueError(f"a chunk holds at least one day, not {size}")
    for i in range(0, len(days), size):
        yield days[i : i + size]


def year_days(year: int) -> list[dt.date]:
    return days_between(dt.date(year, 1, 1), dt.date(year, 12, 31))
