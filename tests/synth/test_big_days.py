"""Days above full size: written block by block, true to their own ground truth.

A scale above 1.0 draws each day as several independent blocks of the plan's day, one
at a time, so the generator holds one block's rows whatever the scale. The checks use a
tiny plan with three blocks and re-derive the truth from the written files with DuckDB.
"""

import datetime as dt
from pathlib import Path

import pytest

from callaudit.synth import generate_archive
from callaudit.synth.day import write_day
from callaudit.synth.generate import blocks_for
from callaudit.synth.plan import build_plan
from callaudit.synth.rows import build_dictionaries
from tests.synth.test_generate import _valid_rows

SEED = 2022
SCALE = 0.0005
DAY_INDEX = 59  # 2022-03-01
BLOCKS = 3


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory):
    """The same day written as one block and as three."""
    plan = build_plan(SEED, SCALE)
    dicts = build_dictionaries(plan)
    one, three = tmp_path_factory.mktemp("one"), tmp_path_factory.mktemp("three")
    single = write_day(str(one / "raw"), plan, dicts, DAY_INDEX)
    result = write_day(str(three / "raw"), plan, dicts, DAY_INDEX, blocks=BLOCKS)
    return one, single, three, result


def _files(root: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((root / "raw").rglob("*.parquet"))}


def test_block_zero_is_the_day_as_one_block_writes_it(written):
    one, _, three, _ = written
    blocks = _files(three)
    assert _files(one) == {name: blocks[name] for name in _files(one)}
    assert {n for n in blocks if "-b01" in n} and {n for n in blocks if "-b02" in n}


def test_the_blocks_truth_matches_the_raw_files(written):
    _, single, three, result = written
    con = _valid_rows(three)
    valid = "(select distinct on (request_id) * from classified where reason is null)"
    written_rows, valid_rows, distinct_ids = con.sql(
        "select count(*), count(*) filter (where reason is null), "
        "count(distinct request_id) filter (where reason is null) from classified"
    ).fetchall()[0]
    assert written_rows == result.rows_written
    # no two blocks share a request id: every valid row that is not a re-delivery is
    # a call of its own
    assert distinct_ids == result.rows_valid > 2 * single.rows_valid
    assert valid_rows - distinct_ids == result.duplicates
    observed = {
        pid: (calls, items, nbytes, peak)
        for pid, calls, items, nbytes, peak in con.sql(
            f"""
            with per_minute as (
                select partner_id, date_trunc('minute', ts) as minute, count(*) as n
                from {valid} group by all
            )
            select v.partner_id, count(*), sum(items::bigint), sum(bytes),
                   any_value(p.peak)
            from {valid} v
            join (select partner_id, max(n) as peak from per_minute group by all) p
              using (partner_id)
            group by v.partner_id
            """
        ).fetchall()
    }
    truth = {
        pid: (s.calls, s.items, s.bytes, s.peak_calls_per_minute)
        for pid, s in result.partners.items()
    }
    assert observed == truth


def test_scale_ten_is_ten_full_size_blocks():
    assert blocks_for(10) == (10, 1.0)
    assert blocks_for(2.5) == (3, 2.5 / 3)
    assert blocks_for(0.5) == (1, 0.5)


def test_a_scale_above_one_is_refused_over_a_long_range(tmp_path: Path):
    with pytest.raises(ValueError, match="at most 7 days apart"):
        generate_archive(
            str(tmp_path),
            scale=2,
            start=dt.date(2022, 3, 1),
            end=dt.date(2022, 3, 8),
            progress=False,
        )
    assert not (tmp_path / "raw").exists()
