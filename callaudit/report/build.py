"""Building a report: refuse what must not be stated, then gather, account and write.

A report's numbers go into letters, so before anything is written it refuses, naming
the days, a period where

- a day failed validation (a critical expectation in ``validation_results``),
- a day with data has no anomaly_flags partition (flags missing), or
- a day's flags are stale: computed with another contracts.yaml, other detection
  settings or other dismissed volume flags than the report reads, or before a day of
  their history was re-run (each flags commit records its inputs;
  callaudit.flags.freshness judges them). Flags that recorded no inputs (written by
  an older callaudit, or by hand) cannot be shown fresh, so they are refused alike, or
- a day between the period's first and last day with data was never processed (no
  commit at all, not even a data gap): its figures would be missing without a word.
  A committed data gap is not refused (the report says its figures are a lower bound)
  unless gaps are fatal (``fail_on_gaps``).

Then it gathers the figures, reads the validation of every day of the period, computes
the provenance (content hashes of the inputs) and writes the files. The yearly asset and
the period job both call :func:`build_report`; they only add what the Dagster instance
knows (the runs that built the days).
"""

import contextlib
import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from callaudit import warehouse
from callaudit.contracts import load_contracts_hashed
from callaudit.dates import days_between
from callaudit.flags import freshness
from callaudit.flags.settings import load_detection_settings
from callaudit.incremental import raw_fingerprint
from callaudit.provenance import collect_provenance
from callaudit.report import early
from callaudit.report.figures import (
    NoDataError,
    Period,
    Report,
    coverage,
    days_with_data,
    gather,
    no_data_message,
)
from callaudit.report.numbers import compact_days
from callaudit.report.write import ReportFiles, early_printer, write_report
from callaudit.reviews import Reviews, load_reviews_for
from callaudit.schema import ANOMALY_FLAGS
from callaudit.settings import Settings
from callaudit.validation.results import failed_days, range_validation
from callaudit.validation.summary_checks import validate_summary

#: Days named in a refusal; the rest are counted.
NAMED_DAYS = 5


class ReportRefused(ValueError):
    """The period holds days a report must not state numbers from; the message names them."""

    def __init__(self, message: str, days: Sequence[dt.date]) -> None:
        super().__init__(message)
        self.days = sorted(days)


@dataclass
class BuiltReport:
    report: Report
    files: ReportFiles


def _named(days: Mapping[dt.date, list[str]] | Sequence[dt.date]) -> str:
    if isinstance(days, Mapping):
        shown = [f"{d}: {', '.join(labels[:2])}" for d, labels in sorted(days.items())[:NAMED_DAYS]]
        more = len(days) - NAMED_DAYS
        return "; ".join(shown) + (f"; and {more} more" if more > 0 else "")
    return compact_days(list(days), limit=NAMED_DAYS)


def stale_flags(
    warehouse_url: str, days: Sequence[dt.date], inputs: freshness.FlagInputs
) -> dict[dt.date, str]:
    """The ``days`` whose flags no longer match ``inputs``, with why; flags that recorded
    no inputs are stale too (nothing shows what they were computed from)."""
    return freshness.stale_flag_days(warehouse_url, days, inputs)


def unprocessed_days(warehouse_url: str, period: Period) -> list[dt.date]:
    """Days between the first and last day of ``period`` with data that no run ever
    committed (no tables, no data gap): the report would leave them out silently. Days
    after the last day with data are the period not covered yet, said on its first line."""
    span = coverage(warehouse_url, period)
    if span is None:
        return []
    committed = warehouse.day_manifests(warehouse_url, warehouse.DAY_TABLES, span[0], span[1])
    return [d for d in days_between(span[0], span[1]) if d not in committed]


def raw_changed_days(warehouse_url: str, archive: str, period: Period) -> list[dt.date]:
    """Committed days of ``period`` whose raw files (names, sizes, modification times)
    are no longer those their tables were computed from: a late or rewritten file. The
    report would show the old tables beside the new files' fingerprints. Days committed
    without a record of their raw files are not judged."""
    committed = warehouse.day_manifests(
        warehouse_url, warehouse.DAY_TABLES, period.start, period.end
    )
    changed = []
    for day, manifest in sorted(committed.items()):
        recorded = (manifest.info.get("inputs") or {}).get("raw")
        if recorded is not None and recorded != raw_fingerprint(archive, day):
            changed.append(day)
    return changed


def flag_inputs(
    settings: Settings, contracts_sha256: str, reviews: Reviews
) -> freshness.FlagInputs:
    """The inputs flags are computed from, as they are now."""
    detection = load_detection_settings(settings.detection or None)
    return freshness.FlagInputs(
        contracts_sha256, freshness.detection_sha256(detection), reviews.dismissed_volume()
    )


