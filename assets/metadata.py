"""Metadata that makes the UI explain each asset: column schemas, owners, markdown."""

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

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


def add_partition_metadata(
    context: dg.AssetExecutionContext,
    metadata: Mapping[tuple[str, str], Mapping[str, Any]],
) -> None:
    """Per-partition metadata of a ranged run, keyed by (asset key, partition key): what
    ``context.add_asset_metadata(values, asset_key=..., partition_key=...)`` records for
    each, added at once.

    Dagster 1.13.27's accumulator copies and re-checks everything added so far at each
    call, so one call per partition costs the square of their number: 5 tables x 365
    days took 0.44 s of CPU after the days (2026-11-29), on the path to the report. Here
    the entries go into the step's accumulator in one step. That accumulator is private
    (``StepExecutionContext._metadata_accumulator`` and ``OutputMetadataAccumulator``,
    dagster/_core/execution/context): where it is not what this expects, or a key is not
    one the run materialises, each entry takes the public call instead, which also says
    what is wrong with a key."""
    step = context.op_execution_context.get_step_execution_context()
    targeted = set(context.partition_keys)
    assets = set(context.assets_def.keys)
    handles = {
        (dg.AssetKey.from_coercible(key), partition): values
        for (key, partition), values in metadata.items()
    }
    try:
        from dagster._core.execution.context.metadata_logging import (
            AssetMetadataHandle,
            OutputMetadataAccumulator,
        )

        accumulated = step._metadata_accumulator
        merged = dict(accumulated.per_output_metadata)
        fits = isinstance(accumulated, OutputMetadataAccumulator) and all(
            key in assets and partition in targeted for key, partition in handles
        )
    except (ImportError, AttributeError):
        fits = False
    if not fits:
        for (key, partition), values in handles.items():
            context.add_asset_metadata(values, asset_key=key, partition_key=partition)
        return
    for (key, partition), values in handles.items():
        handle = AssetMetadataHandle(asset_key=key, partition_key=partition)
        merged[handle] = {**merged.get(handle, {}), **values}
    step._metadata_accumulator = OutputMetadataAccumulator(per_output_metadata=merged)
