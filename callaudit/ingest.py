"""Reading one day of raw call logs: normalise, quarantine, de-duplicate.

One pass over a day's files yields the valid calls (every later table is computed from
them), the quarantined rows with their reason, and the counts that reconcile the two:
``rows_read = rows_valid + duplicates + quarantined``. Nothing is dropped silently.
"""

import datetime as dt
import time
from dataclasses import dataclass, field

import polars as pl
import pyarrow.parquet as pq

from callaudit import storage
from callaudit.schema import (
    COUNT_COLUMNS,
    INGEST_DAILY,
    INTEGER_COLUMNS,
    KEY_COLUMNS,
    QUARANTINE,
    QUARANTINE_REASONS,
    RAW_SCHEMA,
)

FILE_INDEX = "_file"
REASON = "_reason"
USABLE = "_usable"
DETAIL = "_detail"
_RAW_TEXT = "_raw_"


#: Repeated strings are kept as categoricals while a day is processed: grouping and
#: distinct counts on them are several times faster than on plain strings.
_WORKING_TYPES: dict[str, pl.DataType] = {
    name: pl.Categorical() for name in ("partner_id", "app_id", "endpoint", "client_ip")
}


class CorruptFileError(RuntimeError):
    """A raw file cannot be read; the day fails unless the run skips such files."""

    def __init__(self, url: str, reason: str):
        super().__init__(f"unreadable raw file {url}: {reason}")
        self.url = url
        self.reason = reason


@dataclass
class DayIngest:
    """What one day of the archive became."""

    day: dt.date
    valid: pl.DataFrame
    quarantine: pl.DataFrame
    ingest: pl.DataFrame
    files: list[str] = field(default_factory=list)
    skipped_files: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def stats(self) -> dict:
        return self.ingest.row(0, named=True)


def _is_integer(arrow_type: str) -> bool:
    return arrow_type.startswith(("int", "uint"))


def _is_text(arrow_type: str) -> bool:
    return (
        arrow_type in ("string", "large_string", "string_view")
        or arrow_type.startswith("dictionary<values=string")
        or arrow_type.startswith("dictionary<values=large_string")
    )


def _ts_expr(arrow_type: str | None) -> pl.Expr:
    col = pl.col("ts")
    if arrow_type is None:
        return pl.lit(None, dtype=RAW_SCHEMA["ts"])
    if arrow_type.startswith("timestamp"):
        if "tz=" in arrow_type:
            return col.dt.convert_time_zone("UTC").dt.cast_time_unit("us")
        return col.dt.cast_time_unit("us").dt.replace_time_zone("UTC")
    if _is_text(arrow_type):
        return col.str.to_datetime(time_unit="us", time_zone="UTC", strict=False)
    if _is_integer(arrow_type):  # epoch microseconds
        return col.cast(pl.Int64).cast(pl.Datetime("us")).dt.replace_time_zone("UTC")
    return col.cast(RAW_SCHEMA["ts"], strict=False)


def _normalise(
    frame: pl.LazyFrame, schema: dict[str, str], index: int, id_type: pl.DataType
) -> pl.LazyFrame:
    """Cast one file's columns to the raw contract, keeping text of failed casts.

    ``_uncastable`` lists the fields whose value was present but did not convert.
    """
    exprs: list[pl.Expr] = [pl.lit(index, dtype=pl.UInt16).alias(FILE_INDEX)]
    failed_casts: list[pl.Expr] = []
    for name, dtype in RAW_SCHEMA.items():
        arrow_type = schema.get(name)
        if arrow_type is None:
            missing_type = id_type if name == "request_id" else _WORKING_TYPES.get(name, dtype)
            exprs.append(pl.lit(None, dtype=missing_type).alias(name))
            continue
        if name == "request_id":
            exprs.append(pl.col(name).cast(id_type))
            continue
        if name == "ts":
            typed = _ts_expr(arrow_type)
        elif name in INTEGER_COLUMNS and _is_text(arrow_type):
            typed = pl.col(name).str.strip_chars().cast(dtype, strict=False)
        else:
            typed = pl.col(name).cast(_WORKING_TYPES.get(name, dtype), strict=False)
        exprs.append(typed.alias(name))
        if _is_text(arrow_type) and name in ("ts", *INTEGER_COLUMNS):
            exprs.append(pl.col(name).alias(_RAW_TEXT + name))
            failed_casts.append(
                pl.when(pl.col(name).is_not_null() & typed.is_null()).then(pl.lit(name))
            )
    marker = (
        pl.concat_str(failed_casts, separator=",", ignore_nulls=True).replace("", None)
        if failed_casts
        else pl.lit(None, dtype=pl.String)
    )
    return frame.select([*exprs, marker.alias("_uncastable")])


