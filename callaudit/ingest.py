"""Reading one day of raw call logs: normalise, quarantine, de-duplicate.

One pass over a day's files yields the valid calls (every later table is computed from
them), the quarantined rows with their reason, and the counts that reconcile the two:
``rows_read = rows_valid + duplicates + quarantined``. Nothing is dropped silently.

A day too big to hold whole (``split_day_sliced``) is the same computation over
request_id hash slices, one at a time: every delivery of a call is in one slice, so each
slice is de-duplicated on its own, and the quarantine and counts equal one pass's.
"""

import datetime as dt
import glob
import io
import math
import os
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TypeVar

import polars as pl
import pyarrow.parquet as pq

from callaudit import exact_casts, storage
from callaudit.schema import (
    COUNT_COLUMNS,
    INGEST_DAILY,
    INTEGER_COLUMNS,
    KEY_COLUMNS,
    PLAUSIBLE_MAX,
    QUARANTINE,
    QUARANTINE_REASONS,
    RAW_SCHEMA,
)

FILE_INDEX = "_file"
REASON = "_reason"
USABLE = "_usable"
DETAIL = "_detail"
UNCASTABLE = "_uncastable"
BLANK_KEY = "_blank_key"
ROW_INDEX = "_callaudit_row_index"  # a raw file may hold any other name
_SLICE = "_callaudit_slice"

#: What a sliced day's caller makes of each slice's valid rows (its partial aggregates).
T = TypeVar("T")
_RAW_TEXT = "_raw_"

#: Seed of the request_id hash that assigns a big day's rows to slices. Part of how a
#: day is computed, not of its results: any seed gives the same tables.
_SLICE_SEED = 0x5EED

#: Key columns whose text may be empty or whitespace only: such a key is missing.
_TEXT_KEYS: tuple[str, ...] = ("request_id", "partner_id", "app_id", "endpoint")

#: Quarantine shows timestamps in ISO 8601 within these years; outside them as a count
#: of microseconds (formatting a far timestamp makes Polars panic).
_ISO_RANGE = (
    dt.datetime(1, 1, 1, tzinfo=dt.UTC),
    dt.datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=dt.UTC),
)
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def _utc_literal(moment: dt.datetime) -> pl.Expr:
    """``moment`` as a Datetime(us, UTC) literal, from its microseconds since 1970:
    Polars converting an aware datetime took 0.15 ms each, this 0.014."""
    micros = (moment - _EPOCH) // dt.timedelta(microseconds=1)
    return pl.lit(micros, dtype=pl.Int64).cast(pl.Datetime("us", "UTC"))


_ISO_BOUNDS = tuple(_utc_literal(moment) for moment in _ISO_RANGE)

#: What a value that did not convert should have been, for the quarantine detail.
_EXPECTED = {
    "request_id": "an exact uint64",
    "ts": "a timestamp",
    "status": "an exact int32",
    **{name: "an exact int64" for name in COUNT_COLUMNS},
    **{name: "text" for name in ("partner_id", "app_id", "endpoint", "client_ip")},
}

#: Longest received value quoted in a quarantine detail; the row keeps it whole.
_DETAIL_VALUE_CHARS = 64


#: Key columns held as categoricals of the day's own categories (see ``_DayTypes``).
_CATEGORICAL_KEYS: tuple[str, ...] = ("partner_id", "app_id", "endpoint")


@dataclass(frozen=True)
class _DayTypes:
    """The working types of one day's normalised rows.

    Repeated strings are kept as categoricals while a day is processed: grouping and
    distinct counts on them are several times faster than on plain strings. The key
    columns get categories of their own, so the day's distinct keys can be read off them
    after one pass: checking every row's key for blankness instead cost ~20 ms per
    column on 2.8 M rows. ``blank_ids`` are the categories that are empty or whitespace,
    known only after a first pass that found some.
    """

    id_type: pl.DataType
    keys: pl.Categories
    blank_ids: tuple[int, ...] = ()

    @property
    def working(self) -> dict[str, pl.DataType]:
        return {
            **{name: pl.Categorical(self.keys) for name in _CATEGORICAL_KEYS},
            "client_ip": pl.Categorical(),
            "request_id": self.id_type,
        }

    def blank_categories(self) -> tuple[int, ...]:
        """Physical ids of the day's key categories that are empty or whitespace only."""
        categories = self.keys.to_series()
        # Python's whitespace includes all Polars strips (and U+001C-U+001F besides), so
        # when Python finds no blank category there is none: the day's few hundred looked
        # at in Python, no query (0.2 thread-ms a day).
        if not any(not text.strip() for text in categories.to_list() if text is not None):
            return ()
        blank = (categories.str.strip_chars() == "").fill_null(False)
        return tuple(int(i) for i in blank.arg_true())


