"""yearly_report: the evidence pack of a year, one partition per year.

It depends on every day of the year of the daily tables and anomaly_flags (Dagster
maps the daily partitions onto the year itself), reads them through the warehouse and
writes ``<reports>/<year>/`` with ``callaudit.report.build``. What only the Dagster
instance knows is handed to it from here: the runs that built the year's days, for the
provenance. A year without data, with a failed day or with missing or stale flags fails
with a one-line reason naming the days. The checks of
its summary.json are in ``assets/checks.py``; a report over any other period is built
by the same code through ``pipelines/period_report.py``.
"""

import datetime as dt
from collections.abc import Sequence

import dagster as dg
from dagster._core.storage.event_log import SqlEventLogStorage, SqlEventLogStorageTable
from dagster._core.storage.sqlalchemy_compat import db_select

from callaudit.assets.metadata import OWNERS, markdown_table
from callaudit.assets.raw import FLAG_REVIEWS, PARTNER_CONTRACTS
from callaudit.assets.resources import AuditResource
from callaudit.report import NoDataError, Period, headline
from callaudit.report.build import BuiltReport, ReportRefused, build_report, days_with_data
from callaudit.report.text import findings_summary
from callaudit.schema import ANOMALY_FLAGS, INGEST_DAILY, NETWORK_DAILY, PARTNER_DAILY, USAGE_DAILY
from callaudit.settings import Settings

YEARLY_REPORT = dg.AssetKey("yearly_report")

#: Warehouse tables the report reads; each is an asset of the daily graph.
REPORT_DEPS: tuple[str, ...] = tuple(
    t.name for t in (USAGE_DAILY, PARTNER_DAILY, NETWORK_DAILY, INGEST_DAILY, ANOMALY_FLAGS)
)


def latest_runs(
    instance: dg.DagsterInstance, asset: str, days: Sequence[dt.date]
) -> dict[dt.date, str]:
    """The run of the latest materialization of each of ``days`` of a daily asset.

    On a SQL event log (SQLite, Postgres: every instance callaudit sets up) one query
    reads just the run ids: fetching the records deserialises every event's metadata,
    0.7 of the 0.8 s the five tables of a full-size year took before the report could
    start (2026-11-29). The query is Dagster's own for the latest event per partition
    (it honours asset wipes); any other storage is read record by record."""
    wanted = [d.isoformat() for d in days]
    key = dg.AssetKey(asset)
    storage = instance.event_log_storage
    if isinstance(storage, SqlEventLogStorage):
        latest = storage._latest_event_ids_by_partition_subquery(
            key, [dg.DagsterEventType.ASSET_MATERIALIZATION], asset_partitions=wanted
        )
        query = db_select([latest.c.partition, SqlEventLogStorageTable.c.run_id]).select_from(
            latest.join(SqlEventLogStorageTable, SqlEventLogStorageTable.c.id == latest.c.id)
        )
        with storage.index_connection() as conn:
            return {dt.date.fromisoformat(p): run for p, run in conn.execute(query).fetchall()}
    latest_run: dict[dt.date, str] = {}
    cursor = None
    while True:
        page = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=key, asset_partitions=wanted),
            limit=1000,
            cursor=cursor,
            ascending=False,
        )
        for record in page.records:
            latest_run.setdefault(dt.date.fromisoformat(record.partition_key), record.run_id)
        if not page.has_more:
            return latest_run
        cursor = page.cursor


def runs_behind(instance: dg.DagsterInstance, days: Sequence[dt.date]) -> list[dict]:
    """The Dagster runs whose materializations are the current partitions of the
    report's tables on ``days``: run id, assets, first and last day, partitions."""
    runs: dict[str, dict] = {}
    for asset in REPORT_DEPS:
        for day, run_id in latest_runs(instance, asset, days).items():
            run = runs.setdefault(
                run_id, {"run_id": run_id, "assets": set(), "days": set(), "partitions": 0}
            )
            run["assets"].add(asset)
            run["days"].add(day)
            run["partitions"] += 1
    return [
        {
            "run_id": r["run_id"],
            "assets": sorted(r["assets"]),
            "first_day": min(r["days"]).isoformat(),
            "last_day": max(r["days"]).isoformat(),
            "partitions": r["partitions"],
        }
        for r in sorted(runs.values(), key=lambda r: (min(r["days"]), r["run_id"]))
    ]


