"""How the report writes counts in sentences and sizes."""

import pytest

from callaudit.report.numbers import compact_days, data_size, rounded
from tests.report.builders import days


@pytest.mark.parametrize(
    ("value", "said"),
    [
        (780_412_233, "more than 780 million"),
        (26_031_877_120, "more than 26 billion"),
        (1_550_000_001, "more than 1.5 billion"),
        (2_000_000, "2 million"),
        (3_669_328, "more than 3.6 million"),
        (1_000, "1 thousand"),
        (999, "999"),
    ],
)
def test_rounded_never_overstates(value, said):
    assert rounded(value) == said


def test_data_size_uses_decimal_units():
    assert data_size(69_123_456_789) == "69.1 GB"
    assert data_size(512) == "512 B"


def test_compact_days_joins_consecutive_days_into_runs():
    import datetime as dt

    listed = [*days(dt.date(2022, 3, 1), 4), dt.date(2022, 5, 10)]
    assert compact_days(listed) == "2022-03-01 to 2022-03-04, 2022-05-10"
