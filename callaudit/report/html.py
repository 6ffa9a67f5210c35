"""report.html: one self-contained page a reader can open offline and print.

Charts are inline SVG, styles are inline CSS with system fonts, and there is no script:
the file makes no network request. Every string that came from the logs or the
agreements (partner names, app ids, endpoints, network labels, flag details) goes
through ``html.escape``: a log value is data, never markup.
"""

import datetime as dt
from html import escape

from callaudit.report import svg
from callaudit.report.figures import PartnerYear, YearReport
from callaudit.report.numbers import (
    amount,
    compact_days,
    data_size,
    day,
    money,
    plural,
    thousands,
)
from callaudit.report.text import first_line, partner_headline

#: Flag rows listed per partner in the page; all of them are in flags.csv.
FLAG_ROWS_SHOWN = 40

CSS = """
:root { --ink:#1f2937; --muted:#6b7280; --line:#e5e7eb; --alert:#b91c1c; --ok:#047857; }
* { box-sizing: border-box; }
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif;
  color: var(--ink); margin: 0 auto; max-width: 1000px; padding: 24px 32px 48px;
  font-size: 14px; line-height: 1.45; }
h1 { font-size: 26px; margin: 8px 0 4px; }
h2 { font-size: 20px; margin: 36px 0 6px; padding-top: 10px; border-top: 2px solid var(--ink); }
h3 { font-size: 15px; margin: 22px 0 6px; }
p { margin: 6px 0; }
.meta, .note { color: var(--muted); font-size: 12.5px; }
.banner { background: #fef3c7; border: 1px solid #f59e0b; padding: 8px 12px; font-weight: 600; }
.complete { color: var(--muted); font-weight: 600; }
.headlines li { margin: 3px 0; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(140px, 1fr)); gap: 8px;
  margin: 10px 0; }
.card { border: 1px solid var(--line); border-radius: 6px; padding: 8px 10px; }
.card .label { color: var(--muted); font-size: 11.5px; text-transform: uppercase; letter-spacing: .03em; }
.card .value { font-size: 18px; font-weight: 600; font-variant-numeric: tabular-nums; }
.card .sub { color: var(--muted); font-size: 11.5px; }
table { border-collapse: collapse; width: 100%; margin: 6px 0 10px; font-size: 12.5px; }
th, td { text-align: left; padding: 4px 6px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { font-weight: 600; border-bottom: 1.5px solid var(--ink); white-space: nowrap; }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.d, td.k, span.d { white-space: nowrap; }
.headlines a { color: inherit; }
td.id { overflow-wrap: anywhere; word-break: break-word; max-width: 360px;
  font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: 12px; }
tr.total td { font-weight: 600; border-top: 1.5px solid var(--ink); }
.bad { color: var(--alert); font-weight: 600; }
.good { color: var(--ok); }
.sev-critical { color: var(--alert); font-weight: 600; }
.sev-warning { color: #b45309; font-weight: 600; }
.sev-info { color: var(--muted); }
figure { margin: 8px 0 12px; }
figcaption { color: var(--muted); font-size: 12px; }
.legend span { display: inline-block; width: 10px; height: 10px; margin: 0 4px 0 10px; vertical-align: -1px; }
nav ol { columns: 2; font-size: 13px; }
a { color: #1d4ed8; text-decoration: none; }
@page { size: A4; margin: 14mm 12mm; }
@media print {
  body { max-width: none; padding: 0; font-size: 11px; }
  h2 { break-before: page; border-top: none; }
  h2.first { break-before: auto; }
  h3, figure, .cards { break-inside: avoid; break-after: avoid-page; }
  tr, figure, .card { break-inside: avoid; }
  thead { display: table-header-group; }
  a { color: inherit; }
  nav { display: none; }
}
"""


def _e(value: object) -> str:
    return escape(str(value), quote=True)


def _table(headers: list[tuple[str, str]], rows: list[list[tuple[str, str]]], total=None) -> str:
    """``headers`` and cells are (text, css class); cell text must already be escaped."""
    head = "".join(f'<th class="{cls}">{text}</th>' for text, cls in headers)
    body = "".join(
        "<tr>" + "".join(f'<td class="{cls}">{text}</td>' for text, cls in row) + "</tr>"
        for row in rows
    )
    if total:
        body += (
            '<tr class="total">'
            + "".join(f'<td class="{cls}">{text}</td>' for text, cls in total)
            + "</tr>"
        )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _n(value: int | float) -> tuple[str, str]:
    return (thousands(value), "n")