def _usable_expr(day: dt.date) -> pl.Expr:
    """True for a row every later table may use: cheap, evaluated on every row."""
    start = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
    end = start + dt.timedelta(days=1)
    return (
        pl.all_horizontal([pl.col(k).is_not_null() for k in KEY_COLUMNS])
        & pl.col("_uncastable").is_null()
        & pl.all_horizontal([(pl.col(c) >= 0).fill_null(True) for c in COUNT_COLUMNS])
        & (pl.col("ts") >= start)
        & (pl.col("ts") < end)
    )


def _reason_exprs(day: dt.date) -> tuple[pl.Expr, pl.Expr]:
    """The first quarantine reason a row matches, and the fields behind it.

    Only evaluated on the rows that failed ``_usable_expr``: the detail strings are
    costly and rejected rows are few.
    """
    null_keys = pl.concat_str(
        [pl.when(pl.col(k).is_null()).then(pl.lit(k)) for k in KEY_COLUMNS],
        separator=",",
        ignore_nulls=True,
    )
    negative = pl.concat_str(
        [pl.when(pl.col(c) < 0).then(pl.lit(c)) for c in COUNT_COLUMNS],
        separator=",",
        ignore_nulls=True,
    )
    any_null_key = pl.any_horizontal([pl.col(k).is_null() for k in KEY_COLUMNS])
    any_negative = pl.any_horizontal([(pl.col(c) < 0).fill_null(False) for c in COUNT_COLUMNS])
    reason = (
        pl.when(any_null_key)
        .then(pl.lit("null_key"))
        .when(pl.col("_uncastable").is_not_null())
        .then(pl.lit("uncastable_value"))
        .when(any_negative)
        .then(pl.lit("negative_count"))
        .otherwise(pl.lit("ts_outside_day"))
    )
    detail = (
        pl.when(pl.col(REASON) == "null_key")
        .then(pl.lit("null ") + null_keys)
        .when(pl.col(REASON) == "uncastable_value")
        .then(pl.lit("not an integer/timestamp: ") + pl.col("_uncastable"))
        .when(pl.col(REASON) == "negative_count")
        .then(pl.lit("negative ") + negative)
        .otherwise(pl.lit(f"ts not on {day.isoformat()}"))
    )
    return reason, detail


def _check_readable(url: str) -> str | None:
    """Why a file cannot be read in full, or None when it can."""
    try:
        if storage.is_remote(url):
            storage.read_parquet(url)
        else:
            pq.ParquetFile(url).read()
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


def _scan(url: str) -> pl.LazyFrame:
    if storage.is_remote(url):
        return storage.read_parquet(url).lazy()
    return pl.scan_parquet(url)


@dataclass
class _Split:
    valid: pl.DataFrame
    rejected: pl.DataFrame
    usable: int


def _collect_split(rows: pl.LazyFrame, day: dt.date) -> _Split:
    """Valid (usable, first delivery) rows, rejected rows with their reason, and the
    usable count, from one scan: the three plans share it."""
    reason, detail = _reason_exprs(day)
    usable = rows.filter(pl.col(USABLE))
    # The shipper is at-least-once: keep the first delivery of each request_id.
    valid = usable.filter(pl.col("request_id").is_first_distinct()).select(list(RAW_SCHEMA))
    rejected = (
        rows.filter(~pl.col(USABLE))
        .with_columns(reason.alias(REASON))
        .with_columns(detail.alias(DETAIL))
    )
    valid_df, rejected_df, count = pl.collect_all([valid, rejected, usable.select(pl.len())])
    return _Split(valid_df, rejected_df, int(count.item()))


