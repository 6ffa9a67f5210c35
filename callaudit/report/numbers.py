"""How the report writes numbers, money, sizes and days: one style everywhere.

Readers compare figures across pages and files, so every renderer formats through
here: thousands separators, ISO days (YYYY-MM-DD), decimal byte units, and money with
two decimals and the agreement's currency.
"""

import datetime as dt
import math

_SCALES: tuple[tuple[int, str], ...] = (
    (1_000_000_000_000, "trillion"),
    (1_000_000_000, "billion"),
    (1_000_000, "million"),
    (1_000, "thousand"),
)

_BYTE_UNITS: tuple[str, ...] = ("B", "kB", "MB", "GB", "TB", "PB", "EB")


def thousands(value: int | float) -> str:
    """12345678 -> "12,345,678"; floats are rounded to whole units."""
    return f"{round(value):,}"


def rounded(value: int) -> str:
    """A count as a sentence would say it: "more than 780 million".

    The figure is truncated, never rounded up, so "more than" is always true; below
    ten of a unit one decimal is kept ("more than 1.5 billion"), and an exact figure
    drops "more than" ("26 billion"). Below a thousand the exact number is given.
    """
    if value < 1_000:
        return thousands(value)
    for size, word in _SCALES:
        if value >= size:
            decimals = 1 if value < 10 * size else 0
            step = size // (10**decimals)
            floor = (value // step) * step
            shown = f"{floor / size:,.{decimals}f}".removesuffix(".0")
            prefix = "" if floor == value else "more than "
            return f"{prefix}{shown} {word}"
    raise AssertionError("unreachable")  # pragma: no cover


def data_size(num_bytes: int) -> str:
    """Bytes in decimal units with three significant digits: "1.23 TB"."""
    if num_bytes < 1_000:
        return f"{num_bytes} B"
    exponent = min(int(math.log10(num_bytes) // 3), len(_BYTE_UNITS) - 1)
    scaled = num_bytes / 1000**exponent
    decimals = 2 if scaled < 10 else 1 if scaled < 100 else 0
    return f"{scaled:.{decimals}f} {_BYTE_UNITS[exponent]}"


def money(amount: float, currency: str, decimals: int = 2) -> str:
    """42000 -> "42,000.00 USD" (``decimals=0`` for summary cards: "42,000 USD")."""
    return f"{amount:,.{decimals}f} {currency}"


def amount(value: float) -> str:
    """Money in a table whose header names the currency: "42,000.00"."""
    return f"{value:,.2f}"


def day(value: dt.date) -> str:
    return value.isoformat()


def day_range(start: dt.date, end: dt.date) -> str:
    return day(start) if start == end else f"{day(start)} to {day(end)}"


def compact_days(days: list[dt.date], limit: int = 12) -> str:
    """Days as runs: "2022-03-01 to 2022-03-04, 2022-05-10 (+3 more runs)"."""
    runs: list[tuple[dt.date, dt.date]] = []
    for current in sorted(set(days)):
        if runs and (current - runs[-1][1]).days == 1:
            runs[-1] = (runs[-1][0], current)
        else:
            runs.append((current, current))
    text = ", ".join(day_range(a, b) for a, b in runs[:limit])
    if len(runs) > limit:
        text += f" (+{len(runs) - limit} more runs)"
    return text


def possessive(name: str) -> str:
    """Microsoft -> "Microsoft's"; Reuters -> "Reuters'"."""
    return f"{name}'" if name.endswith("s") else f"{name}'s"


def plural(count: int, word: str, many: str | None = None) -> str:
    return f"{thousands(count)} {word if count == 1 else (many or word + 's')}"


def short(value: float) -> str:
    """Axis labels: 1234567 -> "1.2M", 850000 -> "850k", 12 -> "12"."""
    for size, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= size:
            scaled = value / size
            return (
                f"{scaled:.1f}".removesuffix(".0") + suffix
                if scaled < 10
                else f"{scaled:.0f}{suffix}"
            )
    return f"{value:.0f}"