class DayReadError(RuntimeError):
    """A day's files failed together though each reads alone; names the folder."""


class CorruptFileError(RuntimeError):
    """A raw file cannot be read; the day fails unless the run skips such files."""

    def __init__(self, url: str, reason: str):
        reason = " ".join(reason.split())  # one line: library errors span several
        super().__init__(f"unreadable raw file {url}: {reason}")
        self.url = url
        self.reason = reason


def _first_value(url: str, column: str) -> str:
    """The first non-null value of a column, as text, to quote in an error (best effort)."""
    try:
        source = io.BytesIO(storage.read_bytes(url)) if storage.is_remote(url) else url
        values = pq.ParquetFile(source).read_row_group(0, columns=[column]).column(0)
        value = next((v for v in values.to_pylist() if v is not None), None)
    except Exception:
        return ""
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _unusable_column(url: str, schema: dict[str, str]) -> str | None:
    """Why a file cannot hold calls at all (a list, struct or map where a raw column
    belongs), naming the column, its type and a value; None when it can."""
    for name in RAW_SCHEMA:
        arrow_type = schema.get(name)
        if arrow_type is not None and exact_casts.is_nested(arrow_type):
            sample = _first_value(url, name)
            return f"column {name} is {arrow_type}, not {_EXPECTED[name]}" + (
                f" (first value {sample})" if sample else ""
            )
    return None


@dataclass
class DayIngest:
    """What one day of the archive became."""

    day: dt.date
    valid: pl.DataFrame
    quarantine: pl.DataFrame
    ingest: pl.DataFrame
    files: list[str] = field(default_factory=list)
    skipped_files: list[str] = field(default_factory=list)
    ignored_files: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    #: request_id slices the day was computed in (1: whole, in one pass)
    slices: int = 1

    @property
    def stats(self) -> dict:
        return self.ingest.row(0, named=True)


def _conversion(name: str, arrow_type: str, types: _DayTypes) -> exact_casts.Conversion:
    dtype = RAW_SCHEMA[name]
    if name == "request_id":
        return exact_casts.to_request_id(arrow_type, types.id_type)
    if name == "ts":
        return exact_casts.to_timestamp(arrow_type, dtype)
    if name in INTEGER_COLUMNS:
        return exact_casts.to_integer(name, arrow_type, dtype)
    return exact_casts.to_text(name, arrow_type, types.working.get(name, dtype))


def _normalise(
    frame: pl.LazyFrame,
    schema: dict[str, str],
    index: int,
    types: _DayTypes,
    keep_row: bool = False,
    *,
    known: dict[tuple[tuple[str, str], ...], list[pl.Expr]] | None = None,
) -> pl.LazyFrame:
    """Cast one file's columns to the raw contract exactly, keeping the text of values
    that might not convert.

    ``_uncastable`` lists the fields whose value was present but did not convert exactly;
    ``_blank_key`` is true where a text key is empty or whitespace only. ``known``: the
    expressions already built for a schema, reused for the day's other files with that
    schema (building them took ~0.15 thread-ms a file).
    """
    known = {} if known is None else known
    key = tuple(sorted(schema.items()))
    if key not in known:
        known[key] = _normal_exprs(schema, types)
    ahead = [pl.lit(index, dtype=pl.UInt16).alias(FILE_INDEX)]
    if keep_row:
        ahead.append(pl.col(ROW_INDEX))
    return frame.select([*ahead, *known[key]])