def _card(label: str, value: str, sub: str = "") -> str:
    extra = f'<div class="sub">{sub}</div>' if sub else ""
    return (
        f'<div class="card"><div class="label">{label}</div>'
        f'<div class="value">{value}</div>{extra}</div>'
    )


def _anchor(partner: PartnerYear) -> str:
    safe = "".join(c if c.isalnum() or c in "-_" else "-" for c in partner.partner_id)[:60]
    return f"p-{safe}"


def _heading(report: YearReport) -> str:
    line = _e(first_line(report))
    banner = (
        f'<p class="banner">{line}</p>' if report.partial else f'<p class="complete">{line}</p>'
    )
    return (
        f"{banner}<h1>Partner API usage report {report.year}</h1>"
        f'<p class="meta">Covers {_e(day(report.start))} to {_e(day(report.end))} (UTC days). '
        f"Generated {_e(report.generated_at.strftime('%Y-%m-%d %H:%M UTC'))} by callaudit from "
        f"the platform's call logs. Money in {_e(report.currency)}; data sizes in decimal "
        "units (1 GB = 10<sup>9</sup> bytes); tweets are the items the API returned.</p>"
    )


def _headlines(report: YearReport) -> str:
    items = "".join(
        f'<li><a href="#{_anchor(p)}">{_e(partner_headline(report, p))}</a></li>'
        for p in report.partners
        if p.calls
    )
    return f'<h2 class="first" id="headlines">Headlines</h2><ol class="headlines">{items}</ol>'


def _platform(report: YearReport) -> str:
    totals = report.totals()
    quality = report.data_quality
    cards = "".join(
        [
            _card("Calls", thousands(totals["calls"])),
            _card("Tweets retrieved", thousands(totals["items"])),
            _card("Data returned", data_size(totals["bytes"])),
            _card("Partners calling", thousands(totals["partners"])),
            _card(
                "Partners flagged",
                thousands(totals["partners_flagged"]),
                plural(totals["flags"], "flag"),
            ),
            _card(
                f"Agreed fees, {_e(report.currency)}",
                thousands(totals["agreement_fees"]),
                f"+ {thousands(totals['list_price'])} at list price",
            ),
        ]
    )
    chart = svg.bar_chart(
        report.monthly["month"].to_list(),
        report.monthly["calls"].to_list(),
        title=f"Calls per month, all partners, {report.year}",
    )
    rows = [
        [
            (f'<a href="#{_anchor(p)}">{_e(p.name)}</a>', ""),
            _n(p.calls),
            _n(p.items),
            (_e(data_size(p.bytes)), "n"),
            _n(p.active_days),
            (thousands(p.flagged_days), "n bad" if p.flagged_days else "n"),
            (_e(amount(p.fees.agreement_total)), "n"),
            (_e(amount(p.fees.list_price)), "n"),
        ]
        for p in report.partners
    ]
    total = [
        ("All partners", ""),
        _n(totals["calls"]),
        _n(totals["items"]),
        (_e(data_size(totals["bytes"])), "n"),
        ("", "n"),
        ("", "n"),
        (_e(amount(totals["agreement_fees"])), "n"),
        (_e(amount(totals["list_price"])), "n"),
    ]
    table = _table(
        [
            ("Partner", ""),
            ("Calls", "n"),
            ("Tweets", "n"),
            ("Data", "n"),
            ("Active days", "n"),
            ("Flagged days", "n"),
            (f"Agreed fees, {_e(report.currency)}", "n"),
            (f"List price, {_e(report.currency)}", "n"),
        ],
        rows,
        total,
    )
    return (
        f'<h2 id="platform">Platform totals</h2><div class="cards">{cards}</div>'
        f"<figure>{chart}<figcaption>Calls per month, all partners.</figcaption></figure>"
        f"<h3>By partner</h3>{table}"
        f'<p class="note">Data quality: {thousands(quality.rows_read)} rows read, '
        f"{thousands(quality.duplicates)} duplicates dropped, {thousands(quality.quarantined)} "
        f'quarantined; see <a href="#quality">Data quality</a>.</p>'
    )


