"""Are two runs' outputs the same? Every warehouse table row for row, and the report.

    .venv/bin/python -m benchmarks.compare OUT_A OUT_B [--start DAY --end DAY] [--year Y]

``OUT_A`` and ``OUT_B`` each hold ``warehouse/`` and ``reports/`` (what ``benchmarks.run``
leaves in ``benchmarks/out/scale-S/``): copy one aside before a change, run again after,
compare. Each table of the range is read through its day manifests and sorted on every
column, so the order rows were written in does not matter and nothing else does; the
report's ``summary.json`` is compared whole but for what names the run rather than the
data (its Dagster runs, when it was generated, where the warehouse is, how long hashing
took). Exit 0 when everything is equal, 1 naming each table or key that differs.
"""

import argparse
import datetime as dt
import json
import sys
from pathlib import Path

import polars as pl

from callaudit import warehouse
from callaudit.schema import TABLES, Table
from callaudit.validation.results import VALIDATION_RESULTS

#: summary.json provenance keys that describe the run, not the data.
RUN_KEYS = ("runs", "report_run", "generated_at", "warehouse", "hash_seconds")


def _tables() -> list[Table]:
    return [*TABLES.values(), VALIDATION_RESULTS]


def _sorted(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.sort(frame.columns, nulls_last=True) if frame.height else frame


def compare_tables(a: str, b: str, start: dt.date, end: dt.date) -> list[str]:
    """One line per table whose rows differ between warehouses ``a`` and ``b``."""
    differences = []
    for table in _tables():
        left = _sorted(warehouse.read_range(a, table, start, end))
        right = _sorted(warehouse.read_range(b, table, start, end))
        if left.columns != right.columns:
            differences.append(f"{table.name}: columns {left.columns} != {right.columns}")
        elif not left.equals(right):
            differences.append(
                f"{table.name}: {left.height:,} rows != {right.height:,} rows, or values differ"
            )
        else:
            print(f"{table.name}: {left.height:,} rows equal")
    return differences


def _without_run(summary: dict) -> dict:
    provenance = {k: v for k, v in summary.get("provenance", {}).items() if k not in RUN_KEYS}
    return {**{k: v for k, v in summary.items() if k != "generated_at"}, "provenance": provenance}


def compare_summaries(a: Path, b: Path) -> list[str]:
    left = _without_run(json.loads(a.read_text()))
    right = _without_run(json.loads(b.read_text()))
    keys = sorted(set(left) | set(right))
    differences = [f"summary.json {k}: differs" for k in keys if left.get(k) != right.get(k)]
    if not differences:
        print(f"summary.json: equal ({len(keys)} keys, provenance run fields aside)")
    return differences


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("a")
    parser.add_argument("b")
    parser.add_argument("--start", default="2022-01-01")
    parser.add_argument("--end", default="2022-12-31")
    parser.add_argument("--year", default="2022")
    args = parser.parse_args(argv)
    start, end = dt.date.fromisoformat(args.start), dt.date.fromisoformat(args.end)
    a, b = Path(args.a), Path(args.b)
    differences = compare_tables(str(a / "warehouse"), str(b / "warehouse"), start, end)
    differences += compare_summaries(
        a / "reports" / args.year / "summary.json", b / "reports" / args.year / "summary.json"
    )
    for line in differences:
        print(f"DIFFERS {line}", file=sys.stderr)
    return 1 if differences else 0


if __name__ == "__main__":
    sys.exit(main())
