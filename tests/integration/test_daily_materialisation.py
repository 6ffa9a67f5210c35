"""A real Dagster materialisation of a generated range, checked against DuckDB."""

import datetime as dt

import dagster as dg
import duckdb
import polars as pl
import pytest

from callaudit import warehouse
from callaudit.assets.resources import AuditResource
from callaudit.pipelines.tags import PARTITION_RANGE_END_TAG, PARTITION_RANGE_START_TAG
from tests.graph import assets_def

START, END = dt.date(2022, 3, 1), dt.date(2022, 3, 7)

# Independent of callaudit's code: the same rules written as one SQL query.
REFERENCE_SQL = """
SET TimeZone = 'UTC';
WITH raw AS (
    SELECT
        CAST(request_id AS VARCHAR) AS request_id,
        TRY_CAST(ts AS TIMESTAMPTZ) AS ts,
        ts IS NOT NULL AND TRY_CAST(ts AS TIMESTAMPTZ) IS NULL AS bad_ts,
        partner_id, app_id, endpoint,
        status IS NOT NULL AND TRY_CAST(trim(CAST(status AS VARCHAR)) AS INTEGER) IS NULL AS bad_status,
        TRY_CAST(trim(CAST(items AS VARCHAR)) AS BIGINT) AS items,
        items IS NOT NULL AND TRY_CAST(trim(CAST(items AS VARCHAR)) AS BIGINT) IS NULL AS bad_items,
        TRY_CAST(trim(CAST(bytes AS VARCHAR)) AS BIGINT) AS bytes,
        bytes IS NOT NULL AND TRY_CAST(trim(CAST(bytes AS VARCHAR)) AS BIGINT) IS NULL AS bad_bytes,
        TRY_CAST(trim(CAST(latency_ms AS VARCHAR)) AS BIGINT) AS latency_ms,
        latency_ms IS NOT NULL AND TRY_CAST(trim(CAST(latency_ms AS VARCHAR)) AS BIGINT) IS NULL AS bad_latency,
        CAST(regexp_extract(filename, 'date=([0-9-]+)', 1) AS DATE) AS day
    FROM read_parquet($files, union_by_name = true, filename = true)
),
usable AS (
    SELECT * FROM raw
    WHERE request_id IS NOT NULL AND ts IS NOT NULL AND partner_id IS NOT NULL
      AND app_id IS NOT NULL AND endpoint IS NOT NULL
      AND NOT (bad_ts OR bad_status OR bad_items OR bad_bytes OR bad_latency)
      AND coalesce(items, 0) >= 0 AND coalesce(bytes, 0) >= 0 AND coalesce(latency_ms, 0) >= 0
      AND CAST(ts AS DATE) = day
),
calls AS (
    SELECT day, request_id, any_value(partner_id) AS partner_id, any_value(items) AS items
    FROM usable GROUP BY day, request_id
)
SELECT day AS date, partner_id, count(*) AS calls, sum(items) AS items
FROM calls GROUP BY ALL ORDER BY ALL
"""


def reference_partner_totals(archive) -> pl.DataFrame:
    files = sorted(
        str(p)
        for day in pl.date_range(START, END, eager=True)
        for p in (archive / f"date={day}").glob("*.parquet")
    )
    connection = duckdb.connect()
    statements = [s for s in REFERENCE_SQL.split(";") if s.strip()]
    connection.execute(statements[0])
    frame = pl.from_arrow(connection.execute(statements[1], {"files": files}).to_arrow_table())
    return frame.with_columns(pl.col("calls", "items").cast(pl.Int64))