def _usage_table(frame, key: str, label: str) -> str:
    rows = [
        [
            (_e(r[key]), "id"),
            _n(r["calls"]),
            _n(r["items"]),
            (_e(data_size(r["bytes"])), "n"),
            _n(r["days"]),
            (thousands(r["unauthorised_calls"]), "n bad" if r["unauthorised_calls"] else "n"),
        ]
        for r in frame.iter_rows(named=True)
    ]
    return _table(
        [
            (label, ""),
            ("Calls", "n"),
            ("Tweets", "n"),
            ("Data", "n"),
            ("Days", "n"),
            ("Calls not authorised", "n"),
        ],
        rows,
    ) + (
        '<p class="note">Calls not authorised: made on days the agreement in force did not '
        f"list this {label.lower()}, or when no agreement was in force.</p>"
    )


def _flags(report: YearReport, partner: PartnerYear) -> str:
    if not partner.flag_kinds:
        checked = report.data_quality.flag_days
        if not checked:
            return '<h3>Flags</h3><p class="note">No flags were computed for this period.</p>'
        return f'<h3>Flags</h3><p class="good">No flag raised on the {plural(checked, "day")} checked.</p>'
    rows = [
        [
            (_e(k.flag), "k"),
            (_e(k.severity), f"sev-{_e(k.severity)}"),
            _n(len(k.days)),
            (
                ", ".join(
                    f'<span class="d">{_e(run)}</span>' for run in compact_days(k.days).split(", ")
                ),
                "",
            ),
            (_e(k.example), ""),
        ]
        for k in partner.flag_kinds
    ]
    summary = _table(
        [
            ("Flag", ""),
            ("Worst severity", ""),
            ("Days", "n"),
            ("When", ""),
            ("Strongest instance", ""),
        ],
        rows,
    )
    shown = partner.flags.head(FLAG_ROWS_SHOWN)
    detail_rows = [
        [
            (_e(day(r["date"])), "d"),
            (_e(r["flag"]), "k"),
            (_e(r["metric"]), ""),
            (_e(thousands(r["observed"])) if r["observed"] is not None else "", "n"),
            (_e(thousands(r["threshold"])) if r["threshold"] is not None else "", "n"),
            (_e(r["detail"] or ""), ""),
        ]
        for r in shown.iter_rows(named=True)
    ]
    more = (
        f'<p class="note">First {FLAG_ROWS_SHOWN} of {thousands(partner.flags.height)} flags; '
        "all are in flags.csv.</p>"
        if partner.flags.height > FLAG_ROWS_SHOWN
        else ""
    )
    detail = _table(
        [
            ("Day", ""),
            ("Flag", ""),
            ("Metric", ""),
            ("Observed", "n"),
            ("Limit / threshold", "n"),
            ("Detail", ""),
        ],
        detail_rows,
    )
    return (
        f"<h3>Flags by kind: {plural(partner.flagged_days, 'day')} flagged</h3>{summary}"
        f"<h3>Every flag</h3>{detail}{more}"
    )


def _networks(report: YearReport, partner: PartnerYear) -> str:
    if partner.networks.is_empty():
        return (
            "<h3>Restricted networks</h3>"
            '<p class="good">No call came from a restricted network.</p>'
        )
    lanes: dict[str, list[tuple[dt.date, bool]]] = {}
    for r in partner.network_days.iter_rows(named=True):
        lanes.setdefault(r["network_label"], []).append((r["date"], r["allowed"]))
    chart = svg.timeline(
        list(lanes.items()),
        report.start,
        report.end,
        title=f"Days {partner.name}'s data reached restricted networks",
    )
    rows = [
        [
            (_e(r["network_label"]), "id"),
            (_e(r["app_id"]), "id"),
            ("allowed" if r["allowed"] else "not allowed", "good" if r["allowed"] else "bad"),
            (_e(day(r["first"])), "d"),
            (_e(day(r["last"])), "d"),
            _n(r["days"]),
            _n(r["calls"]),
            _n(r["items"]),
        ]
        for r in partner.networks.iter_rows(named=True)
    ]
    table = _table(
        [
            ("Network", ""),
            ("App", ""),
            ("Agreement", ""),
            ("First day", ""),
            ("Last day", ""),
            ("Days", "n"),
            ("Calls", "n"),
            ("Tweets", "n"),
        ],
        rows,
    )
    return (
        f"<h3>Restricted-network access timeline</h3><figure>{chart}<figcaption "
        f'class="legend">Each mark is a day data reached the network:<span style="background:'
        f'{svg.ALERT}"></span>not allowed by the agreement in force<span style="background:'
        f'{svg.OK}"></span>allowed</figcaption></figure>{table}'
    )


