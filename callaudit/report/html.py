"""report.html: one self-contained page a reader can open offline and print.

Charts are inline SVG, styles are inline CSS with system fonts, and there is no script:
the file makes no network request. Every string that came from the logs, the
agreements or the reviews (partner names, app ids, endpoints, network labels, flag
details, review notes) goes through ``html.escape``: a log value is data, never markup.

Order, for a reader who reads only the first page: the findings per partner and by
severity, with the money; then the partners with nothing to report in one table; then
contents, platform totals, flag reviews, each partner with findings in full, the other
partners briefly, data quality, validation over the whole period, and provenance.
Printed (report.pdf), each part starts a page, pages carry their number, and the
contents give the page of each part (``page_numbers``, filled in by ``write``).
"""

import datetime as dt
import hashlib
import re
from collections.abc import Callable, Mapping
from html import escape

import polars as pl

from callaudit.report import svg
from callaudit.report.figures import PartnerReport, Report
from callaudit.report.findings import Finding, money_line
from callaudit.report.numbers import (
    amount,
    compact_days,
    data_size,
    day,
    money,
    plural,
    thousands,
)
from callaudit.report.text import findings_summary, first_line, partner_headline, title

#: Flag rows listed per partner in the page; all of them are in flags.csv.
FLAG_ROWS_SHOWN = 40
#: Days named in the validation section; all of them are in summary.json.
DAYS_LISTED = 31

