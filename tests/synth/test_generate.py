"""The synthetic archive: deterministic, scaled, and true to its own ground truth.

Archives are generated at tiny scale over short ranges; the checks re-derive the truth
from the written Parquet files with DuckDB, independently of the generator's code.
"""

import datetime as dt
import fnmatch
import hashlib
from pathlib import Path

import duckdb
import polars as pl
import pytest

from callaudit.contracts import load_contracts
from callaudit.synth import expected_year_totals, generate_archive
from callaudit.synth.plan import build_plan

SCALE = 0.0005
SEED = 2022


def _digest(root: Path) -> dict[str, str]:
    return {
        str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file() and path.name != "manifest.json"
    }


def _planted_day(kind: str, seed: int = SEED, scale: float = SCALE) -> dt.date:
    return next(e.day for e in build_plan(seed, scale).events if e.kind == kind)


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Six days around the first planted daily-limit breach, plus the unknown partner."""
    day = _planted_day("daily_call_limit")
    out = tmp_path_factory.mktemp("archive")
    generate_archive(
        str(out),
        scale=SCALE,
        seed=SEED,
        start=day - dt.timedelta(days=3),
        end=day + dt.timedelta(days=2),
        progress=False,
    )
    return out


def _valid_rows(out: Path) -> duckdb.DuckDBPyRelation:
    """Valid, de-duplicated rows, derived from the raw files with the DESIGN.md rules."""
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute(
        f"""
        create view raw as
        select *, regexp_extract(filename, 'date=([0-9-]+)', 1)::date as folder_day
        from read_parquet('{out}/raw/*/*.parquet', union_by_name=true, filename=true)
        """
    )
    con.execute(
        """
        create view classified as select *,
          case
            when request_id is null or ts is null or partner_id is null or app_id is null
                 or endpoint is null then 'null_key'
            when try_cast(status as integer) is null or try_cast(items as bigint) is null
                then 'uncastable_value'
            when try_cast(items as bigint) < 0 or bytes < 0 or latency_ms < 0 then 'negative_count'
            when cast(ts as date) <> folder_day then 'ts_outside_day'
          end as reason
        from raw
        """
    )
    return con


def test_same_seed_gives_byte_identical_files(tmp_path: Path) -> None:
    day = dt.date(2022, 3, 1)
    for name in ("a", "b"):
        generate_archive(
            str(tmp_path / name), scale=SCALE, seed=7, start=day, end=day, progress=False
        )
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b")


def test_different_seed_gives_different_data(tmp_path: Path) -> None:
    day = dt.date(2022, 3, 1)
    for seed in (1, 2):
        generate_archive(
            str(tmp_path / str(seed)), scale=SCALE, seed=seed, start=day, end=day, progress=False
        )
    first = pl.read_csv(tmp_path / "1" / "truth" / "partner_daily.csv")
    second = pl.read_csv(tmp_path / "2" / "truth" / "partner_daily.csv")
    assert not first.equals(second)


def test_microsoft_volume_in_2022_matches_the_headline() -> None:
    microsoft = expected_year_totals(1.0)["microsoft"]
    assert microsoft["calls"] > 780_000_000
    assert microsoft["items"] > 26_000_000_000
    realised = build_plan(SEED, 1.0)
    index = realised.index("microsoft")
    assert realised.calls[:, index].sum() > 780_000_000
    assert realised.items[:, index].sum() > 26_000_000_000


def test_platform_total_is_about_a_billion_calls_at_full_scale() -> None:
    total = sum(p["calls"] for p in expected_year_totals(1.0).values())
    assert 0.9e9 < total < 1.2e9


def test_totals_scale_with_scale() -> None:
    tenth = expected_year_totals(0.1)
    hundredth = expected_year_totals(0.01)
    assert tenth["microsoft"]["calls"] == pytest.approx(10 * hundredth["microsoft"]["calls"])
    ratio = sum(p["calls"] for p in tenth.values()) / sum(p["calls"] for p in hundredth.values())
    assert ratio == pytest.approx(10, rel=0.05)


@pytest.mark.parametrize("scale", [0.0, 0.00001, 31, -1])
def test_scale_out_of_bounds_is_rejected(tmp_path: Path, scale: float) -> None:
    with pytest.raises(ValueError, match="scale must be between"):
        generate_archive(str(tmp_path), scale=scale, progress=False)


def test_unknown_scenario_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown scenario"):
        generate_archive(str(tmp_path), scenario="mastodon-2023", progress=False)


def test_contracts_load_with_the_pipeline_loader(archive: Path) -> None:
    contracts = load_contracts(archive / "contracts.yaml")
    assert len(contracts.partners) >= 30
    assert contracts.partner("microsoft").display_name == "Microsoft"
    assert contracts.item_unit == "tweets"  # what the reports call items
    assert len(contracts.partner("meltwater").agreements) == 2
    versions = {n.network.version for n in contracts.restricted_networks}
    assert versions == {4, 6}
    assert contracts.agreement_on("openai", dt.date(2022, 12, 16)) is None
    assert any(a.allow_networks for p in contracts.partners for a in p.agreements)


def test_partner_daily_truth_matches_the_raw_files(archive: Path) -> None:
    con = _valid_rows(archive)
    observed = con.sql(
        """
        select strftime(folder_day, '%Y-%m-%d') as date, partner_id, count(*) as calls,
               sum(items::bigint) as items, sum(bytes) as bytes
        from (select distinct on (request_id) * from classified where reason is null)
        group by all order by date, partner_id
        """
    ).pl()
    truth = pl.read_csv(archive / "truth" / "partner_daily.csv").sort("date", "partner_id")
    assert observed.cast(truth.schema).equals(truth)


def test_ingest_truth_matches_duplicates_and_quarantine(archive: Path) -> None:
    con = _valid_rows(archive)
    observed = con.sql(
        """
        select strftime(folder_day, '%Y-%m-%d') as date,
               count(distinct filename) as files,
               count(*) as rows_written,
               count(distinct request_id) filter (where reason is null) as rows_valid,
               count(*) filter (where reason is null) - count(distinct request_id) filter (where reason is null)
                   as duplicates,
               count(*) filter (where reason = 'null_key') as quarantined_null_key,
               count(*) filter (where reason = 'uncastable_value') as quarantined_uncastable_value,
               count(*) filter (where reason = 'negative_count') as quarantined_negative_count,
               count(*) filter (where reason = 'ts_outside_day') as quarantined_ts_outside_day
        from classified group by all order by date
        """
    ).pl()
    truth = pl.read_csv(archive / "truth" / "ingest.csv")
    assert observed.cast(truth.schema).equals(truth)


def test_daily_limit_flags_are_exactly_the_days_over_the_limit(archive: Path) -> None:
    contracts = load_contracts(archive / "contracts.yaml")
    con = _valid_rows(archive)
    daily = con.execute(
        """
        select folder_day as day, partner_id, count(*) as calls
        from (select distinct on (request_id) * from classified where reason is null) group by all
        """
    ).fetchall()
    over = set()
    for day, partner_id, calls in daily:
        agreement = contracts.agreement_on(partner_id, day)
        limit = agreement.limits.calls_per_day if agreement else None
        if limit is not None and calls > limit:
            over.add((day.isoformat(), partner_id))
    flags = pl.read_csv(archive / "truth" / "flags.csv").filter(
        pl.col("flag") == "daily_call_limit"
    )
    assert over == set(zip(flags["date"], flags["partner_id"], strict=True))
    assert over, "the fixture range contains a planted breach"


def test_unauthorized_endpoint_flags_follow_the_globs(tmp_path: Path) -> None:
    day = _planted_day("unauthorized_endpoint")
    generate_archive(str(tmp_path), scale=SCALE, seed=SEED, start=day, end=day, progress=False)
    contracts = load_contracts(tmp_path / "contracts.yaml")
    con = _valid_rows(tmp_path)
    pairs = con.execute(
        "select distinct partner_id, endpoint from classified where reason is null"
    ).fetchall()
    outside = set()
    for partner_id, endpoint in pairs:
        agreement = contracts.agreement_on(partner_id, day)
        globs = agreement.endpoints if agreement else None
        if globs is not None and not any(fnmatch.fnmatchcase(endpoint, g) for g in globs):
            outside.add(partner_id)
    flags = pl.read_csv(tmp_path / "truth" / "flags.csv").filter(
        pl.col("flag") == "unauthorized_endpoint"
    )
    assert outside == set(flags["partner_id"])
    assert outside


def test_rate_limit_flag_is_the_minute_over_the_limit(tmp_path: Path) -> None:
    day = _planted_day("rate_limit")
    generate_archive(str(tmp_path), scale=SCALE, seed=SEED, start=day, end=day, progress=False)
    contracts = load_contracts(tmp_path / "contracts.yaml")
    con = _valid_rows(tmp_path)
    peaks = con.execute(
        """
        select partner_id, max(n) from (
          select partner_id, date_trunc('minute', ts) as minute, count(*) as n
          from (select distinct on (request_id) * from classified where reason is null) group by all
        ) group by all
        """
    ).fetchall()
    over = {
        p
        for p, peak in peaks
        if (a := contracts.agreement_on(p, day))
        and a.limits.calls_per_minute is not None
        and peak > a.limits.calls_per_minute
    }
    flags = pl.read_csv(tmp_path / "truth" / "flags.csv").filter(pl.col("flag") == "rate_limit")
    assert over == set(flags["partner_id"]) != set()


def test_restricted_calls_from_the_allowed_network_are_not_flagged(tmp_path: Path) -> None:
    plan = build_plan(SEED, SCALE)
    partner = plan.index("dataminr")
    day_index = next(d for (d, p) in plan.replacements if p == partner)
    day = plan.days[day_index]
    generate_archive(str(tmp_path), scale=SCALE, seed=SEED, start=day, end=day, progress=False)
    con = _valid_rows(tmp_path)
    from_allowed = con.execute(
        "select count(*) from classified where partner_id = 'dataminr' and client_ip like '198.51.100.%'"
    ).fetchone()[0]
    flags = pl.read_csv(tmp_path / "truth" / "flags.csv")
    assert from_allowed > 0
    assert flags.filter(
        (pl.col("partner_id") == "dataminr") & (pl.col("flag") == "restricted_network")
    ).is_empty()


def test_every_planted_kind_is_in_the_year_plan() -> None:
    kinds = {e.kind for e in build_plan(SEED, SCALE).events}
    assert kinds == {
        "no_agreement",
        "unauthorized_app",
        "unauthorized_endpoint",
        "daily_call_limit",
        "monthly_item_limit",
        "rate_limit",
        "restricted_network",
        "volume_spike",
        "volume_drop",
    }


@pytest.mark.parametrize("scale", [0.0001, 0.01, 1.0])
def test_limits_are_crossed_only_where_planted(scale: float) -> None:
    plan = build_plan(SEED, scale)
    planted = {(e.day, e.partner_id, e.kind) for e in plan.events}
    for partner_id, agreements in plan.agreements.items():
        p = plan.index(partner_id)
        month_items: dict[int, int] = {}
        for d, day in enumerate(plan.days):
            month_items[day.month] = month_items.get(day.month, 0) + int(plan.items[d, p])
            agreement = next((a for a in agreements if a.in_force(day)), None)
            if agreement is None:
                continue
            day_limit = agreement.limits.get("calls_per_day")
            if day_limit is not None and plan.calls[d, p] > day_limit:
                assert (day, partner_id, "daily_call_limit") in planted
            month_limit = agreement.limits.get("items_per_month")
            if month_limit is not None and month_items[day.month] > month_limit:
                crossing = [
                    e
                    for e in plan.events
                    if e.partner_id == partner_id and e.kind == "monthly_item_limit"
                ]
                assert crossing and crossing[0].day.month == day.month and crossing[0].day <= day