def _normal_exprs(schema: dict[str, str], types: _DayTypes) -> list[pl.Expr]:
    """``_normalise``'s expressions after the file index (and row index)."""
    exprs: list[pl.Expr] = []
    failed_casts: list[pl.Expr] = []
    blank_keys: list[pl.Expr] = []
    for name, dtype in RAW_SCHEMA.items():
        arrow_type = schema.get(name)
        if arrow_type is None:
            exprs.append(pl.lit(None, dtype=types.working.get(name, dtype)).alias(name))
            continue
        conversion = _conversion(name, arrow_type, types)
        exprs.append(conversion.typed.alias(name))
        source = pl.col(name)
        if name in _CATEGORICAL_KEYS:
            if types.blank_ids:
                blank_keys.append(conversion.typed.to_physical().is_in(types.blank_ids))
        elif name in ("request_id", "ts") and exact_casts.is_text(arrow_type):
            blank = source.cast(pl.String).str.strip_chars() == ""
            if name == "ts":  # an empty ts is missing (null_key), not uncastable
                source = pl.when(~blank).then(source)
            else:
                blank_keys.append(blank)
        if not conversion.lossless:
            exprs.append(exact_casts.raw_text(name, arrow_type).alias(_RAW_TEXT + name))
            failed_casts.append(
                pl.when(source.is_not_null() & conversion.typed.is_null()).then(pl.lit(name))
            )
    marker = (
        pl.concat_str(failed_casts, separator=",", ignore_nulls=True).replace("", None)
        if failed_casts
        else pl.lit(None, dtype=pl.String)
    )
    blank_key = pl.any_horizontal(blank_keys).fill_null(False) if blank_keys else pl.lit(False)
    return [*exprs, marker.alias(UNCASTABLE), blank_key.alias(BLANK_KEY)]


def _usable_expr(day: dt.date) -> pl.Expr:
    """True for a row every later table may use: cheap, evaluated on every row."""
    start = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
    end = start + dt.timedelta(days=1)
    return (
        pl.all_horizontal([pl.col(k).is_not_null() for k in KEY_COLUMNS])
        & ~pl.col(BLANK_KEY)
        & pl.col(UNCASTABLE).is_null()
        & pl.all_horizontal(
            [pl.col(c).is_between(0, PLAUSIBLE_MAX[c]).fill_null(True) for c in COUNT_COLUMNS]
        )
        & (pl.col("ts") >= _utc_literal(start))
        & (pl.col("ts") < _utc_literal(end))
    )


def _listed(parts: list[pl.Expr], separator: str = ", ") -> pl.Expr:
    if not parts:
        return pl.lit(None, dtype=pl.String)
    return pl.concat_str(parts, separator=separator, ignore_nulls=True)


def _quoted(text: pl.Expr) -> pl.Expr:
    short = pl.when(text.str.len_chars() > _DETAIL_VALUE_CHARS).then(
        text.str.slice(0, _DETAIL_VALUE_CHARS) + pl.lit("...")
    )
    return pl.lit("'") + pl.coalesce(short, text) + pl.lit("'")


def _uncastable(name: str) -> pl.Expr:
    return pl.col(UNCASTABLE).str.split(",").list.contains(name).fill_null(False)


def _blank(name: str) -> pl.Expr:
    return (pl.col(name).cast(pl.String).str.strip_chars() == "").fill_null(False)


def _key_problems(
    columns: list[str], uncastable: bool = True
) -> tuple[dict[str, pl.Expr], dict[str, pl.Expr]]:
    """Per key column, true where it is missing, and per text key (a text ts
    included) true where it is empty or whitespace only. Without ``uncastable`` the
    rows have no field that failed to convert (every ``_uncastable`` null)."""
    missing = {
        k: pl.col(k).is_null() & ~_uncastable(k) if uncastable else pl.col(k).is_null()
        for k in KEY_COLUMNS
    }
    empty = {k: _blank(k) for k in _TEXT_KEYS}
    if _RAW_TEXT + "ts" in columns:  # a text ts that was empty
        empty["ts"] = _blank(_RAW_TEXT + "ts")
    return missing, empty


def _reason_expr(rejected: pl.DataFrame) -> pl.Expr:
    """The first quarantine reason a row of ``rejected`` matches.

    Only evaluated on the rows that failed ``_usable_expr``: rejected rows are few, but
    the expression is costly to plan (0.6 ms a call), so the checks that cannot hold on
    these rows are left out: no field failed to convert (the usual day), a request_id
    that is a number is never blank.
    """
    uncastable = rejected.get_column(UNCASTABLE).null_count() < rejected.height
    missing, empty = _key_problems(rejected.columns, uncastable=uncastable)
    if not isinstance(rejected.schema["request_id"], pl.String):
        del empty["request_id"]
    any_null_key = pl.any_horizontal([*missing.values(), *empty.values()])
    any_negative = pl.any_horizontal([(pl.col(c) < 0).fill_null(False) for c in COUNT_COLUMNS])
    any_implausible = pl.any_horizontal(
        [(pl.col(c) > PLAUSIBLE_MAX[c]).fill_null(False) for c in COUNT_COLUMNS]
    )
    reason = pl.when(any_null_key).then(pl.lit("null_key"))
    if uncastable:
        reason = reason.when(pl.col(UNCASTABLE).is_not_null()).then(pl.lit("uncastable_value"))
    return (
        reason.when(any_negative)
        .then(pl.lit("negative_count"))
        .when(any_implausible)
        .then(pl.lit("implausible_count"))
        .otherwise(pl.lit("ts_outside_day"))
    )