def read_day(
    archive: str, day: dt.date, *, skip_corrupt_files: bool = False
) -> tuple[_Split, list[str], list[str]]:
    """A day's rows, normalised and split into valid and rejected ones.

    Returns the split, the files read and the files skipped as unreadable.
    """
    folder = storage.day_folder(archive, day)
    files = [f.url for f in storage.list_files(folder)]
    readable: list[tuple[str, dict[str, str]]] = []
    skipped: list[str] = []
    for url in files:
        try:
            readable.append((url, storage.parquet_schema(url)))
        except Exception as exc:
            if not skip_corrupt_files:
                raise CorruptFileError(url, f"{type(exc).__name__}: {exc}") from exc
            skipped.append(url)

    all_integer_ids = all(_is_integer(s.get("request_id", "int64")) for _, s in readable)
    id_type = pl.UInt64() if all_integer_ids else pl.String()

    def build(sources: list[tuple[str, dict[str, str]]]) -> pl.LazyFrame:
        frames = [
            _normalise(_scan(url), schema, files.index(url), id_type) for url, schema in sources
        ]
        if not frames:
            empty = {
                FILE_INDEX: pl.UInt16(),
                **RAW_SCHEMA,
                **_WORKING_TYPES,
                "_uncastable": pl.String(),
            }
            empty["request_id"] = id_type
            lazy = pl.LazyFrame(schema=empty)
        else:
            lazy = pl.concat(frames, how="diagonal_relaxed")
        return lazy.with_columns(_usable_expr(day).fill_null(False).alias(USABLE))

    try:
        split = _collect_split(build(readable), day)
    except Exception as exc:
        # A damaged data page only shows when decoded: find which file it is.
        broken = [(url, why) for url, _ in readable if (why := _check_readable(url))]
        if not broken:
            raise
        if not skip_corrupt_files:
            url, why = broken[0]
            raise CorruptFileError(url, why) from exc
        skipped.extend(url for url, _ in broken)
        bad = {url for url, _ in broken}
        split = _collect_split(build([(u, s) for u, s in readable if u not in bad]), day)
    return split, files, skipped


def _quarantine_frame(rejected: pl.DataFrame, files: list[str]) -> pl.DataFrame:
    """Rejected rows as text, so uncastable values are kept exactly as received."""
    text_cols = []
    for name in RAW_SCHEMA:
        if name == "ts":
            typed_text = pl.col("ts").dt.to_string("%Y-%m-%dT%H:%M:%S%.6fZ")
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
    ).pipe(QUARANTINE.conform)


def ingest_day(archive: str, day: dt.date, *, skip_corrupt_files: bool = False) -> DayIngest:
    """Read a day and split it into valid, de-duplicated calls and quarantined rows."""
    started = time.perf_counter()
    split, files, skipped = read_day(archive, day, skip_corrupt_files=skip_corrupt_files)
    read_done = time.perf_counter()
    valid, rejected = split.valid, split.rejected
    duplicates = split.usable - valid.height
    reason_counts = dict(rejected.group_by(REASON).len().iter_rows()) if rejected.height else {}
    ingest = INGEST_DAILY.conform(
        pl.DataFrame(
            {
                "files": [len(files) - len(skipped)],
                "rows_read": [split.usable + rejected.height],
                "rows_valid": [valid.height],
                "duplicates": [duplicates],
                "quarantined": [rejected.height],
                **{f"quarantined_{r}": [reason_counts.get(r, 0)] for r in QUARANTINE_REASONS},
                "skipped_files": [len(skipped)],
                "skipped_file_names": ["\n".join(skipped)],
            }
        )
    )
    return DayIngest(
        day=day,
        valid=valid,
        quarantine=_quarantine_frame(rejected, files),
        ingest=ingest,
        files=files,
        skipped_files=skipped,
        seconds={"read": read_done - started, "dedup": time.perf_counter() - read_done},
    )
