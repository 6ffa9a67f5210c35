"""A report begun while its run still checks the flags: the figures gathered and the
pages found before the report's own run starts.

``callaudit backfill`` builds the year's report right after the run that computes the
year's flags. Once the flags are committed, the report's figures cannot change: only the
flag checks' findings are still to come, and they only enter the report's validation
section. So the CLI announces the report it will build (:func:`expect`), the flags asset
calls :func:`flags_committed`, and a thread then gathers the figures while the flag checks
run, waits for their findings, and, when no report of the period is published yet (its
pages are the guess otherwise), prints the report unpainted once to find on which page
each part lands (callaudit.report.write), while the run ends and the report's run
starts. The report then takes that work (:func:`take`) instead of doing it again: a 0.01
year's report step took 3.7-4.5 s instead of 4.5-4.9 s, the flag checks 0.3 s longer
(2026-11-29). Only the CLI announces a report; a run anywhere else begins nothing.

Nothing is taken on trust. :func:`take` hands the figures over only when everything they
were computed from is still what the report reads: the same warehouse, period,
contracts.yaml (SHA-256) and reviews, and the same commit of every day's tables and flags
of the period; the report is refused or not exactly as before (its refusal runs first,
on the warehouse as it is then). The pages found are only a guess: the report's one
tagged print is read back and printed again if any part moved (``render_pdf``). The
provenance section is left out of the page-finding print: it is the report's last part,
so its length moves no part's page. Anything that fails here is dropped silently and the
report does the work itself.
"""

import atexit
import contextlib
import dataclasses
import datetime as dt
import tempfile
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from callaudit import warehouse
from callaudit.contracts import load_contracts_hashed
from callaudit.flags import freshness
from callaudit.report import chromium
from callaudit.report.figures import Period, Report, gather
from callaudit.report.html import paged_html, unpainted
from callaudit.report.pdf import page_destinations
from callaudit.report.write import published_pages, report_folder
from callaudit.reviews import Reviews, load_reviews_for
from callaudit.settings import Settings
from callaudit.validation import results

#: Seconds the thread waits for the flag checks' findings before it gives up.
FINDINGS_TIMEOUT = 300.0


@dataclass(frozen=True)
class Inputs:
    """What a report's figures are computed from, as far as it can change in a run."""

    warehouse: str
    period: Period
    contracts_sha256: str
    reviews: Reviews
    commits: tuple[tuple[str, dt.date, str], ...]  # (group, day, commit) of the period


@dataclass
class Begun:
    """The work :func:`take` hands over: the figures, what they were computed from, and
    the page of each part (empty when they could not be found)."""

    inputs: Inputs
    report: Report
    pages: Mapping[str, int]


def inputs_now(
    warehouse_url: str, period: Period, contracts_sha256: str, reviews: Reviews
) -> Inputs:
    """The :class:`Inputs` of a report of ``period`` as the warehouse holds them now."""
    commits = tuple(
        (group, day, manifest.commit)
        for group in (warehouse.DAY_TABLES, freshness.FLAGS)
        for day, manifest in warehouse.day_manifests(
            warehouse_url, group, period.start, period.end
        ).items()
    )
    return Inputs(warehouse_url, period, contracts_sha256, reviews, commits)


