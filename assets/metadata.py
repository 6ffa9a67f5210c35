"""Metadata that makes the UI explain each asset: column schemas, owners, markdown."""

from collections.abc import Iterable, Sequence

import dagster as dg

from callaudit.schema import Table

OWNERS = ["team:data-platform"]


def column_schema(table: Table) -> dg.TableSchema:
    return dg.TableSchema(
        columns=[
            dg.TableColumn(name=c.name, type=str(c.dtype), description=c.description)
            for c in table.columns
        ]
    )


def table_metadata(table: Table) -> dict:
    """Static metadata for an asset spec: schema and grain."""
    return {
        "dagster/column_schema": column_schema(table),
        "grain": dg.MetadataValue.text(" × ".join(("day", *table.grain)) if table.grain else "day"),
    }


def markdown_table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> dg.MetadataValue:
    """A small markdown table for the UI (numbers with thousands separators)."""

    def cell(value: object) -> str:
        if isinstance(value, bool):
            return str(value)
        if isinstance(value, int):
            return f"{value:,}"
        if isinstance(value, float):
            return f"{value:,.2f}"
        return str(value).replace("|", "\\|")

    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return dg.MetadataValue.md("\n".join(lines))


def run_level(metadata: dict) -> dict:
    """A ranged run's totals under ``run_`` names. Dagster records the run's metadata on
    every partition it materialised; the day's own figures, added per partition under
    the plain names (``dagster/row_count`` ...), then win, and the totals still read as
    the run's. Timings (``seconds_*``) keep their names: benchmarks read them, and they
    are the run's anyway."""
    return {
        key if key.startswith("seconds_") else f"run_{key.removeprefix('dagster/')}": value
        for key, value in metadata.items()
    }