def _fees(report: YearReport, partner: PartnerYear) -> str:
    fees, cur = partner.fees, report.currency
    # One agreement all year goes in the heading; the column is only for changes.
    names = {m.agreements for m in fees.months}
    by_month = len(names) > 1
    rows = [
        [
            (_e(m.month), "d"),
            *([(_e(", ".join(m.agreements)) or "none", "k")] if by_month else []),
            _n(m.days_in_force),
            (_e(amount(m.monthly_fee)), "n"),
            _n(m.items_in_force),
            _n(m.included_items),
            _n(m.overage_items),
            (_e(amount(m.overage_cost)), "n"),
            (_e(amount(m.list_price_cost)), "n bad" if m.list_price_cost else "n"),
            (_e(amount(m.total)), "n"),
        ]
        for m in fees.months
    ]
    total = [
        ("Year", ""),
        *([("", "")] if by_month else []),
        _n(sum(m.days_in_force for m in fees.months)),
        (_e(amount(fees.monthly_fees)), "n"),
        _n(sum(m.items_in_force for m in fees.months)),
        _n(sum(m.included_items for m in fees.months)),
        _n(fees.overage_items),
        (_e(amount(fees.overage)), "n"),
        (_e(amount(fees.list_price)), "n"),
        (_e(amount(fees.total)), "n"),
    ]
    table = _table(
        [
            ("Month", ""),
            *([("Agreement", "")] if by_month else []),
            ("Days in force", "n"),
            (f"Fee, {_e(cur)}", "n"),
            ("Tweets", "n"),
            ("Included", "n"),
            ("Overage tweets", "n"),
            (f"Overage, {_e(cur)}", "n"),
            (f"List price, {_e(cur)}", "n"),
            (f"Total, {_e(cur)}", "n"),
        ],
        rows,
        total,
    )
    single = next(iter(names)) if not by_month else ()
    under = f" under {_e(', '.join(single))}" if single else ""
    outside = sum(m.days_without_agreement for m in fees.months)
    note = (
        f'<p class="bad">{plural(outside, "day")} of usage with no agreement in force '
        f"({thousands(sum(m.calls_without_agreement for m in fees.months))} calls, "
        f"{thousands(sum(m.items_without_agreement for m in fees.months))} tweets), "
        f"costed at the list price: {_e(money(fees.list_price, cur))}.</p>"
        if outside
        else ""
    )
    return (
        f"<h3>Fees{under}: {_e(money(fees.total, cur))}</h3>{note}{table}"
        '<p class="note">Monthly fee and included tweets are prorated by the days of the month '
        "the agreement was in force within the report; tweets beyond the included ones are "
        "charged at the overage rate per thousand; usage with no agreement in force at the "
        "list price per thousand tweets and calls.</p>"
    )


