"""Running a Great Expectations 1.x suite on a small Polars frame.

GX is slow to import (seconds) and validates pandas, so it is imported only here, inside
the functions, the first time a suite runs; one ephemeral context serves the process.
Its usage analytics and progress bars are switched off. Only the small aggregate tables
are validated, a whole range of days in one batch: the frame carries a ``date`` column
(ISO text) and every unexpected row is traced back to its day through GX's
``unexpected_index_column_names``.

The GX part runs in this process's validation worker (``callaudit.validation.worker``):
:func:`warm_up` starts it, and its import, when a run starts its work; the results are
the same dataclasses, computed there.
"""

import datetime as dt
import json
import os
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Any

import polars as pl

from callaudit.schema import DATE_COLUMN, TABLES
from callaudit.validation import worker
from callaudit.validation.outcome import SAMPLE_SIZE, Finding
from callaudit.validation.suites import load_suite

_LOCK = threading.Lock()
_CONTEXT: dict[str, Any] = {}


@dataclass(frozen=True)
class ExpectationOutcome:
    """One expectation over the whole frame."""

    expectation: str
    column: str
    severity: str
    success: bool
    unexpected_count: int
    sample: tuple[str, ...]
    #: Unexpected rows per day; None for table-level expectations (column set, types).
    unexpected_by_day: dict[dt.date, int] | None
    sample_by_day: dict[dt.date, tuple[str, ...]]
    observed: str = ""
    error: str = ""


@dataclass(frozen=True)
class SuiteResult:
    """A suite run: ``success`` is false only when a critical expectation failed."""

    suite: str
    success: bool
    outcomes: tuple[ExpectationOutcome, ...]
    rows: int
    seconds: float

    def failed(self) -> list[ExpectationOutcome]:
        return [o for o in self.outcomes if not o.success]

    def findings(self, check: str, table: str, days: list[dt.date]) -> list[Finding]:
        """Split every outcome into one finding per day."""
        findings = []
        for o in self.outcomes:
            for day in days:
                if o.unexpected_by_day is None:  # not traceable to a day: holds for all
                    count, ok = o.unexpected_count, o.success
                    sample = () if ok else (o.sample or ((o.error or o.observed),))
                else:
                    count = o.unexpected_by_day.get(day, 0)
                    ok = count == 0 and not o.error
                    sample = o.sample_by_day.get(day, ()) or ((o.error,) if o.error else ())
                findings.append(
                    Finding(
                        day, check, table, o.expectation, o.column, o.severity, ok, count, sample
                    )
                )
        return findings


def _gx():
    """Import GX once, with analytics and progress bars off, and keep one context."""
    if "context" not in _CONTEXT:
        os.environ["GX_ANALYTICS_ENABLED"] = "false"
        import great_expectations as gx
        from great_expectations.data_context.types.base import ProgressBarsConfig

        context = gx.get_context(mode="ephemeral")
        context.variables.progress_bars = ProgressBarsConfig(
            globally=False, metric_calculations=False
        )
        source = context.data_sources.add_pandas("callaudit")
        _CONTEXT.update(gx=gx, context=context, source=source)
    return _CONTEXT["gx"], _CONTEXT["context"], _CONTEXT["source"]


def _load() -> None:
    """The worker's start: GX imported, its context built. (Running each suite once on a
    one-row frame here as well, to pay GX's first-validation cost while the days run, was
    measured and dropped: on 2 cores it slowed the days by 0.5-0.8 s and saved the checks
    0.1-0.2 s.)"""
    _gx()


def warm_up() -> None:
    """Start the validation worker, and GX's import in it, now: called where a run
    starts its work, so the import overlaps the days instead of delaying the checks."""
    worker.start(_load)


def submit(function: Any, *args: Any) -> worker.Pending | None:
    """``function(*args)`` started in the validation worker, its reply read later
    (worker.submit); None when validation runs in this process."""
    return worker.submit(function, *args, load=_load)


def _gx_suite(gx: Any, context: Any, spec: dict) -> Any:
    """The GX suite of ``spec``, added to the context once per process and spec: adding
    it again compares every expectation with the stored ones, 30-50 ms a suite each
    time a process validates it again (the runs of a chunked backfill, a code server),
    though a spec rarely changes. An edited spec is added again."""
    key = json.dumps(spec, sort_keys=True, default=str)
    suites = _CONTEXT.setdefault("suites", {})
    if suites.get(spec["name"], (None, None))[0] != key:
        suite = context.suites.add_or_update(
            gx.ExpectationSuite(
                name=spec["name"],
                expectations=[dict(e) for e in spec["expectations"]],
                meta=spec.get("meta") or {},
            )
        )
        suites[spec["name"]] = (key, suite)
    return suites[spec["name"]][1]


def _batch_definition(source, name: str):
    try:
        asset = source.get_asset(name)
    except LookupError:
        asset = source.add_dataframe_asset(name)
    try:
        return asset.get_batch_definition("whole")
    except (KeyError, LookupError, ValueError):
        return asset.add_batch_definition_whole_dataframe("whole")