def _detail_expr(day: dt.date, columns: list[str], reasons: set[str]) -> pl.Expr:
    """The fields (and values) behind each row's reason (column ``REASON``), built for
    the ``reasons`` the rows have only: the strings are costly to plan, ~0.5 ms a call
    for all five reasons however few the rows, and most days reject a few rows for one
    reason. A row's detail is its reason's whatever other reasons are built."""

    def null_key() -> pl.Expr:
        missing, empty = _key_problems(columns)

        def key_problem(name: str) -> pl.Expr:
            if name not in empty:
                return pl.when(missing[name]).then(pl.lit(f"null {name}"))
            return (
                pl.when(empty[name])
                .then(pl.lit(f"empty {name}"))
                .when(missing[name])
                .then(pl.lit(f"null {name}"))
            )

        return _listed([key_problem(k) for k in KEY_COLUMNS])

    def uncastable_value() -> pl.Expr:
        # A field can only be uncastable in a file that kept its raw text.
        return _listed(
            [
                pl.when(_uncastable(name)).then(
                    pl.lit(f"{name}=")
                    + _quoted(pl.col(_RAW_TEXT + name))
                    + pl.lit(f" is not {_EXPECTED[name]}")
                )
                for name in RAW_SCHEMA
                if _RAW_TEXT + name in columns
            ],
            separator="; ",
        )

    def negative_count() -> pl.Expr:
        negative = _listed([pl.when(pl.col(c) < 0).then(pl.lit(c)) for c in COUNT_COLUMNS], ",")
        return pl.lit("negative ") + negative

    def implausible_count() -> pl.Expr:
        return _listed(
            [
                pl.when(pl.col(c) > PLAUSIBLE_MAX[c]).then(
                    pl.format("{}={} is above {} per call", pl.lit(c), pl.col(c), PLAUSIBLE_MAX[c])
                )
                for c in COUNT_COLUMNS
            ],
            separator="; ",
        )

    def ts_outside_day() -> pl.Expr:
        return pl.lit(f"ts not on {day.isoformat()}")

    details = {
        "null_key": null_key,
        "uncastable_value": uncastable_value,
        "negative_count": negative_count,
        "implausible_count": implausible_count,
        "ts_outside_day": ts_outside_day,
    }
    present = [r for r in QUARANTINE_REASONS if r in reasons]
    if not present:
        return pl.lit(None, dtype=pl.String)
    detail = details[present[-1]]()
    for reason in reversed(present[:-1]):
        detail = pl.when(pl.col(REASON) == reason).then(details[reason]()).otherwise(detail)
    return detail


def _check_readable(url: str) -> str | None:
    """Why a file cannot be read in full, or None when it can."""
    try:  # both decoders: the scan uses Polars', which may refuse what Arrow reads
        if storage.is_remote(url):
            storage.read_parquet(url)
        else:
            pq.ParquetFile(url).read()
            pl.read_parquet(url)
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


def _scan(url: str, row_index: bool = False) -> pl.LazyFrame:
    if storage.is_remote(url):
        frame = storage.read_parquet(url).lazy()
        return frame.with_row_index(ROW_INDEX) if row_index else frame
    return pl.scan_parquet(url, row_index_name=ROW_INDEX if row_index else None)


@dataclass
class _Split:
    valid: pl.DataFrame
    rejected: pl.DataFrame
    usable: int
    #: request ids delivered more than once with different content
    conflicting: int = 0
    #: valid rows when they were handed on slice by slice (``valid`` is then empty)
    handed_on: int | None = None

    @property
    def valid_rows(self) -> int:
        return self.valid.height if self.handed_on is None else self.handed_on


