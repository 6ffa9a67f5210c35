"""Day arithmetic shared by the CLI, assets and reports (all days are UTC)."""

import datetime as dt
from collections.abc import Iterable, Iterator


def parse_day(text: str) -> dt.date:
    """A YYYY-MM-DD day, with an error that says what was expected."""
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"not a day in YYYY-MM-DD form: {text!r}") from None


def days_between(start: dt.date, end: dt.date) -> list[dt.date]:
    """Every day from ``start`` to ``end`` inclusive."""
    if end < start:
        raise ValueError(f"end {end} is before start {start}")
    return [start + dt.timedelta(days=i) for i in range((end - start).days + 1)]


def days_of_partition_keys(keys: Iterable[str]) -> list[dt.date]:
    return sorted(parse_day(k) for k in keys)


def chunks(days: list[dt.date], size: int) -> Iterator[list[dt.date]]:
    """Consecutive runs of at most ``size`` days."""
    for i in range(0, len(days), max(1, size)):
        yield days[i : i + size]


def year_days(year: int) -> list[dt.date]:
    return days_between(dt.date(year, 1, 1), dt.date(year, 12, 31))
