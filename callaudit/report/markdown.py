"""report.md: the same report as plain text, for mail, tickets and diffs.

Log strings are escaped for markdown *and* HTML, because markdown viewers render
inline HTML: ``<script>`` in an app id must stay text.
"""

from html import escape

from callaudit.report.figures import PartnerYear, YearReport
from callaudit.report.numbers import compact_days, data_size, day, money, plural, thousands
from callaudit.report.text import first_line, partner_headline

# Brackets are escaped, so parentheses can never form a link and stay as they are.
_MD_SPECIAL = str.maketrans({c: "\\" + c for c in "\\`*_[]|~"})


def md_escape(value: object) -> str:
    """Text safe inside a markdown table cell or sentence."""
    return escape(str(value), quote=False).translate(_MD_SPECIAL).replace("\n", " ")


def _table(headers: list[str], rows: list[list[str]]) -> list[str]:
    aligns = ["---:" if h.endswith(" ") else "---" for h in headers]
    lines = ["| " + " | ".join(h.strip() for h in headers) + " |", "|" + "|".join(aligns) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return [*lines, ""]


def _partner(report: YearReport, p: PartnerYear) -> list[str]:
    cur = report.currency
    out = [
        f"## {md_escape(p.name)}" + ("" if p.contracted else " (no agreement on file)"),
        "",
        f"Partner id `{md_escape(p.partner_id)}`; agreements: "
        f"{md_escape(', '.join(p.agreements) or 'none in force')}.",
        "",
        md_escape(partner_headline(report, p)),
        "",
    ]
    if p.calls:
        out += ["### Monthly trend", ""]
        out += _table(
            ["Month", "Calls ", "Tweets ", "Data ", "Active days "],
            [
                [
                    r["month"],
                    thousands(r["calls"]),
                    thousands(r["items"]),
                    data_size(r["bytes"]),
                    thousands(r["active_days"]),
                ]
                for r in p.monthly.iter_rows(named=True)
            ],
        )
        for frame, key, label in (
            (p.by_app, "app_id", "App"),
            (p.by_endpoint, "endpoint", "Endpoint"),
        ):
            out += [f"### Usage by {label.lower()}", ""]
            out += _table(
                [label, "Calls ", "Tweets ", "Data ", "Days ", "Calls not authorised "],
                [
                    [
                        md_escape(r[key]),
                        thousands(r["calls"]),
                        thousands(r["items"]),
                        data_size(r["bytes"]),
                        thousands(r["days"]),
                        thousands(r["unauthorised_calls"]),
                    ]
                    for r in frame.iter_rows(named=True)
                ],
            )
    out += ["### Flags", ""]
    if p.flag_kinds:
        out += _table(
            ["Flag", "Worst severity", "Days ", "When", "Strongest instance"],
            [
                [
                    md_escape(k.flag),
                    md_escape(k.severity),
                    thousands(len(k.days)),
                    compact_days(k.days),
                    md_escape(k.example),
                ]
                for k in p.flag_kinds
            ],
        )
    else:
        out += ["No flag raised.", ""]
    out += ["### Restricted networks", ""]
    if p.networks.is_empty():
        out += ["No call came from a restricted network.", ""]
    else:
        out += _table(
            ["Network", "App", "Agreement", "First day", "Last day", "Days ", "Calls ", "Tweets "],
            [
                [
                    md_escape(r["network_label"]),
                    md_escape(r["app_id"]),
                    "allowed" if r["allowed"] else "**not allowed**",
                    day(r["first"]),
                    day(r["last"]),
                    thousands(r["days"]),
                    thousands(r["calls"]),
                    thousands(r["items"]),
                ]
                for r in p.networks.iter_rows(named=True)
            ],
        )
    out += [f"### Fees: {money(p.fees.total, cur)}", ""]
    out += _table(
        [
            "Month",
            "Agreement",
            "Days in force ",
            "Fee ",
            "Tweets ",
            "Included ",
            "Overage tweets ",
            "Overage ",
            "List price ",
            "Total ",
        ],
        [
            [
                m.month,
                md_escape(", ".join(m.agreements) or "none"),
                thousands(m.days_in_force),
                money(m.monthly_fee, cur),
                thousands(m.items_in_force),
                thousands(m.included_items),
                thousands(m.overage_items),
                money(m.overage_cost, cur),
                money(m.list_price_cost, cur),
                money(m.total, cur),
            ]
            for m in p.fees.months
        ],
    )
    return out


def render_markdown(report: YearReport) -> str:
    totals = report.totals()
    q = report.data_quality
    cur = report.currency
    lines = [
        md_escape(first_line(report)),
        "",
        f"# Partner API usage report {report.year}",
        "",
        f"Covers {day(report.start)} to {day(report.end)} (UTC days). Money in {cur}.",
        "",
        "## Headlines",
        "",
        *(f"- {md_escape(partner_headline(report, p))}" for p in report.partners if p.calls),
        "",
        "## Platform totals",
        "",
        f"{thousands(totals['calls'])} calls, {thousands(totals['items'])} tweets, "
        f"{data_size(totals['bytes'])} from {plural(totals['partners'], 'partner')}; "
        f"{plural(totals['flags'], 'flag')} on {plural(totals['partners_flagged'], 'partner')}; "
        f"fees {money(totals['agreement_fees'], cur)} at agreed rates and "
        f"{money(totals['list_price'], cur)} at list price.",
        "",
    ]
    lines += _table(
        [
            "Partner",
            "Calls ",
            "Tweets ",
            "Data ",
            "Active days ",
            "Flagged days ",
            "Agreed fees ",
            "List price ",
        ],
        [
            [
                md_escape(p.name),
                thousands(p.calls),
                thousands(p.items),
                data_size(p.bytes),
                thousands(p.active_days),
                thousands(p.flagged_days),
                money(p.fees.agreement_total, cur),
                money(p.fees.list_price, cur),
            ]
            for p in report.partners
        ],
    )
    for partner in report.partners:
        lines += _partner(report, partner)
    lines += ["## Data quality", ""]
    lines += _table(
        ["Measure", "Value "],
        [
            ["Days with data", thousands(q.days_with_data)],
            ["Days missing", thousands(len(q.missing_days))],
            ["Raw files read", thousands(q.files)],
            ["Rows read", thousands(q.rows_read)],
            ["Duplicates dropped", thousands(q.duplicates)],
            *[[f"Quarantined: {r}", thousands(n)] for r, n in q.quarantined_by_reason.items()],
            ["Quarantined, all reasons", thousands(q.quarantined)],
            ["Rows used", thousands(q.rows_valid)],
            ["Unreadable files skipped", thousands(len(q.skipped_files))],
            ["Days with anomaly flags computed", thousands(q.flag_days)],
        ],
    )
    if q.missing_days:
        lines += [f"Days with no data: {compact_days(q.missing_days)}.", ""]
    lines += [f"- skipped `{md_escape(f)}`" for f in q.skipped_files]
    if q.validation is None:
        lines += ["Validation: no results recorded for this period.", ""]
    else:
        failed = [v for v in q.validation if not v.passed]
        lines += [
            f"Validation: {len(q.validation) - len(failed)} of {len(q.validation)} checks passed.",
            "",
        ]
        lines += [f"- failed: {md_escape(v.asset)} / {md_escape(v.check)}" for v in failed]
    return "\n".join(lines).rstrip() + "\n"
