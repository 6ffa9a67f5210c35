"""Exact conversions of one raw file's columns to the raw contract's types.

A conversion gives the value the file holds, exactly, or null; the ingest then sends a
present value that came out null to quarantine as ``uncastable_value``. Nothing is
rounded, truncated, clamped or reinterpreted on the way:

- integers convert when the target type holds them (a uint64 above int64 max does not);
- floats convert when finite, integral and at most 2^53 in magnitude. Every integer up
  to 2^53 has exactly one float and that float no other integer, so ``3.0`` can only
  mean 3. Above 2^53 one float stands for many integers (1.2573989182533456e+19 for
  2,048 request ids) and the writer's value may already have been rounded: refused;
- decimals convert when they have no fractional part and fit;
- text converts when it is an optional sign and decimal digits (surrounding whitespace
  ignored); timestamps as text when Polars parses them in the file's format;
- timestamps convert from any unit to microseconds: ms and s exactly (refused where
  microseconds would overflow), ns floored, which keeps the day and minute every figure
  is computed on;
- integer timestamps are epoch microseconds; a request_id is a non-negative integer or
  text, never a float's decimal rendering.

Only the types a writer may use for a column are converted; a boolean count, a date
for ``ts`` and the like are uncastable. A conversion that cannot lose anything is
marked ``lossless`` so the hot path neither checks it nor keeps the raw text: the log
shipper's own types (uint64 ids, int32/int64 counts, microsecond UTC timestamps) are.
"""

import re
from dataclasses import dataclass

import polars as pl

#: The largest magnitude below which every integer has its own float.
FLOAT_EXACT_LIMIT = 2**53

_INT_RANGES = {
    f"{sign}int{bits}": (0 if sign else -(2 ** (bits - 1)), 2 ** (bits - int(not sign)) - 1)
    for sign in ("", "u")
    for bits in (8, 16, 32, 64)
}
_DTYPE_RANGES = {
    pl.Int32(): _INT_RANGES["int32"],
    pl.Int64(): _INT_RANGES["int64"],
    pl.UInt64(): _INT_RANGES["uint64"],
}
_FLOATS = ("halffloat", "float", "double", "float16", "float32", "float64")
_TIMESTAMP = re.compile(r"timestamp\[(?P<unit>\w+)")


@dataclass(frozen=True)
class Conversion:
    """A column's typed expression; ``lossless`` when no value of the source can fail."""

    typed: pl.Expr
    lossless: bool = False


def is_integer(arrow_type: str) -> bool:
    return arrow_type in _INT_RANGES


def is_float(arrow_type: str) -> bool:
    return arrow_type in _FLOATS


def is_decimal(arrow_type: str) -> bool:
    return arrow_type.startswith("decimal")


def is_text(arrow_type: str) -> bool:
    return (
        arrow_type in ("string", "large_string", "string_view")
        or arrow_type.startswith("dictionary<values=string")
        or arrow_type.startswith("dictionary<values=large_string")
    )


def _exact_float(col: pl.Expr, dtype: pl.DataType, *, minimum: float) -> pl.Expr:
    """A float as an integer when it is one, exactly; null otherwise (NaN, inf, 2.7...)."""
    exact = col.is_between(minimum, FLOAT_EXACT_LIMIT) & (col.floor() == col)
    return pl.when(exact).then(col.cast(dtype, strict=False))


def to_integer(name: str, arrow_type: str, dtype: pl.DataType) -> Conversion:
    """A count or status column as ``dtype`` (Int32 or Int64), exactly or null."""
    col = pl.col(name)
    if is_integer(arrow_type):
        low, high = _INT_RANGES[arrow_type]
        target_low, target_high = _DTYPE_RANGES[dtype]
        if target_low <= low and high <= target_high:
            return Conversion(col.cast(dtype), lossless=True)
        return Conversion(col.cast(dtype, strict=False))
    if is_text(arrow_type):
        return Conversion(col.cast(pl.String).str.strip_chars().cast(dtype, strict=False))
    if is_float(arrow_type):
        return Conversion(_exact_float(col, dtype, minimum=-FLOAT_EXACT_LIMIT))
    if is_decimal(arrow_type):
        typed = col.cast(dtype, strict=False)
        return Conversion(pl.when(typed == col).then(typed))
    return Conversion(pl.lit(None, dtype=dtype))


