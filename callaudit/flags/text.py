"""Polars expressions that render numbers for the one-line flag details."""

import polars as pl


def thousands(expr: pl.Expr) -> pl.Expr:
    """An integer as text with thousands separators: 2913004 -> "2,913,004".

    Done in Polars (not a Python format per row) so details are built vectorised.
    """
    value = expr.round(0).cast(pl.Int64)
    digits = (
        value.abs()
        .cast(pl.String)
        .str.reverse()
        .str.replace_all(r"(\d{3})", "${1},")
        .str.reverse()
        .str.strip_chars_start(",")
    )
    return pl.when(value < 0).then(pl.lit("-") + digits).otherwise(digits)


def iso_day(expr: pl.Expr) -> pl.Expr:
    """A pl.Date as YYYY-MM-DD text."""
    return expr.dt.strftime("%Y-%m-%d")
