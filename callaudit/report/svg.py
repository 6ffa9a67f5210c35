"""Inline SVG charts for the report: no script, no external file, print-friendly.

Every label is escaped here (app ids and network labels come from logs and contracts),
so callers pass plain text.
"""

import datetime as dt
import math
from html import escape

from callaudit.report.numbers import short

INK = "#1f2937"
MUTED = "#6b7280"
GRID = "#e5e7eb"
BAR = "#2563eb"
ALERT = "#dc2626"
OK = "#059669"

_FONT = 'font-family="system-ui, -apple-system, Segoe UI, Roboto, DejaVu Sans, sans-serif"'


def _nice_axis(value: float, ticks: int = 4) -> float:
    """A step of 1, 2 or 5 x 10^n so that ``ticks`` steps cover ``value``: gridlines
    then read 0, 250, 500... rather than 0, 625, 1.2k."""
    if value <= 0:
        return 1.0
    raw = value / ticks
    magnitude = 10 ** math.floor(math.log10(raw))
    for step in (1, 2, 2.5, 5, 10):
        if raw <= step * magnitude:
            return step * magnitude
    return 10 * magnitude  # pragma: no cover


def _open(width: int, height: int, title: str) -> list[str]:
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="100%" role="img" aria-label="{escape(title)}" {_FONT} font-size="11">',
        f"<title>{escape(title)}</title>",
    ]


def bar_chart(
    labels: list[str],
    values: list[float],
    *,
    title: str,
    highlight: list[bool] | None = None,
    tick_every: int = 1,
    width: int = 720,
    height: int = 180,
) -> str:
    """Vertical bars with a labelled y axis; ``highlight`` bars are drawn in red.

    ``tick_every`` labels only every n-th bar (daily charts label month starts by
    passing empty labels for the other days).
    """
    left, right, top, bottom = 48, 8, 10, 22
    plot_w, plot_h = width - left - right, height - top - bottom
    step = _nice_axis(max(values, default=0))
    lines = max(1, math.ceil(max(values, default=0) / step))
    top_value = step * lines
    parts = _open(width, height, title)
    for i in range(lines + 1):
        value = step * i
        y = top + plot_h - plot_h * i / lines
        parts.append(
            f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" stroke="{GRID}"/>'
            f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" fill="{MUTED}">'
            f"{escape(short(value))}</text>"
        )
    n = max(len(values), 1)
    slot = plot_w / n
    gap = slot * 0.2 if n <= 60 else 0
    for i, value in enumerate(values):
        h = plot_h * value / top_value
        x = left + i * slot + gap / 2
        color = ALERT if highlight and highlight[i] else BAR
        # Tooltips only on coarse charts: 365 of them per daily chart would bloat the file.
        tip = f"<title>{escape(labels[i])}: {value:,.0f}</title>" if n <= 60 else ""
        parts.append(
            f'<rect x="{x:.2f}" y="{top + plot_h - h:.2f}" width="{max(slot - gap, 0.6):.2f}" '
            f'height="{h:.2f}" fill="{color}">{tip}</rect>'
        )
        tick = _axis_label(labels[i], n) if i % tick_every == 0 else ""
        if tick:
            anchor = "middle" if n <= 60 else "start"
            lx = x + (slot - gap) / 2 if n <= 60 else x
            parts.append(
                f'<text x="{lx:.1f}" y="{height - 6}" text-anchor="{anchor}" fill="{MUTED}">'
                f"{escape(tick)}</text>"
            )
    parts.append(
        f'<line x1="{left}" x2="{width - right}" y1="{top + plot_h}" y2="{top + plot_h}" '
        f'stroke="{INK}"/></svg>'
    )
    return "".join(parts)


def _axis_label(label: str, bars: int) -> str:
    """Month bars "2022-03" read as "Mar"; daily bars show the month at its first day."""
    try:
        if len(label) == 7:
            return dt.date.fromisoformat(label + "-01").strftime("%b")
        if bars > 60:
            when = dt.date.fromisoformat(label)
            return when.strftime("%b") if when.day == 1 else ""
    except ValueError:
        pass
    return label


def daily_labels(days: list[dt.date]) -> list[str]:
    return [d.isoformat() for d in days]


def timeline(
    lanes: list[tuple[str, list[tuple[dt.date, bool]]]],
    start: dt.date,
    end: dt.date,
    *,
    title: str,
    width: int = 720,
) -> str:
    """One lane per network: a tick on each day data reached it, red when no agreement
    allowed that network that day, green when one did."""
    label_w, right, lane_h, top = 150, 8, 22, 6
    height = top + lane_h * max(len(lanes), 1) + 22
    plot_w = width - label_w - right
    total = (end - start).days + 1
    day_w = plot_w / total
    parts = _open(width, height, title)
    for index, (label, days) in enumerate(lanes):
        y = top + index * lane_h
        shown = label if len(label) <= 22 else label[:21] + "…"
        parts.append(
            f'<rect x="{label_w}" y="{y + 3}" width="{plot_w}" height="{lane_h - 6}" fill="#f3f4f6"/>'
            f'<text x="{label_w - 6}" y="{y + lane_h / 2 + 4:.1f}" text-anchor="end" fill="{INK}">'
            f"{escape(shown)}<title>{escape(label)}</title></text>"
        )
        for day, allowed in days:
            x = label_w + (day - start).days * day_w
            color = OK if allowed else ALERT
            parts.append(
                f'<rect x="{x:.2f}" y="{y + 3}" width="{max(day_w, 1.5):.2f}" '
                f'height="{lane_h - 6}" fill="{color}"><title>{escape(label)} '
                f"{day.isoformat()}{'' if allowed else ' (not allowed)'}</title></rect>"
            )
    axis_y = top + lane_h * max(len(lanes), 1) + 14
    month = dt.date(start.year, start.month, 1)
    while month <= end:
        if month >= start:
            x = label_w + (month - start).days * day_w
            parts.append(
                f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{top}" y2="{axis_y - 10}" stroke="{GRID}"/>'
                f'<text x="{x + 2:.1f}" y="{axis_y}" fill="{MUTED}">{month.strftime("%b")}</text>'
            )
        month = dt.date(month.year + month.month // 12, month.month % 12 + 1, 1)
    parts.append("</svg>")
    return "".join(parts)
