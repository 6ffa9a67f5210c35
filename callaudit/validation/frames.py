"""The frames the suites see: a table's rows plus a few derived columns.

GX expectations compare columns, not expressions, so the ratios and per-day counts a
data engineer wants bounded are computed here in Polars and named plainly; the suites
refer to them like any other column.
"""

import polars as pl

from callaudit.schema import DATE_COLUMN

#: Rows of the table on the same day, on every row: lets a range batch bound row counts.
ROWS_IN_DAY = "rows_in_day"


def _per_call(numerator: str) -> pl.Expr:
    return (
        pl.when(pl.col("calls") > 0)
        .then(pl.col(numerator).cast(pl.Float64) / pl.col("calls"))
        .otherwise(None)
    )


_DERIVED: dict[str, list[pl.Expr]] = {
    "usage_daily": [
        (pl.col("errors_4xx") + pl.col("errors_5xx")).alias("errors"),
        _per_call("items").alias("items_per_call"),
    ],
    "partner_daily": [_per_call("items").alias("items_per_call")],
    "network_daily": [_per_call("items").alias("items_per_call")],
}


def validation_frame(table: str, frame: pl.DataFrame) -> pl.DataFrame:
    """``frame`` (with its ``date`` column) plus the derived columns of ``table``'s suite."""
    derived = [*_DERIVED.get(table, [])]
    if DATE_COLUMN in frame.columns:
        derived.append(pl.len().over(DATE_COLUMN).cast(pl.Int64).alias(ROWS_IN_DAY))
    return frame.with_columns(derived) if derived else frame
