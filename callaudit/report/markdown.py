"""report.md: the same report as plain text, for mail, tickets and diffs.

It says what report.html says, in the same order (findings first, then the partners
with nothing to report, platform totals, flag reviews, each partner with its flags,
networks and fees, the other partners, data quality, validation and provenance); only
the charts are left out. Log strings are escaped for markdown *and* HTML, because
markdown viewers render inline HTML: ``<script>`` in an app id must stay text.
"""

from html import escape

from callaudit.report.figures import PartnerReport, Report
from callaudit.report.findings import money_line
from callaudit.report.html import DAYS_LISTED, FLAG_ROWS_SHOWN
from callaudit.report.numbers import compact_days, data_size, day, money, plural, thousands
from callaudit.report.text import findings_summary, first_line, partner_headline, title

# Brackets are escaped, so parentheses can never form a link and stay as they are.
_MD_SPECIAL = str.maketrans({c: "\\" + c for c in "\\`*_[]|~#"})


def md_escape(value: object) -> str:
    """Text safe inside a markdown table cell or sentence."""
    return escape(str(value), quote=False).translate(_MD_SPECIAL).replace("\n", " ")


def _table(headers: list[str], rows: list[list[str]]) -> list[str]:
    """A markdown table; a header ending in a space is right-aligned (numbers)."""
    aligns = ["---:" if h.endswith(" ") else "---" for h in headers]
    lines = ["| " + " | ".join(h.strip() for h in headers) + " |", "|" + "|".join(aligns) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return [*lines, ""]


def _review(row: dict) -> str:
    if row["review"] is None:
        return "unreviewed"
    who = (
        f" by {md_escape(row['reviewer'])}, {md_escape(row['reviewed_at'])}"
        if row["reviewer"]
        else ""
    )
    note = f": {md_escape(row['review_note'])}" if row["review_note"] else ""
    return f"**{row['review']}**{who}{note}"


def _findings(report: Report) -> list[str]:
    out = ["## Findings", "", md_escape(findings_summary(report)), ""]
    for p in report.with_findings:
        status = "" if p.contracted else " (no agreement on file)"
        out += [f"### {md_escape(p.name)}{status}", "", md_escape(partner_headline(report, p)), ""]
        out += [
            f"- **{f.severity}**: **{md_escape(f.title)}.** {md_escape(f.text)} "
            f"({md_escape(f.review_note)})"
            for f in p.findings
        ]
        out += ["", md_escape(money_line(p, report.currency, report.unit)), ""]
        dismissed = p.dismissed_days()
        if dismissed:
            listed = ", ".join(f"{f} ({plural(n, 'day')})" for f, n in sorted(dismissed.items()))
            out += [f"Dismissed on review, not counted: {md_escape(listed)}.", ""]
    quiet = report.without_findings
    if quiet:
        out += [f"## Partners with nothing to report ({len(quiet)})", ""]
        out += _table(
            [
                "Partner",
                "Agreements",
                "Calls ",
                f"{report.unit.capitalize()} ",
                "Active days ",
                f"Fees, {report.currency} ",
            ],
            [
                [
                    md_escape(p.name),
                    md_escape(", ".join(p.agreements) or "none in force"),
                    thousands(p.calls),
                    thousands(p.items),
                    thousands(p.active_days),
                    f"{p.fees.total:,.2f}",
                ]
                for p in quiet
            ],
        )
    return out


def _platform(report: Report) -> list[str]:
    totals = report.totals()
    cur = report.currency
    out = [
        "## Platform totals",
        "",
        f"{thousands(totals['calls'])} calls, {thousands(totals['items'])} {report.unit}, "
        f"{data_size(totals['bytes'])} from {plural(totals['partners'], 'partner')}; "
        f"{plural(totals['flags'], 'standing flag')} on "
        f"{plural(totals['partners_flagged'], 'partner')}; "
        f"fees {money(totals['agreement_fees'], cur)} at agreed rates and "
        f"{money(totals['list_price'], cur)} at list price.",
        "",
    ]
    out += _table(["Month", "Calls ", f"{report.unit.capitalize()} ", "Data "],
        [
            [r["month"], thousands(r["calls"]), thousands(r["items"]), data_size(r["bytes"])]
            for r in report.monthly.iter_rows(named=True)
        ],
    )  # fmt: skip
    out += _table(
        [
            "Partner",
            "Calls ",
            f"{report.unit.capitalize()} ",
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
    return out


def _reviews(report: Report) -> list[str]:
    counts = report.review_counts()
    total = counts["confirmed"] + counts["dismissed"] + counts["unreviewed"]
    out = [
        "## Flag reviews",
        "",
        f"{plural(total, 'flag')} in the period: {thousands(counts['confirmed'])} confirmed, "
        f"{thousands(counts['dismissed'])} dismissed, {thousands(counts['unreviewed'])} not "
        f"reviewed ({thousands(counts['unreviewed_critical'])} of them critical).",
        "",
    ]
    waiting = []
    for p in report.partners:
        rows = p.flags.filter(p.flags["review"].is_null() & (p.flags["severity"] == "critical"))
        for (flag,), group in rows.group_by(["flag"], maintain_order=True):
            waiting.append((p, flag, sorted(set(group["date"].to_list()))))
    if waiting:
        waiting.sort(key=lambda w: (-len(w[2]), w[0].name, w[1]))
        out += ["### Critical flags awaiting review", ""]
        out += _table(
            ["Partner", "Flag", "Days ", "When"],
            [
                [md_escape(p.name), md_escape(flag), thousands(len(days)), compact_days(days, 6)]
                for p, flag, days in waiting
            ],
        )
    if report.orphan_reviews.height:
        out += ["### Reviews of flags not raised in this period", ""]
        out += _table(
            ["Day", "Partner", "Flag", "Review"],
            [
                [day(r["date"]), md_escape(r["partner_id"]), md_escape(r["flag"]), _review(r)]
                for r in report.orphan_reviews.iter_rows(named=True)
            ],
        )
    return out


def _flags(report: Report, p: PartnerReport) -> list[str]:
    out = ["### Flags", ""]
    if not p.flags.height:
        return [*out, "No flag raised.", ""]
    if p.flag_kinds:
        out += _table(
            ["Flag", "Worst severity", "Days ", "When", "Confirmed days ", "Strongest instance"],
            [
                [
                    md_escape(k.flag),
                    md_escape(k.severity),
                    thousands(len(k.days)),
                    compact_days(k.days),
                    thousands(k.confirmed_days),
                    md_escape(k.example),
                ]
                for k in p.flag_kinds
            ],
        )
    out += ["#### Every flag", "", "Unreviewed critical flags first, dismissed ones last.", ""]
    out += _table(
        ["Day", "Flag", "Severity", "Observed ", "Limit / threshold ", "Detail", "Review"],
        [
            [
                day(r["date"]),
                md_escape(r["flag"]),
                md_escape(r["severity"]),
                thousands(r["observed"]) if r["observed"] is not None else "",
                thousands(r["threshold"]) if r["threshold"] is not None else "",
                md_escape(r["detail"] or ""),
                _review(r),
            ]
            for r in p.flags.head(FLAG_ROWS_SHOWN).iter_rows(named=True)
        ],
    )
    if p.flags.height > FLAG_ROWS_SHOWN:
        out += [
            f"First {FLAG_ROWS_SHOWN} of {thousands(p.flags.height)} flags; all are in flags.csv.",
            "",
        ]
    return out


def _partner(report: Report, p: PartnerReport) -> list[str]:
    cur = report.currency
    unit = report.unit.capitalize()
    out = [
        f"## {md_escape(p.name)}" + ("" if p.contracted else " (no agreement on file)"),
        "",
        f"Partner id `{md_escape(p.partner_id)}`; agreements: "
        f"{md_escape(', '.join(p.agreements) or 'none in force')}.",
        "",
        md_escape(partner_headline(report, p)),
        "",
        *(f"- **{f.severity}**: **{md_escape(f.title)}.** {md_escape(f.text)}" for f in p.findings),
        "",
    ]
    if p.calls:
        out += ["### Monthly trend", ""]
        out += _table(
            ["Month", "Calls ", f"{unit} ", "Data ", "Active days "],
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
                [label, "Calls ", f"{unit} ", "Data ", "Days ", "Calls not authorised "],
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
    out += _flags(report, p)
    out += ["### Restricted networks", ""]
    if p.networks.is_empty():
        out += ["No call came from a restricted network.", ""]
    else:
        out += _table(
            ["Network", "App", "Agreement", "First day", "Last day", "Days ", "Calls ", f"{unit} "],
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
    months = p.fees.billed_months
    if months:
        out += _table(
            [
                "Month",
                "Agreement",
                "Days in force ",
                "Fee ",
                f"{unit} ",
                "Included ",
                "Overage ",
                "Overage cost ",
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
                for m in months
            ],
        )
    out += [md_escape(money_line(p, cur, report.unit)), ""]
    return out


def _quiet(report: Report, p: PartnerReport) -> list[str]:
    apps = ", ".join(
        f"{md_escape(r['app_id'])} ({plural(r['calls'], 'call')})"
        for r in p.by_app.head(5).iter_rows(named=True)
    )
    return [
        f"### {md_escape(p.name)}" + ("" if p.contracted else " (no agreement on file)"),
        "",
        md_escape(partner_headline(report, p)),
        f"Agreements: {md_escape(', '.join(p.agreements) or 'none in force')}. "
        f"Apps: {apps or 'none'}. Endpoints: {thousands(p.by_endpoint.height)}.",
        md_escape(money_line(p, report.currency, report.unit)),
        "",
    ]


def _quality(report: Report) -> list[str]:
    q = report.data_quality
    out = ["## Data quality", ""]
    out += _table(
        ["Measure", "Value "],
        [
            ["Days with data", thousands(q.days_with_data)],
            ["Days missing", thousands(len(q.missing_days))],
            ["Raw files read", thousands(q.files)],
            ["Rows read", thousands(q.rows_read)],
            ["Duplicates dropped", thousands(q.duplicates)],
            [
                "Re-delivered with other content (first copy kept)",
                thousands(q.conflicting_duplicates),
            ],
            *[[f"Quarantined: {r}", thousands(n)] for r, n in q.quarantined_by_reason.items()],
            ["Quarantined, all reasons", thousands(q.quarantined)],
            ["Rows used", thousands(q.rows_valid)],
            ["Unreadable files skipped", thousands(len(q.skipped_files))],
            ["Files left out (hidden, other suffix, sub-folder)", thousands(len(q.ignored_files))],
            ["Days with anomaly flags computed", thousands(q.flag_days)],
        ],
    )
    if q.missing_days:
        out += [f"Days with no data: {compact_days(q.missing_days)}.", ""]
    out += [f"- skipped `{md_escape(f)}`" for f in q.skipped_files]
    out += [f"- left out `{md_escape(f)}`" for f in q.ignored_files[:50]]
    return out


def _validation(report: Report) -> list[str]:
    v = report.validation
    out = ["## Validation", ""]
    if v is None:
        return [*out, "No validation results were read for this period.", ""]
    out += [
        f"{thousands(v.days_validated)} of {plural(v.days_in_range, 'day')} with data validated "
        f"by every daily check; {plural(len(v.failed_days), 'day')} failed, "
        f"{plural(len(v.warned_days), 'day')} with warnings (from validation_results, every "
        "day of the period).",
        "",
    ]
    if v.not_validated_days:
        out += [f"Not validated: {compact_days(list(v.not_validated_days))}.", ""]
    out += _table(
        ["Check", "Table", "Days judged ", "Failed ", "Warned "],
        [
            [md_escape(c.check), md_escape(c.table), thousands(c.days),
             thousands(len(c.failed_days)), thousands(len(c.warned_days))]
            for c in v.checks
        ],
    )  # fmt: skip
    for label, days in (("Failed days", v.failed_days), ("Days with warnings", v.warned_days)):
        if days:
            out += [f"### {label}", ""]
            out += [
                f"- {day(d)}: {md_escape('; '.join(labels[:4]))}"
                for d, labels in sorted(days.items())[:DAYS_LISTED]
            ]
            out += [""]
    return out


def _provenance(report: Report) -> list[str]:
    p = report.provenance
    out = ["## Provenance", ""]
    if p is None:
        return [*out, "No provenance was recorded for this report.", ""]
    verify = (
        f"callaudit verify --year {report.year}"
        if report.year is not None
        else f"callaudit verify --start {report.period.start} --end {report.period.end}"
    )
    out += _table(
        ["What", "Value"],
        [
            ["callaudit version", md_escape(p.version)],
            ["git commit", md_escape(p.git_commit or "unknown (not run from a checkout)")],
            ["Generated", p.generated_at.strftime("%Y-%m-%d %H:%M:%S UTC")],
            ["Contracts", md_escape(p.contracts.location)],
            ["Contracts SHA-256", md_escape(p.contracts.sha256 or "missing")],
            ["Flag reviews", md_escape(p.reviews.location)],
            ["Flag reviews SHA-256", md_escape(p.reviews.sha256 or "no reviews file")],
            ["Archive", md_escape(p.archive.archive)],
            ["Archive SHA-256 (the period's files)", p.archive.sha256],
            [
                "Archive files hashed",
                f"{thousands(p.archive.files)} files, {data_size(p.archive.bytes)} on "
                f"{plural(len(p.archive.days), 'day')}, in {p.archive.seconds:.1f} s",
            ],
            ["Warehouse", md_escape(p.warehouse)],
            ["Report run", md_escape(p.report_run or "outside Dagster")],
        ],
    )
    out += [
        "Every raw file of every day is listed with its size and SHA-256 in summary.json "
        f"(provenance.days). `{verify}` recomputes the fingerprints and this report's totals "
        "and names any day and file that changed.",
        "",
    ]
    if p.runs:
        out += ["### Dagster runs that built the period", ""]
        out += _table(
            ["Run id", "Assets", "Days", "Partitions "],
            [
                [
                    md_escape(r["run_id"]),
                    md_escape(", ".join(r["assets"])),
                    f"{r['first_day']} to {r['last_day']}",
                    thousands(r["partitions"]),
                ]
                for r in p.runs
            ],
        )
    return out


def render_markdown(report: Report) -> str:
    lines = [
        md_escape(first_line(report)),
        "",
        f"# {md_escape(title(report))}",
        "",
        f"Covers {day(report.start)} to {day(report.end)} (UTC days). Money in "
        f"{md_escape(report.currency)}; {md_escape(report.unit)}: what the API returned, counted per call.",
        "",
    ]
    lines += _findings(report)
    lines += _platform(report)
    lines += _reviews(report)
    for partner in report.with_findings:
        lines += _partner(report, partner)
    if report.without_findings:
        lines += [f"## Other partners ({len(report.without_findings)})", ""]
        for partner in report.without_findings:
            lines += _quiet(report, partner)
    lines += _quality(report)
    lines += _validation(report)
    lines += _provenance(report)
    return "\n".join(lines).rstrip() + "\n"