def _collect_split(rows: pl.LazyFrame, day: dt.date) -> _Split:
    """Valid (usable, first delivery) rows, rejected rows with their reason, the usable
    count and the re-deliveries whose content differs.

    The normalised rows are collected once and split in memory. Three plans over the
    lazy rows in one ``collect_all`` read and decoded every file twice (Polars shared
    the usable rows between two of them, not the scan): ``split_day`` at scale 0.01
    took 20-25 thread-ms a day that way, 14-16 this way (a full-size day: 1.6-1.9
    thread-s for the whole day before, 1.3-1.5 after)."""
    frame = rows.collect()
    usable_mask = frame.get_column(USABLE)
    every_usable = bool(usable_mask.all())
    if every_usable:
        rejected = pl.DataFrame(schema={**frame.schema, REASON: pl.String(), DETAIL: pl.String()})
    else:
        # Eager (Polars' in-memory engine): the same expressions on a filtered frame's
        # lazy plan, run by its streaming engine, panicked in Polars 2.1 (binview index
        # assertion, tests/core/test_sliced_day.py's mixed day).
        rejected = frame.filter(~usable_mask)
        rejected = rejected.with_columns(_reason_expr(rejected).alias(REASON))
        reasons = set(rejected.get_column(REASON).to_list())
        detail = _detail_expr(day, frame.columns, reasons)
        rejected = rejected.with_columns(detail.alias(DETAIL))
    # Most rows are usable and most calls delivered once: no copy then. The columns
    # taken as they are, not by a select (a query, 0.2 ms).
    usable = pl.DataFrame([frame.get_column(name) for name in RAW_SCHEMA])
    if not every_usable:
        usable = usable.filter(usable_mask)
    del frame
    # The shipper is at-least-once: keep the first delivery of each request_id, in file
    # name order (files are read sorted by name), then row order within a file.
    # The valid rows in one chunk (the files' were ~10, a full-size day's aggregates
    # took 0.37 thread-s on them against 0.31; rechunking a small day costs 0.06 ms).
    first = usable.get_column("request_id").is_first_distinct()
    if first.all():
        return _Split(usable.rechunk(), rejected, usable.height)
    valid = usable.filter(first).rechunk()
    rows = usable.lazy()
    later = rows.filter(~pl.lit(first))
    conflicting = _conflicting(rows, later).collect(engine="in-memory")
    return _Split(valid, rejected, usable.height, conflicting.item())


def _conflicting(usable: pl.LazyFrame, later: pl.LazyFrame) -> pl.LazyFrame:
    """How many request ids have later deliveries (``later``) that differ from the kept
    one in any field: a re-delivery should be the same call again. Some delivery differs
    from the first exactly when the id's deliveries are not all one row (nulls equal,
    as ``ne_missing`` compares them), so the ids with more than one distinct row."""
    return (
        usable.join(later.select("request_id").unique(), on="request_id", how="semi")
        .unique()
        .group_by("request_id")
        .len()
        .select((pl.col("len") > 1).sum().cast(pl.Int64))
    )


@dataclass
class DaySources:
    """A day folder's files: all of them, the readable ones with their schemas, those
    skipped as unreadable and the entries left out, and the day's working types."""

    folder: str
    files: list[str]
    readable: list[tuple[str, dict[str, str]]]
    skipped: list[str]
    ignored: list[str]
    types: _DayTypes
    #: rows of the readable files, from their footers: what a day costs to hold whole
    raw_rows: int


def open_day(archive: str, day: dt.date, *, skip_corrupt_files: bool = False) -> DaySources:
    """List a day's files and read their footers (schemas and row counts), no rows."""
    folder = storage.day_folder(archive, day)
    listed, ignored = storage.scan_folder(folder)
    files = [f.url for f in listed]
    readable: list[tuple[str, dict[str, str]]] = []
    skipped: list[str] = []
    raw_rows = 0
    for url in files:
        try:
            schema, rows = storage.parquet_footer(url)
        except Exception as exc:
            if not skip_corrupt_files:
                raise CorruptFileError(url, f"{type(exc).__name__}: {exc}") from exc
            skipped.append(url)
            continue
        if unusable := _unusable_column(url, schema):
            if not skip_corrupt_files:
                raise CorruptFileError(url, unusable)
            skipped.append(url)
            continue
        readable.append((url, schema))
        raw_rows += rows

    # Ids are compared as numbers when every file holds numbers (exact floats included),
    # as text otherwise.
    numeric_ids = all(
        exact_casts.is_integer(t) or exact_casts.is_float(t) or exact_casts.is_decimal(t)
        for _, s in readable
        if (t := s.get("request_id")) is not None
    )
    types = _DayTypes(pl.UInt64() if numeric_ids else pl.String(), pl.Categories.random())
    return DaySources(folder, files, readable, skipped, ignored, types, raw_rows)