@pytest.fixture(scope="module")
def materialised(sample_archive, tmp_path_factory):
    wh = tmp_path_factory.mktemp("warehouse")
    resource = AuditResource(
        archive=str(sample_archive / "raw"),
        contracts=str(sample_archive / "contracts.yaml"),
        warehouse=str(wh),
        reports=str(tmp_path_factory.mktemp("reports")),
    )
    with dg.instance_for_test() as instance:
        result = dg.materialize(
            [
                assets_def(name)
                for name in ("raw_call_logs", "partner_contracts", "usage_daily", "anomaly_flags")
            ],
            resources={"audit": resource},
            instance=instance,
            selection=[
                "usage_daily",
                "partner_daily",
                "network_daily",
                "ingest_daily",
                "quarantine",
                "anomaly_flags",
            ],
            tags={
                PARTITION_RANGE_START_TAG: START.isoformat(),
                PARTITION_RANGE_END_TAG: END.isoformat(),
            },
        )
        materialised_days = {
            key.path[-1]: instance.get_materialized_partitions(key)
            for key in (dg.AssetKey("usage_daily"), dg.AssetKey("anomaly_flags"))
        }
        observed_versions = {
            name: _latest_data_version(instance, dg.AssetKey(name))
            for name in ("partner_contracts", "flag_reviews")
        }
        reported = {
            name: instance.get_latest_materialization_event(dg.AssetKey(name))
            for name in ("partner_contracts", "flag_reviews")
        }
        observed_versions["materialised"] = {
            name: event.asset_materialization.tags["dagster/data_version"]
            for name, event in reported.items()
            if event is not None
        }
    return result, str(wh), materialised_days, observed_versions


def _latest_data_version(instance: dg.DagsterInstance, key: dg.AssetKey) -> str | None:
    records = instance.fetch_observations(key, limit=1).records
    return records[0].asset_observation.tags.get("dagster/data_version") if records else None


def test_one_run_materialises_every_day_of_the_range(materialised):
    result, _, days, _ = materialised
    assert result.success
    expected = {d.isoformat() for d in pl.date_range(START, END, eager=True).to_list()}
    assert days["usage_daily"] == expected
    assert days["anomaly_flags"] == expected


def test_partner_calls_and_items_match_an_independent_duckdb_query(materialised, sample_archive):
    _, wh, _, _ = materialised
    ours = (
        warehouse.read_range(wh, "partner_daily", START, END)
        .select("date", "partner_id", "calls", "items")
        .sort("date", "partner_id")
    )
    reference = reference_partner_totals(sample_archive / "raw")
    assert ours.height > 0
    assert ours.equals(reference.select(ours.columns).sort("date", "partner_id"))


def test_usage_daily_rolls_up_to_partner_daily(materialised):
    _, wh, _, _ = materialised
    usage = warehouse.read_range(wh, "usage_daily", START, END)
    partner = warehouse.read_range(wh, "partner_daily", START, END)
    rolled = usage.group_by("date", "partner_id").agg(pl.col("calls", "items", "bytes").sum())
    joined = partner.join(rolled, on=["date", "partner_id"], suffix="_usage")
    assert joined.height == partner.height
    for column in ("calls", "items", "bytes"):
        assert (joined[column] == joined[f"{column}_usage"]).all()


def test_ingest_counts_reconcile_with_the_generators_truth(materialised, sample_archive):
    _, wh, _, _ = materialised
    ingest = warehouse.read_range(wh, "ingest_daily", START, END)
    truth = pl.read_csv(sample_archive / "truth" / "ingest.csv", try_parse_dates=True).filter(
        pl.col("date").is_between(START, END)
    )
    joined = ingest.join(truth, on="date", suffix="_truth")
    assert joined.height == (END - START).days + 1
    assert (joined["rows_valid"] == joined["rows_valid_truth"]).all()
    assert (joined["duplicates"] == joined["duplicates_truth"]).all()
    for reason in ("null_key", "uncastable_value", "negative_count", "ts_outside_day"):
        column = f"quarantined_{reason}"
        assert (joined[column] == joined[f"{column}_truth"]).all(), column


def test_the_run_observes_the_contracts_and_reviews_it_read(materialised, sample_archive):
    """The UI shows partner_contracts and flag_reviews observed, with the content hashes
    the late-data sensor records when they change."""
    from callaudit.archive_scan import content_hash

    *_, observed = materialised
    versions = {
        "partner_contracts": content_hash(str(sample_archive / "contracts.yaml")),
        "flag_reviews": "no-reviews-file",
    }
    # reported present with the same versions, so the UI counts them as there
    assert observed == {**versions, "materialised": versions}