def to_request_id(arrow_type: str, id_type: pl.DataType) -> Conversion:
    """A request id as the day's id type: UInt64 when every file's ids are numbers,
    text otherwise (then numbers become their decimal digits, so 7 and "7" meet)."""
    col = pl.col("request_id")
    if is_text(arrow_type):
        return Conversion(col.cast(pl.String), lossless=True)
    if is_integer(arrow_type):
        if arrow_type.startswith("u"):
            return Conversion(col.cast(pl.UInt64).cast(id_type), lossless=True)
        return Conversion(col.cast(pl.UInt64, strict=False).cast(id_type))
    if is_float(arrow_type):
        return Conversion(_exact_float(col, pl.UInt64(), minimum=0).cast(id_type))
    if is_decimal(arrow_type):
        typed = col.cast(pl.UInt64, strict=False)
        return Conversion(pl.when(typed == col).then(typed).cast(id_type))
    return Conversion(pl.lit(None, dtype=id_type))


def to_timestamp(arrow_type: str, dtype: pl.DataType) -> Conversion:
    """``ts`` as UTC microseconds: naive timestamps taken as UTC, integers as epoch
    microseconds, text parsed (ISO 8601 with or without offset)."""
    col = pl.col("ts")
    stamp = _TIMESTAMP.match(arrow_type)
    if stamp:
        if stamp["unit"] == "us":
            # The physical value is UTC epoch microseconds whatever the zone: exact.
            return Conversion(col.dt.epoch("us").cast(dtype), lossless=True)
        # ms -> us is null where it would overflow; ns -> us floors.
        return Conversion(col.dt.epoch("us").cast(dtype))
    if is_text(arrow_type):
        typed = col.cast(pl.String).str.to_datetime(time_unit="us", time_zone="UTC", strict=False)
        return Conversion(typed)
    if is_integer(arrow_type):
        if arrow_type == "uint64":
            return Conversion(col.cast(pl.Int64, strict=False).cast(dtype))
        return Conversion(col.cast(pl.Int64).cast(dtype), lossless=True)
    if is_float(arrow_type):
        return Conversion(_exact_float(col, pl.Int64(), minimum=-FLOAT_EXACT_LIMIT).cast(dtype))
    return Conversion(pl.lit(None, dtype=dtype))


def to_text(name: str, arrow_type: str, dtype: pl.DataType) -> Conversion:
    """A text column (partner_id, app_id, endpoint, client_ip) as its working type.
    Integers are their decimal digits (exact: an account id 7 is "7"); any other type
    (a float, a boolean, a date) is not text: null, so the row is uncastable."""
    col = pl.col(name)
    if is_text(arrow_type):
        return Conversion(col.cast(dtype), lossless=True)
    if is_integer(arrow_type):
        return Conversion(col.cast(pl.String).cast(dtype), lossless=True)
    return Conversion(pl.lit(None, dtype=dtype))


#: Arrow types that hold no single value a column of the raw contract could take.
_NESTED = ("list<", "large_list<", "list_view<", "fixed_size_list<", "struct<", "map<")


def is_nested(arrow_type: str) -> bool:
    """A list, struct or map column: its values are not scalars, so no row of it can be
    read as a call; the file is refused whole, naming the column."""
    return arrow_type.startswith(_NESTED) or "union" in arrow_type


def raw_text(name: str, arrow_type: str) -> pl.Expr:
    """The source value as text, for quarantine: verbatim for text and numbers; a
    timestamp that does not fit microseconds as its epoch count and unit."""
    col = pl.col(name)
    stamp = _TIMESTAMP.match(arrow_type)
    if stamp:  # only where microseconds overflow; elsewhere the converted value is shown
        return pl.when(col.dt.epoch("us").is_null()).then(
            col.to_physical().cast(pl.String) + pl.lit(f" {stamp['unit']} since 1970-01-01")
        )
    return col.cast(pl.String, strict=False)