def _partner(report: YearReport, partner: PartnerYear) -> str:
    agreements = ", ".join(partner.agreements) or "none in force"
    status = "" if partner.contracted else ' <span class="bad">(no agreement on file)</span>'
    cards = "".join(
        [
            _card("Calls", thousands(partner.calls)),
            _card("Tweets retrieved", thousands(partner.items)),
            _card("Data returned", _e(data_size(partner.bytes))),
            _card("Active days", thousands(partner.active_days), f"of {report.days}"),
            _card("Flagged days", thousands(partner.flagged_days)),
            _card(f"Fees, {_e(report.currency)}", thousands(partner.fees.total)),
        ]
    )
    monthly = svg.bar_chart(
        partner.monthly["month"].to_list(),
        partner.monthly["calls"].to_list(),
        title=f"{partner.name}: calls per month",
    )
    daily = svg.bar_chart(
        svg.daily_labels(partner.daily["date"].to_list()),
        partner.daily["calls"].to_list(),
        title=f"{partner.name}: calls per day",
        highlight=partner.daily["flagged"].to_list(),
    )
    usage = ""
    if partner.calls:
        usage = (
            f"<h3>Monthly trend</h3><figure>{monthly}<figcaption>Calls per month.</figcaption>"
            f'</figure><figure>{daily}<figcaption class="legend">Calls per day;'
            f'<span style="background:{svg.ALERT}"></span>a day with at least one flag.'
            "</figcaption></figure>"
            f"<h3>Usage by app</h3>{_usage_table(partner.by_app, 'app_id', 'App')}"
            f"<h3>Usage by endpoint</h3>"
            f"{_usage_table(partner.by_endpoint, 'endpoint', 'Endpoint')}"
        )
    return (
        f'<h2 id="{_anchor(partner)}">{_e(partner.name)}{status}</h2>'
        f'<p class="meta">Partner id <code>{_e(partner.partner_id)}</code>; agreements: '
        f"{_e(agreements)}.</p><p>{_e(partner_headline(report, partner))}</p>"
        f'<div class="cards">{cards}</div>{usage}{_flags(report, partner)}'
        f"{_networks(report, partner)}{_fees(report, partner)}"
    )


def _quality(report: YearReport) -> str:
    q = report.data_quality
    rows = [
        [("Days with data", ""), _n(q.days_with_data)],
        [("Days missing (no ingest partition)", ""), _n(len(q.missing_days))],
        [("Raw files read", ""), _n(q.files)],
        [("Rows read", ""), _n(q.rows_read)],
        [("Duplicates dropped", ""), _n(q.duplicates)],
        *[
            [(f"Quarantined: {_e(reason)}", ""), _n(count)]
            for reason, count in q.quarantined_by_reason.items()
        ],
        [("Quarantined, all reasons", ""), _n(q.quarantined)],
        [("Rows used", ""), _n(q.rows_valid)],
        [("Unreadable files skipped (data gaps)", ""), _n(len(q.skipped_files))],
        [("Days with anomaly flags computed", ""), _n(q.flag_days)],
    ]
    parts = [
        '<h2 id="quality">Data quality</h2>',
        _table([("Measure", ""), ("Value", "n")], rows),
    ]
    if q.missing_days:
        parts.append(f'<p class="bad">Days with no data: {_e(compact_days(q.missing_days))}.</p>')
    if q.skipped_files:
        listed = "".join(f"<li><code>{_e(f)}</code></li>" for f in q.skipped_files[:50])
        parts.append(f"<h3>Data gaps: files skipped</h3><ul>{listed}</ul>")
    parts.append("<h3>Validation</h3>")
    if q.validation is None:
        parts.append('<p class="note">No validation results were recorded for this period.</p>')
    else:
        failed = [v for v in q.validation if not v.passed]
        parts.append(
            f'<p class="{"bad" if failed else "good"}">{len(q.validation) - len(failed)} of '
            f"{len(q.validation)} checks passed.</p>"
        )
        parts.append(
            _table(
                [("Check", ""), ("Asset", ""), ("Outcome", ""), ("Description", "")],
                [
                    [
                        (_e(v.check), "id"),
                        (_e(v.asset), "id"),
                        ("passed", "good") if v.passed else (f"failed ({_e(v.severity)})", "bad"),
                        (_e(v.description), ""),
                    ]
                    for v in q.validation
                ],
            )
        )
    return "".join(parts)


def _contents(report: YearReport) -> str:
    links = "".join(f'<li><a href="#{_anchor(p)}">{_e(p.name)}</a></li>' for p in report.partners)
    return (
        '<nav><h3>Contents</h3><ol><li><a href="#headlines">Headlines</a></li>'
        '<li><a href="#platform">Platform totals</a></li>'
        f'{links}<li><a href="#quality">Data quality</a></li></ol></nav>'
    )


def render_html(report: YearReport) -> str:
    """The whole report as one HTML document."""
    body = "".join(
        [
            _heading(report),
            _contents(report),
            _headlines(report),
            _platform(report),
            *(_partner(report, p) for p in report.partners),
            _quality(report),
        ]
    )
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "style-src 'unsafe-inline'; img-src data:\">"
        f"<title>Partner API usage report {report.year}</title><style>{CSS}</style></head>"
        f"<body>{body}</body></html>\n"
    )
