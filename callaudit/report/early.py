"""A report begun while its run still checks the flags: the figures gathered and the
pages found before the report's own run starts.

``callaudit backfill`` builds the year's report right after the run that computes the
year's flags. Once the flags are committed, the report's figures cannot change: only the
flag checks' findings are still to come, and they only enter the report's validation
section. So the CLI announces the report it will build (:func:`expect`), the flags asset
calls :func:`flags_committed`, and a thread then starts a Chromium and gathers the
figures while the flag checks run. When no report of the period is published yet (its
pages are the guess otherwise), it prints the report unpainted to find on which page each
part lands (callaudit.report.write): beside the flag checks, with their findings guessed
(they pass every day), when they are still running; the print is made again only when
the findings differ. It then waits for the findings and reads the period's validation.
The report takes that work (:func:`take`) instead of doing it again, and prints its
tagged PDF in the same Chromium: one Chromium a report, not two. A 0.01 year's report
step took 3.0-3.9 s instead of 4.0-4.6 s (2026-11-29, five interleaved pairs). Only the
CLI announces a report; a run anywhere else begins nothing.

Nothing is taken on trust. :func:`take` hands the figures over only when everything they
were computed from is still what the report reads: the same warehouse, period,
contracts.yaml (SHA-256) and reviews, and the same commit of every day's tables and flags
of the period; the report is refused or not exactly as before (its refusal runs first,
on the warehouse as it is then). The validation is taken only while every day's
validation_results is still the commit it was read from. The pages found are only a
guess: the report's one tagged print is read back and printed again if any part moved
(``render_pdf``). The provenance section is left out of the page-finding print: it is
the report's last part, so its length moves no part's page. Anything that fails here is
dropped silently and the report does the work itself.
"""

import atexit
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
from callaudit.report.figures import Period, Report, days_with_data, gather
from callaudit.report.html import paged_html, unpainted
from callaudit.report.pdf import page_destinations
from callaudit.report.write import published_pages, report_folder
from callaudit.reviews import Reviews, load_reviews_for
from callaudit.settings import Settings
from callaudit.validation import results
from callaudit.validation.results import VALIDATION_RESULTS, RangeValidation

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
    """The work :func:`take` hands over: the figures, what they were computed from, the
    page of each part (empty when they could not be found), and the period's validation
    once the flag checks had recorded, with the validation_results commits it read."""

    inputs: Inputs
    report: Report
    pages: Mapping[str, int]
    validation: RangeValidation | None = None
    validation_commits: tuple[tuple[dt.date, str], ...] = ()
    #: The Chromium started for the work, for the report's tagged print: the report
    #: stops it (as with a printer of its own), :meth:`discard` when it is not taken.
    printer: chromium.Printer | None = None

    def discard(self) -> None:
        """Stop the Chromium of work that is not taken."""
        if self.printer is not None:
            self.printer.close()

    def validation_now(self) -> RangeValidation | None:
        """The validation read, if validation_results is still at the commits it was
        read from on every day of the period (nothing recorded since); None otherwise."""
        if self.validation is None:
            return None
        current = validation_commits(self.inputs.warehouse, self.inputs.period)
        return self.validation if current == self.validation_commits else None


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


def validation_commits(warehouse_url: str, period: Period) -> tuple[tuple[dt.date, str], ...]:
    """The commit of validation_results on every day of ``period`` that has one."""
    days = warehouse.day_manifests(warehouse_url, VALIDATION_RESULTS.name, period.start, period.end)
    return tuple((day, manifest.commit) for day, manifest in days.items())