def build_in_instance(
    instance: dg.DagsterInstance, settings: Settings, period: Period, *, report_run: str
) -> BuiltReport:
    """Build a report from inside a Dagster run: the instance says which runs built the
    days and which flags are stale; ``callaudit.report.build`` does the rest. Raises
    dg.Failure with a one-line reason when there is no data or a day is refused."""
    days = days_with_data(settings.warehouse, period)
    try:
        return build_report(
            settings,
            period,
            runs=runs_behind(instance, days),
            report_run=report_run,
        )
    except NoDataError as exc:
        raise dg.Failure(description=str(exc)) from None
    except ReportRefused as exc:
        raise dg.Failure(
            description=str(exc),
            metadata={"refused_days": ", ".join(d.isoformat() for d in exc.days)},
        ) from None


def report_metadata(built: BuiltReport) -> dict:
    """What the UI shows of a written report."""
    report, files = built.report, built.files
    totals = report.totals()
    validation = report.validation
    prov = report.provenance
    findings = [f"**{findings_summary(report)}**", ""] + [
        f"- {p.name}: " + "; ".join(f"{f.severity} {f.flag} ({len(f.days)} d)" for f in p.findings)
        for p in report.with_findings[:15]
    ]
    return {
        "path": dg.MetadataValue.path(files.html),
        "folder": dg.MetadataValue.path(files.folder),
        "files": dg.MetadataValue.text(", ".join(files.files)),
        "pdf": dg.MetadataValue.text(
            files.pdf_note or f"report.pdf, {files.pdf_pages} pages with contents"
        ),
        "headline": dg.MetadataValue.text(headline(report)),
        "findings": dg.MetadataValue.md("\n".join(findings)),
        "coverage": dg.MetadataValue.text(f"{report.start} .. {report.end}"),
        "partial": report.partial,
        "partners": totals["partners"],
        "partners_with_findings": totals["partners_flagged"],
        "total_calls": totals["calls"],
        "total_items": totals["items"],
        "flags": totals["flags"],
        "flags_dismissed": totals["flags_dismissed"],
        "fees_total": dg.MetadataValue.float(totals["fees_total"]),
        "days_validated": dg.MetadataValue.text(
            f"{validation.days_validated} of {validation.days_in_range}" if validation else "none"
        ),
        "archive_sha256": dg.MetadataValue.text(prov.archive.sha256 if prov else ""),
        "contracts_sha256": dg.MetadataValue.text((prov.contracts.sha256 or "") if prov else ""),
        "archive_hashed": dg.MetadataValue.text(
            f"{prov.archive.files} files, {prov.archive.bytes / 1e6:,.1f} MB in "
            f"{prov.archive.seconds:.2f} s ({prov.archive.mb_per_second:,.0f} MB/s)"
            if prov
            else ""
        ),
        "top_partners": markdown_table(
            ["partner", "calls", report.unit, "flagged days"],
            [(p.name, p.calls, p.items, p.flagged_days) for p in report.partners[:10]],
        ),
    }


def build_yearly_report(yearly: dg.PartitionsDefinition) -> dg.AssetsDefinition:
    """The yearly_report asset, one partition per year."""

    @dg.asset(
        key=YEARLY_REPORT,
        description=(
            "The year's evidence pack. Opens with the findings per partner and by severity "
            "(what was breached, on how many days, by how much, and the fees), then the "
            "partners with nothing to report; per partner: usage by app and endpoint, "
            "monthly and daily trend, every flag with its review, restricted-network "
            "access timeline, fees at the agreed rates and at list price; data quality, "
            "validation of every day of the year (validation_results) and provenance "
            "(SHA-256 of contracts.yaml, of the reviews and of every raw file, the runs "
            "that built the days). Writes <reports>/<year>/report.html (self-contained), "
            "report.pdf (when Chromium is installed), report.md, summary.json, "
            "partners.csv, flags.csv and SHA256SUMS. Refuses a year with a failed day or "
            "missing or stale flags."
        ),
        group_name="report",
        owners=OWNERS,
        kinds={"polars", "html"},
        partitions_def=yearly,
        deps=[*REPORT_DEPS, PARTNER_CONTRACTS, FLAG_REVIEWS],
    )
    def yearly_report(
        context: dg.AssetExecutionContext, audit: AuditResource
    ) -> dg.MaterializeResult:
        period = Period.of_year(int(context.partition_key))
        built = build_in_instance(
            context.instance, audit.settings(), period, report_run=context.run_id
        )
        if built.files.pdf_note:
            context.log.warning(built.files.pdf_note)
        return dg.MaterializeResult(metadata=report_metadata(built))

    return yearly_report