def _columns_of(kwargs: dict) -> str:
    if "column" in kwargs:
        return str(kwargs["column"])
    if "column_list" in kwargs:
        return ", ".join(kwargs["column_list"])
    if "column_A" in kwargs:
        return f"{kwargs['column_A']}, {kwargs['column_B']}"
    return ""


def _text(value: Any) -> str:
    if isinstance(value, float) and value != value:
        return "null"
    if value is None:
        return "null"
    return str(value)


def _describe_row(row: dict) -> str:
    return ", ".join(f"{k}={_text(v)}" for k, v in row.items())


def _outcome(result: Any, has_dates: bool) -> ExpectationOutcome:
    config = result.expectation_config
    kwargs = config.kwargs
    info = result.exception_info or {}
    error = info.get("exception_message") or "" if info.get("raised_exception") else ""
    details = result.result or {}
    severity = str(getattr(config.severity, "value", config.severity) or "critical").lower()
    by_day: dict[dt.date, int] | None = None
    sample_by_day: dict[dt.date, tuple[str, ...]] = {}
    index_list = details.get("unexpected_index_list")
    if has_dates and index_list is not None:
        counts: Counter[dt.date] = Counter()
        samples: dict[dt.date, list[str]] = defaultdict(list)
        for row in index_list:
            row = dict(row)
            day = dt.date.fromisoformat(str(row.pop(DATE_COLUMN)))
            counts[day] += 1
            if len(samples[day]) < SAMPLE_SIZE:
                samples[day].append(_describe_row(row))
        by_day = dict(counts)
        sample_by_day = {d: tuple(s) for d, s in samples.items()}
    partial = details.get("partial_unexpected_list") or []
    observed = details.get("observed_value")
    return ExpectationOutcome(
        expectation=config.type,
        column=_columns_of(kwargs),
        severity=severity,
        success=bool(result.success),
        unexpected_count=int(details.get("unexpected_count") or 0),
        sample=tuple(_text(v) for v in partial[:SAMPLE_SIZE]),
        unexpected_by_day=by_day,
        sample_by_day=sample_by_day,
        observed="" if observed is None else _text(observed),
        error=error,
    )


def _keys(spec: dict, frame: pl.DataFrame) -> list[str]:
    """The grain columns of the suite's table (partner_id, app_id...) that the frame has."""
    table = TABLES.get(spec["name"])
    return [c for c in (table.grain if table else ()) if c in frame.columns and c != DATE_COLUMN]


def _validate(
    spec: dict,
    frame: pl.DataFrame,
    parameters: dict[str, Any] | None,
    index_columns: list[str],
) -> tuple[ExpectationOutcome, ...]:
    """The GX part of :func:`run_suite`, in the worker (or in process): ``index_columns``
    are the day and the table's key when the frame has dates, so an offending value
    says whose it is."""
    with _LOCK:
        gx, context, source = _gx()
        gx_suite = _gx_suite(gx, context, spec)
        batch = _batch_definition(source, spec["name"]).get_batch(
            batch_parameters={"dataframe": frame.to_pandas()}
        )
        if all_or_nothing(spec):
            quick = batch.validate(
                gx_suite,
                expectation_parameters=parameters or {},
                result_format={"result_format": "BOOLEAN_ONLY"},
            )
            passed = [_outcome(r, False) for r in quick.results]
            if all(o.success and not o.error for o in passed):
                return tuple(passed)
        result_format: dict[str, Any] = {"result_format": "COMPLETE"}
        if index_columns:
            result_format["unexpected_index_column_names"] = index_columns
        validation = batch.validate(
            gx_suite, expectation_parameters=parameters or {}, result_format=result_format
        )
    return tuple(_outcome(r, bool(index_columns)) for r in validation.results)


def all_or_nothing(spec: dict) -> bool:
    """Whether every expectation of ``spec`` fails on a single unexpected row (none has
    ``mostly``). Then a suite that passes has no unexpected row anywhere, and its
    findings (every day: met, 0 rows, no sample) are known from GX's BOOLEAN_ONLY result,
    which costs half the COMPLETE one (a 0.01 year's daily tables: 0.12 s a suite
    against 0.24); the offending rows, per day and with samples, are asked of GX (the
    COMPLETE result) only when something failed."""
    return not any("mostly" in (e.get("kwargs") or {}) for e in spec["expectations"])


def run_suite(
    suite: str | dict,
    frame: pl.DataFrame,
    *,
    parameters: dict[str, Any] | None = None,
) -> SuiteResult:
    """Validate ``frame`` against a suite (a name in ``expectations/`` or a suite dict).

    When the frame has a ``date`` column, unexpected rows are counted per day.
    """
    spec = load_suite(suite) if isinstance(suite, str) else suite
    has_dates = DATE_COLUMN in frame.columns
    if has_dates:
        frame = frame.with_columns(pl.col(DATE_COLUMN).cast(pl.String))
    index_columns = [DATE_COLUMN, *_keys(spec, frame)] if has_dates else []
    started = time.perf_counter()
    outcomes = worker.call(_validate, spec, frame, parameters, index_columns, load=_load)
    return SuiteResult(
        suite=spec["name"],
        success=not any(not o.success and o.severity == "critical" for o in outcomes),
        outcomes=outcomes,
        rows=frame.height,
        seconds=time.perf_counter() - started,
    )