class _Work:
    """One report begun in a thread."""

    def __init__(self, settings: Settings, period: Period, awaited: Mapping[str, str]) -> None:
        self.settings, self.period = settings, period
        self._since = results.recorded_count()
        self._awaited = dict(awaited)
        self._cancelled = threading.Event()
        self._begun: Begun | None = None
        # A daemon: a process ending early (a failed run) does not wait for it; the work
        # is cancelled at exit (:func:`cancel_all`), which stops its Chromium.
        self._thread = threading.Thread(
            target=self._run, name="callaudit-early-report", daemon=True
        )
        self._thread.start()

    def _run(self) -> None:
        # Chromium starts now, idle until the figures are in; it prints the pages found
        # and is handed over with the work for the report's tagged print. Started at the
        # announcement (the run's start) it slowed the days by ~0.7 s; when the daily
        # checks began, it slowed them by ~0.45 s (2026-11-29): on 2 cores there is no
        # free moment for its 1.3 CPU-s.
        printer = chromium.Printer() if chromium.find_chromium() is not None else None
        try:
            self._begun = self._begin(printer)
        except Exception:  # the report does the work itself
            self._begun = None
        if self._begun is None or self._cancelled.is_set():
            self._begun = None
            if printer is not None:
                printer.close()
        else:
            self._begun.printer = printer

    def _begin(self, printer: chromium.Printer | None) -> Begun | None:
        settings, period = self.settings, self.period
        # A published report of the period already tells where the parts most likely land
        # (a nightly run): no page-finding print then.
        published = published_pages(report_folder(settings.reports, period))
        finder = printer if not published else None
        contracts, contracts_sha256 = load_contracts_hashed(settings.contracts)
        reviews = load_reviews_for(settings)
        inputs = inputs_now(settings.warehouse, period, contracts_sha256, reviews)
        report = gather(settings.warehouse, contracts, period, reviews=reviews)
        days = days_with_data(settings.warehouse, period)
        pages: Mapping[str, int] = {}
        guessed = None
        if finder is not None and not results.wait_recorded(self._awaited, self._since, 0):
            # The flag checks still run (on 2 cores they are mostly done by now): their
            # findings are guessed, so the print runs beside them.
            guessed = results.range_validation(
                settings.warehouse, days, assume_passed=self._awaited
            )
            pages = self._find_pages(finder, report, guessed)
        if not results.wait_recorded(self._awaited, self._since, FINDINGS_TIMEOUT, self._cancelled):
            return None
        commits = validation_commits(settings.warehouse, period)
        validation = results.range_validation(settings.warehouse, days)
        if validation_commits(settings.warehouse, period) != commits:
            return Begun(inputs, report, pages)  # recorded meanwhile: the report reads it
        if finder is not None and (guessed is None or validation != guessed):
            pages = self._find_pages(finder, report, validation)
        return Begun(inputs, report, pages, validation, commits)

    def _find_pages(
        self, printer: chromium.Printer, report: Report, validation: RangeValidation
    ) -> Mapping[str, int]:
        """The page of each part of ``report`` with ``validation``, from an unpainted
        print (none when cancelled)."""
        if self._cancelled.is_set():
            return {}
        shown = dataclasses.replace(report, validation=validation, provenance=None)
        html = unpainted(paged_html(shown)({}))
        with tempfile.TemporaryDirectory(prefix="callaudit-pdf-") as tmp:
            path = Path(tmp) / "report.html"
            path.write_text(html, encoding="utf-8")
            return page_destinations(printer.print_pdf(path, tagged=False))

    def result(self) -> Begun | None:
        self._thread.join()
        return self._begun

    def cancel(self) -> None:
        self._cancelled.set()
        self._thread.join()
        if self._begun is not None:
            self._begun.discard()


#: Reports built from work begun here, in this process (a real count, read by tests).
taken = 0

_LOCK = threading.Lock()


@dataclass
class _Announced:
    """A report announced (:func:`expect`) and not begun yet."""

    settings: Settings
    last_day: dt.date
    awaited: dict[str, str]


_expected: dict[tuple[str, Period], _Announced] = {}
_work: dict[tuple[str, Period], _Work] = {}
_at_exit: list[bool] = []


def expect(
    settings: Settings, period: Period, last_day: dt.date, awaited: Mapping[str, str]
) -> None:
    """Announce that a report of ``period`` follows the run whose flags end on
    ``last_day``, and that its validation is final once the ``awaited`` checks (check ->
    table) have recorded their findings."""
    with _LOCK:
        _expected[(settings.warehouse, period)] = _Announced(settings, last_day, dict(awaited))
        if not _at_exit:
            _at_exit.append(True)
            atexit.register(cancel_all)


def flags_committed(warehouse_url: str, days: Iterable[dt.date]) -> None:
    """Called when a run has committed the flags of ``days``: begins each report
    announced for this warehouse whose run ends with these flags."""
    last = max(days, default=None)
    with _LOCK:
        for key, announced in list(_expected.items()):
            if key[0] == warehouse_url and last == announced.last_day and key not in _work:
                del _expected[key]
                _work[key] = _Work(announced.settings, key[1], announced.awaited)


def begun(warehouse_url: str, period: Period) -> bool:
    """Whether a report of ``period`` was begun for this warehouse (:func:`take` then
    hands over its Chromium, if it started one, with the work)."""
    with _LOCK:
        return (warehouse_url, period) in _work


def take(warehouse_url: str, period: Period, inputs: Callable[[], Inputs]) -> Begun | None:
    """The report of ``period`` begun for this warehouse (waiting for it to finish), if
    its figures were computed from exactly the ``inputs()`` of now; None otherwise."""
    with _LOCK:
        work = _work.pop((warehouse_url, period), None)
        _expected.pop((warehouse_url, period), None)
    begun = work.result() if work is not None else None
    if begun is None:
        return None
    if begun.inputs != inputs():
        begun.discard()
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