class _Work:
    """One report begun in a thread."""

    def __init__(self, settings: Settings, period: Period, awaited: Iterable[str]) -> None:
        self.settings, self.period = settings, period
        self._since = results.recorded_count()
        self._awaited = tuple(awaited)
        self._cancelled = threading.Event()
        self._begun: Begun | None = None
        # A daemon: a process ending early (a failed run) does not wait for it; the work
        # is cancelled at exit (:func:`cancel_all`), which stops its Chromium.
        self._thread = threading.Thread(
            target=self._run, name="callaudit-early-report", daemon=True
        )
        self._thread.start()

    def _run(self) -> None:
        try:
            self._begun = self._begin()
        except Exception:  # the report does the work itself
            self._begun = None

    def _begin(self) -> Begun | None:
        settings, period = self.settings, self.period
        # A published report of the period already tells where the parts most likely land
        # (a nightly run): no page-finding print then. Otherwise Chromium starts now, so
        # it is ready when the figures are in and the findings are.
        published = published_pages(report_folder(settings.reports, period))
        with _page_printer(not published) as printer:
            contracts, contracts_sha256 = load_contracts_hashed(settings.contracts)
            reviews = load_reviews_for(settings)
            inputs = inputs_now(settings.warehouse, period, contracts_sha256, reviews)
            report = gather(settings.warehouse, contracts, period, reviews=reviews)
            if not results.wait_recorded(
                self._awaited, self._since, FINDINGS_TIMEOUT, self._cancelled
            ):
                return None
            days = warehouse.partition_days(settings.warehouse, "ingest_daily")
            validation = results.range_validation(
                settings.warehouse, [d for d in days if period.start <= d <= period.end]
            )
            pages: Mapping[str, int] = {}
            if printer is not None and not self._cancelled.is_set():
                shown = dataclasses.replace(report, validation=validation, provenance=None)
                html = unpainted(paged_html(shown)({}))
                with tempfile.TemporaryDirectory(prefix="callaudit-pdf-") as tmp:
                    path = Path(tmp) / "report.html"
                    path.write_text(html, encoding="utf-8")
                    pages = page_destinations(printer.print_pdf(path, tagged=False))
            return Begun(inputs, report, pages)

    def result(self) -> Begun | None:
        self._thread.join()
        return self._begun

    def cancel(self) -> None:
        self._cancelled.set()
        self._thread.join()


def _page_printer(wanted: bool) -> contextlib.AbstractContextManager:
    """A Chromium for the page-finding print, started now, or a null context when none
    is wanted or Chromium is not installed."""
    if not wanted or chromium.find_chromium() is None:
        return contextlib.nullcontext()
    return chromium.Printer()


#: Reports built from work begun here, in this process (a real count, read by tests).
taken = 0

_LOCK = threading.Lock()
_expected: dict[tuple[str, Period], tuple[Settings, dt.date, tuple[str, ...]]] = {}
_work: dict[tuple[str, Period], _Work] = {}
_at_exit: list[bool] = []


def expect(settings: Settings, period: Period, last_day: dt.date, awaited: Iterable[str]) -> None:
    """Announce that a report of ``period`` follows the run whose flags end on
    ``last_day``, and that its validation is final once ``awaited`` checks have recorded
    their findings."""
    with _LOCK:
        _expected[(settings.warehouse, period)] = (settings, last_day, tuple(awaited))
        if not _at_exit:
            _at_exit.append(True)
            atexit.register(cancel_all)


def flags_committed(warehouse_url: str, days: Iterable[dt.date]) -> None:
    """Called when a run has committed the flags of ``days``: begins each report
    announced for this warehouse whose run ends with these flags."""
    last = max(days, default=None)
    with _LOCK:
        for key, (settings, last_day, awaited) in list(_expected.items()):
            if key[0] == warehouse_url and last == last_day and key not in _work:
                del _expected[key]
                _work[key] = _Work(settings, key[1], awaited)


def take(warehouse_url: str, period: Period, inputs: Callable[[], Inputs]) -> Begun | None:
    """The report of ``period`` begun for this warehouse (waiting for it to finish), if
    its figures were computed from exactly the ``inputs()`` of now; None otherwise."""
    with _LOCK:
        work = _work.pop((warehouse_url, period), None)
        _expected.pop((warehouse_url, period), None)
    begun = work.result() if work is not None else None
    if begun is None or begun.inputs != inputs():
        return None
    global taken
    taken += 1
    return begun


def cancel_all() -> None:
    """Stop every report begun and not taken (a failed run, the process ending); its
    Chromium is stopped with it."""
    with _LOCK:
        works = list(_work.values())
        _work.clear()
        _expected.clear()
    for work in works:
        work.cancel()
