"""Plausibility warns, integrity blocks (issue 12, item 10): every expectation of every
shipped suite has a severity, the bounds on what traffic looks like are warnings,
structure and keys (columns, types, nulls, the grain, sets, pairs) are critical,
and each suite's notes say why."""

import json
from importlib.resources import files

import pytest

from callaudit.validation.suites import SHIPPED_SUITES

SUITES = sorted(p for p in files(SHIPPED_SUITES).iterdir() if p.name.endswith(".json"))
#: Expectations of structure and keys: always integrity, whatever the column.
STRUCTURE = {
    "expect_table_columns_to_match_set",
    "expect_column_values_to_be_of_type",
    "expect_column_values_to_not_be_null",
    "expect_column_values_to_be_unique",
    "expect_compound_columns_to_be_unique",
    "expect_column_values_to_be_in_set",
    "expect_column_pair_values_a_to_be_greater_than_b",
}
#: Bounds on what real traffic looks like (README "Validation"): a 150 s p95 latency,
#: a huge page of items, a day with very many rows are odd, not wrong.
TRAFFIC_BOUNDS = {"latency_p95_ms", "items_per_call", "rows_in_day"}


def is_traffic_bound(expectation: dict) -> bool:
    kwargs = expectation["kwargs"]
    return (
        expectation["type"] == "expect_column_values_to_be_between"
        and kwargs.get("column") in TRAFFIC_BOUNDS
        and kwargs.get("max_value") is not None
        and kwargs.get("min_value") != kwargs.get("max_value")  # rows_in_day == 1: the grain
    )


@pytest.mark.parametrize("path", SUITES, ids=[p.name for p in SUITES])
def test_plausibility_bounds_warn_and_structure_and_keys_block(path):
    suite = json.loads(path.read_text())
    for expectation in suite["expectations"]:
        severity = expectation.get("severity")
        assert severity in ("critical", "warning"), (path.name, expectation)
        if expectation["type"] in STRUCTURE:
            assert severity == "critical", (path.name, expectation)
        if is_traffic_bound(expectation):
            assert severity == "warning", (path.name, expectation)
        if severity == "warning":  # only bounds warn, and each says why
            assert expectation["type"].endswith("_to_be_between"), (path.name, expectation)
            assert expectation.get("meta", {}).get("notes"), (path.name, expectation)
    assert "everity" in suite["meta"]["notes"], path.name  # the suite says why, as a whole


def test_a_p95_latency_of_150_s_is_a_warning_not_a_block():
    usage = json.loads((files(SHIPPED_SUITES) / "usage_daily.json").read_text())
    [latency] = [e for e in usage["expectations"] if e["kwargs"].get("column") == "latency_p95_ms"
                 and e["kwargs"].get("max_value") is not None]  # fmt: skip
    assert latency["kwargs"]["max_value"] == 120_000 and latency["severity"] == "warning"