CSS = """
:root { --ink:#1f2937; --muted:#6b7280; --line:#e5e7eb; --alert:#b91c1c; --ok:#047857;
  --warn:#b45309; }
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
.lead { font-size: 15px; font-weight: 600; }
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
td.id, code { overflow-wrap: anywhere; word-break: break-word;
  font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: 12px; }
td.id { max-width: 360px; }
tr.total td { font-weight: 600; border-top: 1.5px solid var(--ink); }
.bad { color: var(--alert); font-weight: 600; }
.good { color: var(--ok); }
.sev { display: inline-block; min-width: 62px; padding: 0 5px; border-radius: 3px;
  font-size: 11px; font-weight: 700; text-transform: uppercase; text-align: center; }
.sev-critical { color: var(--alert); font-weight: 600; }
.sev-warning { color: var(--warn); font-weight: 600; }
.sev-info { color: var(--muted); }
span.sev-critical { background: #fee2e2; }
span.sev-warning { background: #fef3c7; }
span.sev-info { background: #f3f4f6; }
.finder { border-left: 4px solid var(--line); padding: 2px 0 4px 12px; margin: 14px 0;
  break-inside: avoid; }
.finder.critical { border-left-color: var(--alert); }
.finder.warning { border-left-color: #f59e0b; }
.finder h3 { margin: 4px 0; }
.finder ul { margin: 4px 0; padding-left: 0; list-style: none; }
.finder li, .finder p, .quiet p { margin: 4px 0; overflow-wrap: anywhere; }
.finder .review { color: var(--muted); font-size: 12px; }
.quiet { break-inside: avoid; }
.quiet h3 { margin-bottom: 2px; }
figure { margin: 8px 0 12px; }
figcaption { color: var(--muted); font-size: 12px; }
.legend span { display: inline-block; width: 10px; height: 10px; margin: 0 4px 0 10px; vertical-align: -1px; }
nav ol { columns: 2; font-size: 13px; }
nav li { break-inside: avoid; }
nav .pg { display: none; }
a { color: #1d4ed8; text-decoration: none; }
@page { size: A4; margin: 14mm 12mm 16mm;
  @bottom-left { content: "__FOOTER__"; font: 8.5px sans-serif; color: #6b7280; }
  @bottom-right { content: "Page " counter(page) " of " counter(pages);
    font: 8.5px sans-serif; color: #6b7280; } }
@media print {
  body { max-width: none; padding: 0; font-size: 11px; }
  h2 { break-before: page; border-top: none; margin-top: 0; }
  h2.first, h2.flow { break-before: auto; margin-top: 24px; border-top: 2px solid var(--ink);
    padding-top: 8px; }
  h2, h3 { break-after: avoid-page; }
  table + .note, figure + .note, tr.total { break-before: avoid-page; }
  .keep { break-inside: avoid-page; }
  figure, .cards, .card, tr, .finder, .quiet { break-inside: avoid; }
  thead { display: table-header-group; }
  a { color: inherit; }
  nav ol { columns: 1; font-size: 12px; }
  nav li { display: flex; gap: 6px; }
  nav li::after { content: ""; flex: 1; order: 1; border-bottom: 1px dotted #9ca3af;
    margin-bottom: 4px; }
  nav .pg { display: inline; order: 2; font-variant-numeric: tabular-nums; }
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


def _sev(severity: str) -> str:
    return f'<span class="sev sev-{_e(severity)}">{_e(severity)}</span>'


def anchor(partner: PartnerReport) -> str:
    """A partner's HTML id: readable, and unique even for ids that differ only by
    punctuation (``a/b`` and ``a.b``), through a short hash of the exact id."""
    safe = "".join(c if c.isalnum() or c in "-_" else "-" for c in partner.partner_id)[:60]
    digest = hashlib.sha256(partner.partner_id.encode("utf-8")).hexdigest()[:8]
    return f"p-{safe}-{digest}"


def _unit_title(report: Report) -> str:
    return _e(report.unit.capitalize())


# --- opening: findings first ----------------------------------------------------------


def _heading(report: Report) -> str:
    line = _e(first_line(report))
    banner = (
        f'<p class="banner">{line}</p>' if report.partial else f'<p class="complete">{line}</p>'
    )
    prov = report.provenance
    evidence = (
        f" Archive fingerprint <code>{_e(prov.archive.sha256[:16])}</code>, contracts "
        f"<code>{_e((prov.contracts.sha256 or '')[:16])}</code>: see "
        '<a href="#provenance">Provenance</a>.'
        if prov
        else ""
    )
    return (
        f"{banner}<h1>{_e(title(report))}</h1>"
        f'<p class="meta">Covers {_e(day(report.start))} to {_e(day(report.end))} (UTC days). '
        f"Generated {_e(report.generated_at.strftime('%Y-%m-%d %H:%M UTC'))} by callaudit from "
        f"the platform's call logs. Money in {_e(report.currency)}; data sizes in decimal "
        f"units (1 GB = 10<sup>9</sup> bytes); {_e(report.unit)}: what the API returned, "
        f"counted per call.{evidence}</p>"
    )


def _finding_item(finding: Finding) -> str:
    return (
        f"<li>{_sev(finding.severity)} <strong>{_e(finding.title)}.</strong> "
        f'{_e(finding.text)} <span class="review">({_e(finding.review_note)})</span></li>'
    )


def _finder(report: Report, partner: PartnerReport) -> str:
    status = "" if partner.contracted else ' <span class="bad">(no agreement on file)</span>'
    dismissed = partner.dismissed_days()
    note = (
        '<p class="note">Dismissed on review, not counted: '
        + _e(", ".join(f"{flag} ({plural(n, 'day')})" for flag, n in sorted(dismissed.items())))
        + ".</p>"
        if dismissed
        else ""
    )
    return (
        f'<div class="finder {_e(partner.worst_severity)}"><h3>'
        f'<a href="#{anchor(partner)}">{_e(partner.name)}</a>{status}</h3>'
        f'<p class="note">{_e(partner_headline(report, partner))}</p>'
        f"<ul>{''.join(_finding_item(f) for f in partner.findings)}</ul>"
        f"<p>{_e(money_line(partner, report.currency, report.unit))}</p>{note}</div>"
    )


def _findings(report: Report) -> str:
    found = report.with_findings
    parts = [
        '<h2 class="first" id="findings">Findings</h2>',
        f'<p class="lead">{_e(findings_summary(report))}</p>',
    ]
    if found:
        parts.append(
            '<p class="note">Per partner, worst first: each kind of breach with its days and '
            "amounts, and the fees for the period. A flag an analyst dismissed is not a "
            'finding; see <a href="#reviews">Flag reviews</a>.</p>'
        )
    parts += [_finder(report, p) for p in found]
    return "".join(parts)


def _quiet_table(report: Report) -> str:
    quiet = report.without_findings
    if not quiet:
        return ""
    cur = _e(report.currency)
    rows = [
        [
            (f'<a href="#{anchor(p)}">{_e(p.name)}</a>', ""),
            (_e(", ".join(p.agreements) or "none in force"), "id"),
            _n(p.calls),
            _n(p.items),
            _n(p.active_days),
            (_e(amount(p.fees.total)), "n"),
        ]
        for p in quiet
    ]
    return (
        f'<h2 class="flow" id="quiet">Partners with nothing to report ({len(quiet)})</h2>'
        '<p class="note">No standing flag in the period: every call within the agreement in '
        "force.</p>"
        + _table(
            [
                ("Partner", ""),
                ("Agreements", ""),
                ("Calls", "n"),
                (_unit_title(report), "n"),
                ("Active days", "n"),
                (f"Fees, {cur}", "n"),
            ],
            rows,
        )
    )


def _contents(report: Report, pages: Mapping[str, int]) -> str:
    entries = [("findings", "Findings")]
    if report.without_findings:
        entries.append(("quiet", "Partners with nothing to report"))
    entries += [("platform", "Platform totals"), ("reviews", "Flag reviews")]
    entries += [(anchor(p), p.name) for p in report.with_findings]
    if report.without_findings:
        entries.append(("others", "Other partners"))
    entries += [
        ("quality", "Data quality"),
        ("validation", "Validation"),
        ("provenance", "Provenance"),
    ]
    items = "".join(
        f'<li><a href="#{_e(key)}">{_e(label)}</a><span class="pg">{pages.get(key, "")}</span></li>'
        for key, label in entries
    )
    return f'<nav><h2 id="contents">Contents</h2><ol>{items}</ol></nav>'


# --- platform, reviews ----------------------------------------------------------------


def _platform(report: Report) -> str:
    totals = report.totals()
    quality = report.data_quality
    cards = "".join(
        [
            _card("Calls", thousands(totals["calls"])),
            _card(f"{_unit_title(report)} retrieved", thousands(totals["items"])),
            _card("Data returned", data_size(totals["bytes"])),
            _card("Partners calling", thousands(totals["partners"])),
            _card(
                "Partners with findings",
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
        title=f"Calls per month, all partners, {report.period.title}",
    )
    rows = [
        [
            (f'<a href="#{anchor(p)}">{_e(p.name)}</a>', ""),
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
            (_unit_title(report), "n"),
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
        f"<figure>{chart}<figcaption>Calls per month, all partners (a month without calls "
        "shows as zero).</figcaption></figure>"
        f"<h3>By partner</h3>{table}"
        f'<p class="note">Data quality: {thousands(quality.rows_read)} rows read, '
        f"{thousands(quality.duplicates)} duplicates dropped, {thousands(quality.quarantined)} "
        f'quarantined; see <a href="#quality">Data quality</a>.</p>'
        "<h3>How to read the partner pages</h3>"
        '<p class="note"><strong>Calls not authorised</strong>: calls made on days the '
        "agreement in force did not list the app or endpoint, or when no agreement was in "
        f"force. <strong>Fees</strong>: the monthly fee and included {_e(report.unit)} are "
        "prorated by the days of the month the agreement was in force within the report; "
        f"{_e(report.unit)} beyond the included ones are charged at the overage rate per "
        f"thousand; usage with no agreement in force at the list price per thousand "
        f"{_e(report.unit)} and calls; months with nothing to bill are not listed. "
        "<strong>Flags</strong> are listed unreviewed critical first, dismissed ones last; a "
        "red day in a daily chart has a standing flag.</p>"
    )


def _review_cell(row: dict) -> tuple[str, str]:
    state = row["review"]
    if state is None:
        return ("unreviewed", "bad" if row["severity"] == "critical" else "")
    who = f" by {_e(row['reviewer'])}, {_e(row['reviewed_at'])}" if row["reviewer"] else ""
    note = f": {_e(row['review_note'])}" if row["review_note"] else ""
    return (f"<strong>{_e(state)}</strong>{who}{note}", "good" if state == "confirmed" else "")


def _reviews(report: Report) -> str:
    counts = report.review_counts()
    total = counts["confirmed"] + counts["dismissed"] + counts["unreviewed"]
    parts = [
        '<h2 class="flow" id="reviews">Flag reviews</h2>',
        f"<p>{plural(total, 'flag')} in the period: {thousands(counts['confirmed'])} confirmed, "
        f"{thousands(counts['dismissed'])} dismissed, {thousands(counts['unreviewed'])} not "
        f"reviewed ({thousands(counts['unreviewed_critical'])} of them critical). Reviews are "
        "recorded in flag_reviews.yaml beside contracts.yaml; a dismissed flag is left out of "
        "the findings, and a dismissed volume flag counts as a normal day for the volume "
        "detector.</p>",
    ]
    waiting = []
    for p in report.partners:
        rows = p.flags.filter(pl.col("review").is_null() & (pl.col("severity") == "critical"))
        for (flag,), group in rows.group_by(["flag"], maintain_order=True):
            days = sorted(set(group["date"].to_list()))
            waiting.append((p, flag, days, group.row(0, named=True)["detail"] or ""))
    if waiting:
        waiting.sort(key=lambda w: (-len(w[2]), w[0].name, w[1]))
        parts.append("<h3>Critical flags awaiting review</h3>")
        parts.append(
            _table(
                [
                    ("Partner", ""),
                    ("Flag", ""),
                    ("Days", "n"),
                    ("When", ""),
                    ("First instance", ""),
                ],
                [
                    [
                        (f'<a href="#{anchor(p)}">{_e(p.name)}</a>', ""),
                        (_e(flag), "k"),
                        _n(len(days)),
                        (_e(compact_days(days, limit=6)), ""),
                        (_e(detail), ""),
                    ]
                    for p, flag, days, detail in waiting
                ],
            )
        )
    if report.orphan_reviews.height:
        parts.append(
            '<h3>Reviews of flags not raised in this period</h3><p class="note">A review '
            "names a flag that is not (or no longer) in anomaly_flags: a typo in the reviews "
            "file, or flags recomputed since.</p>"
        )
        parts.append(
            _table(
                [("Day", ""), ("Partner", ""), ("Flag", ""), ("Review", "")],
                [
                    [
                        (_e(day(r["date"])), "d"),
                        (_e(r["partner_id"]), "id"),
                        (_e(r["flag"]), "k"),
                        _review_cell({**r, "severity": ""}),
                    ]
                    for r in report.orphan_reviews.iter_rows(named=True)
                ],
            )
        )
    return "".join(parts)


# --- one partner ----------------------------------------------------------------------


def _usage_table(report: Report, frame, key: str, label: str) -> str:
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
            (_unit_title(report), "n"),
            ("Data", "n"),
            ("Days", "n"),
            ("Calls not authorised", "n"),
        ],
        rows,
    )


def _flags(report: Report, partner: PartnerReport) -> str:
    if not partner.flags.height:
        checked = report.data_quality.flag_days
        if not checked:
            return '<h3>Flags</h3><p class="note">No flags were computed for this period.</p>'
        return f'<h3>Flags</h3><p class="good">No flag raised on the {plural(checked, "day")} checked.</p>'
    parts = []
    if partner.flag_kinds:
        rows = [
            [
                (_e(k.flag), "k"),
                (_e(k.severity), f"sev-{_e(k.severity)}"),
                _n(len(k.days)),
                (
                    ", ".join(
                        f'<span class="d">{_e(run)}</span>'
                        for run in compact_days(k.days).split(", ")
                    ),
                    "",
                ),
                _n(k.confirmed_days),
                (_e(k.example), ""),
            ]
            for k in partner.flag_kinds
        ]
        parts.append(
            f"<h3>Flags by kind: {plural(partner.flagged_days, 'day')} flagged</h3>"
            + _table(
                [
                    ("Flag", ""),
                    ("Worst severity", ""),
                    ("Days", "n"),
                    ("When", ""),
                    ("Confirmed days", "n"),
                    ("Strongest instance", ""),
                ],
                rows,
            )
        )
    shown = partner.flags.head(FLAG_ROWS_SHOWN)
    detail_rows = [
        [
            (_e(day(r["date"])), "d"),
            (_e(r["flag"]), "k"),
            (_e(r["severity"]), f"sev-{_e(r['severity'])}"),
            (_e(thousands(r["observed"])) if r["observed"] is not None else "", "n"),
            (_e(thousands(r["threshold"])) if r["threshold"] is not None else "", "n"),
            (_e(r["detail"] or ""), ""),
            _review_cell(r),
        ]
        for r in shown.iter_rows(named=True)
    ]
    more = (
        f'<p class="note">First {FLAG_ROWS_SHOWN} of {thousands(partner.flags.height)} flags; '
        "all are in flags.csv.</p>"
        if partner.flags.height > FLAG_ROWS_SHOWN
        else ""
    )
    parts.append(
        "<h3>Every flag, unreviewed critical first</h3>"
        + _table(
            [
                ("Day", ""),
                ("Flag", ""),
                ("Severity", ""),
                ("Observed", "n"),
                ("Limit / threshold", "n"),
                ("Detail", ""),
                ("Review", ""),
            ],
            detail_rows,
        )
        + more
    )
    return "".join(parts)


def _networks(report: Report, partner: PartnerReport) -> str:
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
            (_unit_title(report), "n"),
        ],
        rows,
    )
    return (
        f"<h3>Restricted-network access timeline</h3><figure>{chart}<figcaption "
        f'class="legend">Each mark is a day data reached the network:<span style="background:'
        f'{svg.ALERT}"></span>not allowed by the agreement in force<span style="background:'
        f'{svg.OK}"></span>allowed</figcaption></figure>{table}'
    )


def _fees(report: Report, partner: PartnerReport) -> str:
    fees, cur = partner.fees, report.currency
    months = fees.billed_months
    if not months:
        return f"<h3>Fees</h3><p>{_e(money_line(partner, cur, report.unit))}</p>"
    # One agreement all period goes in the heading; the column is only for changes.
    names = {m.agreements for m in months}
    by_month = len(names) > 1
    unit = _unit_title(report)
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
        for m in months
    ]
    total = [
        ("Period", ""),
        *([("", "")] if by_month else []),
        _n(sum(m.days_in_force for m in months)),
        (_e(amount(fees.monthly_fees)), "n"),
        _n(sum(m.items_in_force for m in months)),
        _n(sum(m.included_items for m in months)),
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
            (unit, "n"),
            ("Included", "n"),
            ("Overage", "n"),
            (f"Overage, {_e(cur)}", "n"),
            (f"List price, {_e(cur)}", "n"),
            (f"Total, {_e(cur)}", "n"),
        ],
        rows,
        total,
    )
    single = next(iter(names)) if not by_month else ()
    under = f" under {_e(', '.join(single))}" if single else ""
    outside = sum(m.days_without_agreement for m in months)
    note = (
        f'<p class="bad">{plural(outside, "day")} of usage with no agreement in force '
        f"({thousands(sum(m.calls_without_agreement for m in months))} calls, "
        f"{thousands(sum(m.items_without_agreement for m in months))} {_e(report.unit)}), "
        f"costed at the list price: {_e(money(fees.list_price, cur))}.</p>"
        if outside
        else ""
    )
    return (
        f'<div class="keep"><h3>Fees{under}: {_e(money(fees.total, cur))}</h3>{note}{table}</div>'
    )


def _charts(report: Report, partner: PartnerReport) -> str:
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
    return (
        f"<h3>Monthly trend</h3><figure>{monthly}<figcaption>Calls per month (a month "
        f'without calls shows as zero).</figcaption></figure><figure>{daily}<figcaption class="legend">'
        f'Calls per day;<span style="background:{svg.ALERT}"></span>a day with a standing '
        "flag.</figcaption></figure>"
    )


def _partner(report: Report, partner: PartnerReport) -> str:
    agreements = ", ".join(partner.agreements) or "none in force"
    status = "" if partner.contracted else ' <span class="bad">(no agreement on file)</span>'
    cards = "".join(
        [
            _card("Calls", thousands(partner.calls)),
            _card(f"{_unit_title(report)} retrieved", thousands(partner.items)),
            _card("Data returned", _e(data_size(partner.bytes))),
            _card("Active days", thousands(partner.active_days), f"of {report.days}"),
            _card("Flagged days", thousands(partner.flagged_days)),
            _card(f"Fees, {_e(report.currency)}", thousands(partner.fees.total)),
        ]
    )
    usage = ""
    if partner.calls:
        usage = (
            _charts(report, partner)
            + f"<h3>Usage by app</h3>{_usage_table(report, partner.by_app, 'app_id', 'App')}"
            + "<h3>Usage by endpoint</h3>"
            + _usage_table(report, partner.by_endpoint, "endpoint", "Endpoint")
        )
    findings = "".join(_finding_item(f) for f in partner.findings)
    return (
        f'<h2 id="{anchor(partner)}">{_e(partner.name)}{status}</h2>'
        f'<p class="meta">Partner id <code>{_e(partner.partner_id)}</code>; agreements: '
        f"{_e(agreements)}.</p><p>{_e(partner_headline(report, partner))}</p>"
        f'<div class="finder {_e(partner.worst_severity)}"><ul>{findings}</ul></div>'
        f'<div class="cards">{cards}</div>{usage}{_flags(report, partner)}'
        f"{_networks(report, partner)}{_fees(report, partner)}"
    )


def _quiet(report: Report, partner: PartnerReport) -> str:
    """A partner with nothing to report, in a few lines."""
    status = "" if partner.contracted else ' <span class="bad">(no agreement on file)</span>'
    apps = ", ".join(
        f"{_e(r['app_id'])} ({plural(r['calls'], 'call')})"
        for r in partner.by_app.head(5).iter_rows(named=True)
    )
    top = partner.by_endpoint.head(1).rows(named=True)
    endpoints = (
        f"{plural(partner.by_endpoint.height, 'endpoint')}, most called "
        f"<code>{_e(top[0]['endpoint'])}</code> ({plural(top[0]['calls'], 'call')})"
        if top
        else "none"
    )
    dismissed = partner.dismissed_days()
    note = (
        " Dismissed on review: "
        + _e(", ".join(f"{flag} ({plural(n, 'day')})" for flag, n in sorted(dismissed.items())))
        + "."
        if dismissed
        else ""
    )
    return (
        f'<div class="quiet"><h3 id="{anchor(partner)}">{_e(partner.name)}{status}</h3>'
        f"<p>{_e(partner_headline(report, partner))}</p>"
        f'<p class="note">Agreements: {_e(", ".join(partner.agreements) or "none in force")}. '
        f"Apps: {apps or 'none'}. Endpoints: {endpoints}.{note}</p>"
        f"<p>{_e(money_line(partner, report.currency, report.unit))}</p></div>"
    )


def _others(report: Report) -> str:
    quiet = report.without_findings
    if not quiet:
        return ""
    return (
        f'<h2 id="others">Other partners ({len(quiet)})</h2><p class="note">Partners with no '
        "standing flag in the period, briefly: their figures are in the tables above and in "
        "partners.csv.</p>" + "".join(_quiet(report, p) for p in quiet)
    )


# --- data quality, validation, provenance ---------------------------------------------


def _quality(report: Report) -> str:
    q = report.data_quality
    rows = [
        [("Days with data", ""), _n(q.days_with_data)],
        [("Days missing (no ingest partition)", ""), _n(len(q.missing_days))],
        [("Raw files read", ""), _n(q.files)],
        [("Rows read", ""), _n(q.rows_read)],
        [("Duplicates dropped", ""), _n(q.duplicates)],
        [("Re-delivered with other content (first copy kept)", ""), _n(q.conflicting_duplicates)],
        *[
            [(f"Quarantined: {_e(reason)}", ""), _n(count)]
            for reason, count in q.quarantined_by_reason.items()
        ],
        [("Quarantined, all reasons", ""), _n(q.quarantined)],
        [("Rows used", ""), _n(q.rows_valid)],
        [("Unreadable files skipped (data gaps)", ""), _n(len(q.skipped_files))],
        [("Files left out (hidden, other suffix, sub-folder)", ""), _n(len(q.ignored_files))],
        [("Days with anomaly flags computed", ""), _n(q.flag_days)],
    ]
    parts = [
        '<h2 class="flow" id="quality">Data quality</h2>',
        _table([("Measure", ""), ("Value", "n")], rows),
    ]
    if q.missing_days:
        parts.append(f'<p class="bad">Days with no data: {_e(compact_days(q.missing_days))}.</p>')
    if q.skipped_files:
        listed = "".join(f"<li><code>{_e(f)}</code></li>" for f in q.skipped_files[:50])
        parts.append(f"<h3>Data gaps: files skipped</h3><ul>{listed}</ul>")
    if q.ignored_files:
        listed = "".join(f"<li><code>{_e(f)}</code></li>" for f in q.ignored_files[:50])
        parts.append(f"<h3>Files left out of the days</h3><ul>{listed}</ul>")
    return "".join(parts)


def _day_list(days: Mapping[dt.date, list[str]]) -> str:
    rows = [
        [(_e(day(d)), "d"), (_e("; ".join(labels[:4]) + (" …" if len(labels) > 4 else "")), "")]
        for d, labels in sorted(days.items())[:DAYS_LISTED]
    ]
    more = (
        f'<p class="note">First {DAYS_LISTED} of {len(days)} days; all are in summary.json.</p>'
        if len(days) > DAYS_LISTED
        else ""
    )
    return _table([("Day", ""), ("Expectations", "")], rows) + more


def _validation(report: Report) -> str:
    v = report.validation
    parts = ['<h2 class="flow" id="validation">Validation</h2>']
    if v is None:
        parts.append('<p class="note">No validation results were read for this period.</p>')
        return "".join(parts)
    ok = not v.failed_days and not v.not_validated_days
    parts.append(
        f'<p class="{"good" if ok else "bad"}">{thousands(v.days_validated)} of '
        f"{plural(v.days_in_range, 'day')} with data validated by every daily check; "
        f"{plural(len(v.failed_days), 'day')} failed, {plural(len(v.warned_days), 'day')} "
        f"with warnings.</p>"
        '<p class="note">From the warehouse table validation_results, one partition per day, '
        "written by the Great Expectations suites and exact reconciliations that run as "
        "Dagster asset checks: the whole period, not only the last run.</p>"
    )
    if v.not_validated_days:
        parts.append(
            f'<p class="bad">Not validated: {_e(compact_days(list(v.not_validated_days)))}.</p>'
        )
    parts.append(
        _table(
            [("Check", ""), ("Table", ""), ("Days judged", "n"), ("Failed", "n"), ("Warned", "n")],
            [
                [
                    (_e(c.check), "id"),
                    (_e(c.table), "id"),
                    _n(c.days),
                    (thousands(len(c.failed_days)), "n bad" if c.failed_days else "n"),
                    _n(len(c.warned_days)),
                ]
                for c in v.checks
            ],
        )
    )
    if v.failed_days:
        parts.append("<h3>Failed days</h3>" + _day_list(v.failed_days))
    if v.warned_days:
        parts.append("<h3>Days with warnings</h3>" + _day_list(v.warned_days))
    return "".join(parts)


def _provenance(report: Report) -> str:
    p = report.provenance
    parts = ['<h2 class="flow" id="provenance">Provenance</h2>']
    if p is None:
        parts.append('<p class="note">No provenance was recorded for this report.</p>')
        return "".join(parts)
    verify = (
        f"callaudit verify --year {report.year}"
        if report.year is not None
        else f"callaudit verify --start {report.period.start} --end {report.period.end}"
    )
    rows = [
        [("callaudit version", ""), (_e(p.version), "id")],
        [("git commit", ""), (_e(p.git_commit or "unknown (not run from a checkout)"), "id")],
        [("Generated", ""), (_e(p.generated_at.strftime("%Y-%m-%d %H:%M:%S UTC")), "id")],
        [("Contracts", ""), (_e(p.contracts.location), "id")],
        [("Contracts SHA-256", ""), (_e(p.contracts.sha256 or "missing"), "id")],
        [("Flag reviews", ""), (_e(p.reviews.location), "id")],
        [("Flag reviews SHA-256", ""), (_e(p.reviews.sha256 or "no reviews file"), "id")],
        [("Archive", ""), (_e(p.archive.archive), "id")],
        [
            ("Archive SHA-256 (the period's files)", ""),
            (_e(p.archive.sha256), "id"),
        ],
        [
            ("Archive files hashed", ""),
            (
                _e(
                    f"{thousands(p.archive.files)} files, {data_size(p.archive.bytes)} on "
                    f"{plural(len(p.archive.days), 'day')}, in {p.archive.seconds:.1f} s"
                ),
                "",
            ),
        ],
        [("Warehouse", ""), (_e(p.warehouse), "id")],
        [("Report run", ""), (_e(p.report_run or "outside Dagster"), "id")],
    ]
    parts.append(_table([("What", ""), ("Value", "")], rows))
    parts.append(
        f'<p class="note">Every raw file of every day is listed with its size and SHA-256 in '
        f"summary.json (provenance.days); the archive digest is the SHA-256 of those lines. "
        f"<code>{_e(verify)}</code> recomputes the fingerprints and this report's totals and "
        "names any day and file that changed.</p>"
    )
    if p.runs:
        parts.append("<h3>Dagster runs that built the period</h3>")
        parts.append(
            _table(
                [("Run id", ""), ("Assets", ""), ("Days", ""), ("Partitions", "n")],
                [
                    [
                        (_e(r["run_id"]), "id"),
                        (_e(", ".join(r["assets"])), ""),
                        (_e(f"{r['first_day']} to {r['last_day']}"), "d"),
                        _n(r["partitions"]),
                    ]
                    for r in p.runs
                ],
            )
        )
    else:
        parts.append(
            '<p class="note">No Dagster run is recorded for these days (the tables were '
            "written outside Dagster).</p>"
        )
    return "".join(parts)


#: Added to the HTML of a print that only finds the pages (never published): nothing is
#: painted, and ``visibility`` never moves a box, so every part lands on the same page
#: as in the painted print. The print of a 0.01 year's report: 0.61 s instead of 0.83 s
#: (2026-11-29); the painted print that follows checks the pages again.
UNPAINTED = "<style>*{visibility:hidden!important}</style>"


#: A chart's contents. The report's charts (callaudit.report.svg) are sized by their
#: ``viewBox`` and ``width`` alone, as an inline SVG always is (its children never size
#: it), so an empty chart takes the same box; they are half the tags of a report.
_CHART_CONTENTS = re.compile(r"(<svg\b[^>]*>).*?(</svg>)", re.S)


def unpainted(html: str) -> str:
    """``html`` laid out as it is but painted blank (:data:`UNPAINTED`), its charts
    empty: the same boxes on the same pages, with less to lay out (the page-finding
    print of a 0.01 year's report: 0.99-1.04 s instead of 1.26-1.27, 2026-11-29)."""
    head_end = html.index("</head>")
    return _CHART_CONTENTS.sub(r"\1\2", html[:head_end] + UNPAINTED + html[head_end:])


def render_html(report: Report, *, page_numbers: Mapping[str, int] | None = None) -> str:
    """The whole report as one HTML document; ``page_numbers`` (anchor -> page of the
    printed PDF) fill in the contents when printing."""
    return paged_html(report)(page_numbers or {})


def paged_html(report: Report) -> Callable[[Mapping[str, int]], str]:
    """The report's HTML as a function of its contents' page numbers (anchor -> page),
    the only part that depends on them: the rest is rendered once, here, so the HTML of
    a second print (with the numbers the first found) takes no time while the report
    waits for it (0.5-0.8 s of a 0.01 year's first report)."""
    before = _heading(report) + _findings(report) + _quiet_table(report)
    after = "".join(
        [
            _platform(report),
            _reviews(report),
            *(_partner(report, p) for p in report.with_findings),
            _others(report),
            _quality(report),
            _validation(report),
            _provenance(report),
        ]
    )
    footer = title(report).replace("\\", "\\\\").replace('"', '\\"')
    css = CSS.replace("__FOOTER__", footer)
    head = (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "style-src 'unsafe-inline'; img-src data:\">"
        f"<title>{_e(title(report))}</title><style>{css}</style></head>"
        f"<body>{before}"
    )
    tail = f"{after}</body></html>\n"
    return lambda page_numbers: head + _contents(report, page_numbers) + tail