def _slice_of(schema: dict[str, str], types: _DayTypes, slices: int) -> pl.Expr:
    """The slice (0 to ``slices`` - 1) of a raw row: a hash of its normalised
    request_id, so every delivery of a call lands in the same slice and each slice is
    de-duplicated on its own. Rows without an id (quarantined whatever else they hold)
    go to slice 0."""
    arrow_type = schema.get("request_id")
    if arrow_type is None:
        return pl.lit(0, pl.UInt64)
    typed = _conversion("request_id", arrow_type, types).typed
    return (
        pl.when(typed.is_null())
        .then(pl.lit(0, pl.UInt64))
        .otherwise(typed.hash(_SLICE_SEED) % slices)
    )


def _spill(
    sources: list[tuple[str, dict[str, str]]],
    files: list[str],
    types: _DayTypes,
    slices: int,
    folder: str,
) -> None:
    """Read each file once, streaming, and write its raw rows (with their row index)
    to one Arrow IPC file per slice under ``folder/<file index>/``. Reading the Parquet
    files again for every slice, filtered, decompressed every page each time: the day
    ten times full size took twice as long as held whole."""
    for url, schema in sources:
        index = files.index(url)
        columns = [c for c in RAW_SCHEMA if c in schema]
        scan = _scan(url, row_index=True).select(ROW_INDEX, *columns)
        target = os.path.join(folder, str(index))
        scan.with_columns(_slice_of(schema, types, slices).alias(_SLICE)).sink_ipc(
            pl.PartitionBy(target, key=_SLICE, include_key=False),
            mkdir=True,
            compression="lz4",
        )
        # The partitioned sink's layout is Polars' own: prove no row was left behind.
        spilled = sum(
            pl.scan_ipc(paths).select(pl.len()).collect().item()
            for k in range(slices)
            if (paths := _spilled_paths(folder, index, k))
        )
        expected = scan.select(pl.len()).collect().item()
        if spilled != expected:
            raise RuntimeError(f"slicing {url}: {spilled} of its {expected} rows found in {target}")


def _spilled_paths(folder: str, index: int, k: int) -> list[str]:
    return sorted(glob.glob(os.path.join(folder, str(index), f"{_SLICE}={k}", "*.ipc")))


def _build(
    sources: list[tuple[str, dict[str, str]]],
    files: list[str],
    day: dt.date,
    types: _DayTypes,
    spilled: tuple[str, int] | None = None,
) -> pl.LazyFrame:
    """The normalised rows of ``sources``, with the usable mark; with ``spilled``
    (folder, slice) those of one slice written by ``_spill``, keeping each row's index
    in its file to restore the order."""
    frames = []
    known: dict[tuple[tuple[str, str], ...], list[pl.Expr]] = {}
    for url, schema in sources:
        index = files.index(url)
        if spilled is None:
            scan = _scan(url)
        elif paths := _spilled_paths(spilled[0], index, spilled[1]):
            scan = pl.scan_ipc(paths)
        else:
            continue  # no row of this file is in the slice
        frames.append(_normalise(scan, schema, index, types, spilled is not None, known=known))
    if not frames:
        empty = {
            FILE_INDEX: pl.UInt16(),
            **RAW_SCHEMA,
            **types.working,
            UNCASTABLE: pl.String(),
            BLANK_KEY: pl.Boolean(),
        }
        lazy = pl.LazyFrame(schema=empty)
    else:
        lazy = pl.concat(frames, how="diagonal_relaxed")
    return lazy.with_columns(_usable_expr(day).fill_null(False).alias(USABLE))