def refusal(
    warehouse_url: str,
    period: Period,
    inputs: freshness.FlagInputs | None = None,
    archive: str | None = None,
) -> ReportRefused | None:
    """Why a report of ``period`` must not be built, or None. ``inputs``: the flags'
    inputs as they are now, ``archive``: the raw archive as it is now (None: staleness
    is not judged)."""
    days = days_with_data(warehouse_url, period)
    failed = failed_days(warehouse_url, days)
    flagged = set(warehouse.partition_days(warehouse_url, ANOMALY_FLAGS))
    missing = [d for d in days if d not in flagged]
    stale = stale_flags(warehouse_url, days, inputs) if inputs is not None else {}
    unprocessed = unprocessed_days(warehouse_url, period)
    raw_changed = raw_changed_days(warehouse_url, archive, period) if archive else []
    reasons = []
    if raw_changed:
        reasons.append(
            f"{len(raw_changed)} day(s) have raw files that changed since their tables were "
            f"computed ({_named(raw_changed)})"
        )
    if unprocessed:
        reasons.append(f"{len(unprocessed)} day(s) were never processed ({_named(unprocessed)})")
    if failed:
        reasons.append(f"{len(failed)} day(s) failed validation ({_named(failed)})")
    if missing:
        reasons.append(f"{len(missing)} day(s) have no flags ({_named(missing)})")
    if stale:
        why = sorted(set(stale.values()))
        reasons.append(
            f"{len(stale)} day(s) have stale flags, {'; '.join(why)} ({_named(sorted(stale))})"
        )
    if not reasons:
        return None
    bad = sorted(set(failed) | set(missing) | set(stale) | set(unprocessed) | set(raw_changed))
    return ReportRefused(
        f"not building the {period.title} report: " + "; ".join(reasons) + ". Fix the data and "
        f"re-run those days (callaudit backfill --start {bad[0]} --end {bad[-1]}).",
        bad,
    )


def build_report(
    settings: Settings,
    period: Period,
    *,
    runs: Sequence[dict] = (),
    report_run: str | None = None,
    pdf: bool = True,
) -> BuiltReport:
    """Refuse, gather, validate, fingerprint and write the report of ``period``.

    Raises NoDataError when the period has no day with data and ReportRefused when a day
    failed validation or has missing or stale flags.
    """
    span = coverage(settings.warehouse, period)
    if span is None:
        raise NoDataError(no_data_message(settings.warehouse, period))
    # Chromium starts now, while the inputs are read and the figures computed (0.5-2 s),
    # unless the report was begun (its work brings one).
    begun_early = early.begun(settings.warehouse, period)
    with contextlib.ExitStack() as stack:
        printer = stack.enter_context(early_printer(pdf and not begun_early))
        contracts, contracts_sha256 = load_contracts_hashed(settings.contracts)
        reviews = load_reviews_for(settings)
        refused = refusal(
            settings.warehouse,
            period,
            flag_inputs(settings, contracts_sha256, reviews),
            archive=settings.archive,
        )
        if refused is not None:
            raise refused
        # The figures and pages a backfill's last run began while it checked the flags
        # (callaudit.report.early), when nothing they were computed from has changed.
        begun = early.take(
            settings.warehouse,
            period,
            lambda: early.inputs_now(settings.warehouse, period, contracts_sha256, reviews),
        )
        if begun is not None:
            report, pages = begun.report, begun.pages
            if begun.printer is not None:
                stack.callback(begun.printer.close)  # stopped with the report, as its own
                printer = printer or (begun.printer if pdf else None)
        else:
            report, pages = gather(settings.warehouse, contracts, period, reviews=reviews), {}
        if settings.fail_on_gaps and report.data_quality.missing_days:
            missing = report.data_quality.missing_days
            raise ReportRefused(
                f"not building the {period.title} report: {len(missing)} day(s) have no data "
                f"({_named(missing)}), and data gaps are fatal (--fail-on-gaps, "
                "CALLAUDIT_FAIL_ON_GAPS=1)",
                missing,
            )
        validation = begun.validation_now() if begun is not None else None
        if validation is None:
            validation = range_validation(
                settings.warehouse, days_with_data(settings.warehouse, period)
            )
        report.validation = validation
        report.provenance = collect_provenance(
            archive=settings.archive,
            contracts=settings.contracts,
            reviews=settings.reviews_location,
            warehouse=settings.warehouse,
            days=days_between(report.start, report.end),
            runs=runs,
            report_run=report_run,
            workers=settings.workers,
        )
        report.generated_at = report.provenance.generated_at
        files = write_report(
            report,
            settings.reports,
            pdf=pdf,
            before_publish=lambda summary: _refuse_failed_summary(summary, settings, period),
            printer=printer,
            pages=pages,
        )
    return BuiltReport(report, files)


def _refuse_failed_summary(summary: dict, settings: Settings, period: Period) -> None:
    """The blocking checks of a year's summary.json, run on the set written aside: a
    failure refuses the report before it replaces the published one."""
    if period.year is None:
        return
    failed = [
        check.summary()
        for check in validate_summary(summary, settings.warehouse, period.year).values()
        if not check.success
    ]
    if failed:
        raise ReportRefused(
            f"not publishing the {period.title} report, the previous one is kept: "
            + "; ".join(failed),
            [],
        )