def _naming_broken_files(
    sources: DaySources,
    skip_corrupt_files: bool,
    compute: Callable[[list[tuple[str, dict[str, str]]]], _Split],
) -> _Split:
    """Run ``compute`` on the readable files; when it fails, find which file is damaged
    (a damaged data page only shows when decoded) and fail naming it, or skip it and
    compute again without it."""
    try:
        return compute(sources.readable)
    except Exception as exc:
        broken = [(url, why) for url, _ in sources.readable if (why := _check_readable(url))]
        if not broken:
            first = next((line for line in str(exc).splitlines() if line.strip()), "")
            raise DayReadError(
                f"reading the {len(sources.readable)} raw file(s) in {sources.folder} "
                f"failed, each one readable alone: {type(exc).__name__}: {first.strip()}"
            ) from exc
        if not skip_corrupt_files:
            url, why = broken[0]
            raise CorruptFileError(url, why) from exc
        sources.skipped.extend(url for url, _ in broken)
        bad = {url for url, _ in broken}
        return compute([(u, s) for u, s in sources.readable if u not in bad])


def split_day(sources: DaySources, day: dt.date, *, skip_corrupt_files: bool = False) -> _Split:
    """The whole day in one pass: its valid rows, rejected rows and counts."""
    types = sources.types

    def split_rows(readable: list[tuple[str, dict[str, str]]]) -> _Split:
        split = _collect_split(_build(readable, sources.files, day, types), day)
        # Blank partner, app or endpoint ids are rare: look for them among the day's
        # distinct keys, and only when there are some split again, marking their rows.
        if blank_ids := types.blank_categories():
            again = replace(types, blank_ids=blank_ids)
            split = _collect_split(_build(readable, sources.files, day, again), day)
        return split

    return _naming_broken_files(sources, skip_corrupt_files, split_rows)


def split_day_sliced(
    sources: DaySources,
    day: dt.date,
    slices: int,
    on_valid: Callable[[pl.DataFrame], T],
    *,
    skip_corrupt_files: bool = False,
) -> tuple[_Split, list[T]]:
    """The day in ``slices`` passes, each over the rows of one request_id hash slice:
    the files are read once into per-slice Arrow IPC files in a temporary folder
    (``_spill``), then each slice is read back and its valid rows go to ``on_valid`` and
    are let go, so memory holds one slice. Returns the day's split (rejected rows in file and row order, as one pass
    gives them; ``valid`` empty) and what ``on_valid`` returned per slice, in order.

    A blank key found in one slice marks rows of any slice, so a slice computed before
    its category was known is computed again (blank keys are rare).
    """

    def compute(readable: list[tuple[str, dict[str, str]]]) -> _Split:
        with tempfile.TemporaryDirectory(prefix="callaudit-slices-") as folder:
            _spill(readable, sources.files, sources.types, slices, folder)
            return in_slices(readable, folder)

    def in_slices(readable: list[tuple[str, dict[str, str]]], folder: str) -> _Split:
        types = sources.types
        done: dict[int, tuple[tuple[int, ...], _Split, T]] = {}
        while True:
            todo = [k for k in range(slices) if k not in done or done[k][0] != types.blank_ids]
            if not todo:
                break
            k = todo[0]
            used = types.blank_ids
            rows = _build(readable, sources.files, day, types, (folder, k))
            split = _collect_split(rows, day)
            if (blanks := types.blank_categories()) != used:
                types = replace(types, blank_ids=blanks)
                continue
            handed = on_valid(split.valid)
            kept = replace(split, valid=split.valid.clear(), handed_on=split.valid.height)
            done[k] = (used, kept, handed)
        parts = [done[k][1] for k in range(slices)]
        rejected = (
            pl.concat([p.rejected for p in parts], how="diagonal_relaxed")
            .sort(FILE_INDEX, ROW_INDEX)
            .drop(ROW_INDEX)
        )
        outputs.extend(done[k][2] for k in range(slices))
        return _Split(
            valid=parts[0].valid,
            rejected=rejected,
            usable=sum(p.usable for p in parts),
            conflicting=sum(p.conflicting for p in parts),
            handed_on=sum(p.valid_rows for p in parts),
        )

    outputs: list[T] = []
    split = _naming_broken_files(sources, skip_corrupt_files, compute)
    return split, outputs


def slices_for(raw_rows: int, slice_rows: int | None) -> int:
    """How many slices a day of ``raw_rows`` is computed in: one (the whole day in one
    pass, fastest) up to ``slice_rows``, else enough that none holds more."""
    if not slice_rows or raw_rows <= slice_rows:
        return 1
    return math.ceil(raw_rows / slice_rows)


def _quarantine_frame(rejected: pl.DataFrame, files: list[str]) -> pl.DataFrame:
    """Rejected rows as text, so uncastable values are kept exactly as received."""
    if not rejected.height:
        return QUARANTINE.empty()
    text_cols = []
    for name in RAW_SCHEMA:
        if name == "ts":
            ts = pl.col("ts")
            iso = ts.is_between(*_ISO_BOUNDS)
            typed_text = pl.coalesce(
                pl.when(iso).then(ts).dt.to_string("%Y-%m-%dT%H:%M:%S%.6fZ"),
                ts.dt.epoch("us").cast(pl.String) + pl.lit(" us since 1970-01-01"),
            )
        else:
            typed_text = pl.col(name).cast(pl.String)
        raw = _RAW_TEXT + name
        if raw in rejected.columns:
            typed_text = pl.coalesce(pl.col(raw).cast(pl.String), typed_text)
        text_cols.append(typed_text.alias(name))
    return rejected.select(
        *text_cols,
        pl.col(REASON).alias("reason"),
        pl.col(DETAIL).alias("detail"),
        pl.col(FILE_INDEX)
        .replace_strict(list(range(len(files))), files, return_dtype=pl.String, default=None)
        .alias("source_file"),
    ).pipe(QUARANTINE.conformed)


def _day_ingest(day: dt.date, sources: DaySources, split: _Split, started: float) -> DayIngest:
    """The day's ingest bookkeeping and quarantine from its split."""
    read_done = time.perf_counter()
    files, skipped, ignored = sources.files, sources.skipped, sources.ignored
    rejected = split.rejected
    duplicates = split.usable - split.valid_rows
    # Counted in Python and built in the table's types: a group_by and a conform were two
    # queries (~0.5 thread-ms) for one row.
    reason_counts = Counter(rejected.get_column(REASON).to_list())
    row = {
        "files": len(files) - len(skipped),
        "rows_read": split.usable + rejected.height,
        "rows_valid": split.valid_rows,
        "duplicates": duplicates,
        "quarantined": rejected.height,
        **{f"quarantined_{r}": reason_counts.get(r, 0) for r in QUARANTINE_REASONS},
        "skipped_files": len(skipped),
        "skipped_file_names": "\n".join(skipped),
        "conflicting_duplicates": split.conflicting,
        "ignored_files": len(ignored),
        "ignored_file_names": "\n".join(ignored),
    }
    ingest = pl.DataFrame({name: [row[name]] for name in row}, schema=INGEST_DAILY.schema)
    return DayIngest(
        day=day,
        valid=split.valid,
        quarantine=_quarantine_frame(rejected, files),
        ingest=ingest,
        files=files,
        skipped_files=skipped,
        ignored_files=ignored,
        seconds={"read": read_done - started, "dedup": time.perf_counter() - read_done},
    )


def ingest_day(archive: str, day: dt.date, *, skip_corrupt_files: bool = False) -> DayIngest:
    """Read a day and split it into valid, de-duplicated calls and quarantined rows."""
    sources = open_day(archive, day, skip_corrupt_files=skip_corrupt_files)
    return ingest_sources(sources, day, skip_corrupt_files=skip_corrupt_files)


def ingest_sources(
    sources: DaySources, day: dt.date, *, skip_corrupt_files: bool = False
) -> DayIngest:
    """``ingest_day`` on a day folder already listed by ``open_day``."""
    started = time.perf_counter()
    split = split_day(sources, day, skip_corrupt_files=skip_corrupt_files)
    return _day_ingest(day, sources, split, started)


def ingest_day_sliced(
    sources: DaySources,
    day: dt.date,
    slices: int,
    on_valid: Callable[[pl.DataFrame], T],
    *,
    skip_corrupt_files: bool = False,
) -> tuple[DayIngest, list[T]]:
    """``ingest_day`` for a day too big to hold whole: the valid rows of each request_id
    slice go to ``on_valid`` (see ``split_day_sliced``) and ``valid`` stays empty; the
    quarantine and bookkeeping are the day's, equal to one pass's. Returns them and
    ``on_valid``'s results, one per slice."""
    started = time.perf_counter()
    split, outputs = split_day_sliced(
        sources, day, slices, on_valid, skip_corrupt_files=skip_corrupt_files
    )
    ingested = _day_ingest(day, sources, split, started)
    ingested.slices = slices
    return ingested, outputs
