"""The bare queries the pipeline is measured against.

Each computes usage_daily and partner_daily (calls, items, bytes, error classes, p95
latency, distinct apps/endpoints/addresses, peak calls per minute) from the same raw
files with the same rules (usable rows only, first delivery of each request_id), and
nothing else: no quarantine table, no flags, no checks, no report, no orchestration.
``duckdb`` and ``polars`` run a day per query, bounded in memory; Polars runs two days at a
time, DuckDB one day at a time on all cores. ``duckdb-range`` is the same DuckDB query over
the whole range at once (one query per table), DuckDB's fastest form when memory allows.

Run as a script:
``python -m benchmarks.references {duckdb|duckdb-range|polars} ARCHIVE OUT START END``.
"""

import datetime as dt
import glob
import os
import sys
from concurrent.futures import ThreadPoolExecutor

import polars as pl


def _duckdb_calls(*, whole_range: bool) -> str:
    """The usable calls, first delivery of each request_id: of one day (``$files`` of the
    day, ``$start``..``$end``), or of every day of a range in one query, each row's day
    taken from its hive folder and de-duplicated within that day."""
    day = "CAST(date AS DATE)"
    in_day = (
        f"CAST(ts AS TIMESTAMPTZ) >= {day}::TIMESTAMPTZ "
        f"AND CAST(ts AS TIMESTAMPTZ) < {day}::TIMESTAMPTZ + INTERVAL 1 DAY"
        if whole_range
        else "CAST(ts AS TIMESTAMPTZ) >= $start AND CAST(ts AS TIMESTAMPTZ) < $end"
    )
    return f"""
WITH raw AS (
    SELECT * FROM read_parquet($files, union_by_name = true{
        ", hive_partitioning = true" if whole_range else ""
    })
),
usable AS (
    SELECT
        {f"{day} AS day," if whole_range else ""}
        CAST(request_id AS VARCHAR) AS request_id, CAST(ts AS TIMESTAMPTZ) AS ts,
        partner_id, app_id, endpoint, client_ip,
        TRY_CAST(status AS INTEGER) AS status, TRY_CAST(items AS BIGINT) AS items,
        TRY_CAST(bytes AS BIGINT) AS bytes, TRY_CAST(latency_ms AS BIGINT) AS latency_ms
    FROM raw
    WHERE request_id IS NOT NULL AND ts IS NOT NULL AND partner_id IS NOT NULL
      AND app_id IS NOT NULL AND endpoint IS NOT NULL
      AND TRY_CAST(status AS INTEGER) IS NOT NULL
      AND coalesce(TRY_CAST(items AS BIGINT), 0) >= 0
      AND coalesce(TRY_CAST(bytes AS BIGINT), 0) >= 0
      AND coalesce(TRY_CAST(latency_ms AS BIGINT), 0) >= 0
      AND {in_day}
),
calls AS (
    SELECT * FROM usable
    QUALIFY row_number() OVER (PARTITION BY {"day, " if whole_range else ""}request_id) = 1
)
SELECT * FROM calls
"""


DUCKDB_DAY = _duckdb_calls(whole_range=False)

#: usage_daily's figures of a group of calls, in DuckDB.
USAGE_FIGURES = """
    count(*) AS calls, sum(items) AS items, sum(bytes) AS bytes,
    count(*) FILTER (WHERE status BETWEEN 400 AND 499) AS errors_4xx,
    count(*) FILTER (WHERE status BETWEEN 500 AND 599) AS errors_5xx,
    count(*) FILTER (WHERE status = 429) AS throttled,
    quantile_disc(latency_ms, 0.95) AS latency_p95_ms
"""


def _day_files(archive: str, day: dt.date) -> list[str]:
    return sorted(glob.glob(os.path.join(archive, f"date={day.isoformat()}", "*.parquet")))


def duckdb_day(connection, archive: str, day: dt.date, out: str) -> int:
    start = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
    params = {
        "files": _day_files(archive, day),
        "start": start,
        "end": start + dt.timedelta(days=1),
    }
    if not params["files"]:
        return 0
    connection.execute(f"CREATE OR REPLACE TEMP TABLE calls AS {DUCKDB_DAY}", params)
    usage = connection.execute(
        f"SELECT partner_id, app_id, endpoint, {USAGE_FIGURES} FROM calls GROUP BY ALL"
    ).to_arrow_table()
    partner = connection.execute(
        """
        WITH per_minute AS (
            SELECT partner_id, date_trunc('minute', ts) AS minute, count(*) AS n
            FROM calls GROUP BY ALL
        ),
        peak AS (SELECT partner_id, max(n) AS peak_calls_per_minute FROM per_minute GROUP BY ALL)
        SELECT c.partner_id, count(*) AS calls, sum(items) AS items, sum(bytes) AS bytes,
               count(*) FILTER (WHERE status >= 400) AS errors,
               count(DISTINCT app_id) AS apps, count(DISTINCT endpoint) AS endpoints,
               count(DISTINCT client_ip) AS distinct_client_ips,
               any_value(p.peak_calls_per_minute) AS peak_calls_per_minute
        FROM calls c JOIN peak p USING (partner_id) GROUP BY c.partner_id
        """
    ).to_arrow_table()
    _write(out, "usage_daily", day, pl.from_arrow(usage))
    _write(out, "partner_daily", day, pl.from_arrow(partner))
    return int(pl.from_arrow(partner)["calls"].sum() or 0)


_CATEGORICAL = ("partner_id", "app_id", "endpoint", "client_ip")


def polars_day(archive: str, day: dt.date, out: str) -> int:
    files = _day_files(archive, day)
    if not files:
        return 0
    start = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
    end = start + dt.timedelta(days=1)
    schemas = [pl.read_parquet_schema(path) for path in files]
    integer_ids = all(s["request_id"].is_integer() for s in schemas)
    id_type = pl.UInt64 if integer_ids else pl.String
    frames = []
    for path in files:  # files of one day may disagree on types (text status, ...)
        frame = pl.scan_parquet(path)
        frames.append(
            frame.select(
                pl.col("request_id").cast(id_type),
                pl.col("ts").cast(pl.Datetime("us", "UTC")),
                *(pl.col(c).cast(pl.Categorical) for c in _CATEGORICAL),
                pl.col("status").cast(pl.Int32, strict=False),
                *(pl.col(c).cast(pl.Int64, strict=False) for c in ("items", "bytes", "latency_ms")),
            )
        )
    calls = (
        pl.concat(frames, how="vertical")
        .filter(
            pl.all_horizontal(
                pl.col(
                    "request_id", "ts", "partner_id", "app_id", "endpoint", "status"
                ).is_not_null()
            )
            & (pl.col("items").fill_null(0) >= 0)
            & (pl.col("bytes").fill_null(0) >= 0)
            & (pl.col("latency_ms").fill_null(0) >= 0)
            & pl.col("ts").is_between(start, end, closed="left")
        )
        .unique(subset="request_id", keep="any")
    )
    status = pl.col("status")
    usage = calls.group_by("partner_id", "app_id", "endpoint").agg(
        pl.len().alias("calls"),
        pl.col("items").sum(),
        pl.col("bytes").sum(),
        status.is_between(400, 499).sum().alias("errors_4xx"),
        status.is_between(500, 599).sum().alias("errors_5xx"),
        (status == 429).sum().alias("throttled"),
        pl.col("latency_ms").quantile(0.95, "nearest").alias("latency_p95_ms"),
    )
    peak = (
        calls.group_by("partner_id", (pl.col("ts").dt.epoch("us") // 60_000_000).alias("minute"))
        .len()
        .group_by("partner_id")
        .agg(pl.col("len").max().alias("peak_calls_per_minute"))
    )
    partner = (
        calls.group_by("partner_id")
        .agg(
            pl.len().alias("calls"),
            pl.col("items").sum(),
            pl.col("bytes").sum(),
            (status >= 400).sum().alias("errors"),
            pl.col("app_id").n_unique().alias("apps"),
            pl.col("endpoint").n_unique().alias("endpoints"),
            pl.col("client_ip").n_unique().alias("distinct_client_ips"),
        )
        .join(peak, on="partner_id")
    )
    usage_df, partner_df = pl.collect_all([usage, partner])
    _write(out, "usage_daily", day, usage_df)
    _write(out, "partner_daily", day, partner_df)
    return int(partner_df["calls"].sum() or 0)


def _write(out: str, table: str, day: dt.date, frame: pl.DataFrame) -> None:
    folder = os.path.join(out, table, f"date={day.isoformat()}")
    os.makedirs(folder, exist_ok=True)
    frame.with_columns(pl.col(pl.Categorical).cast(pl.String)).write_parquet(
        os.path.join(folder, "part-0.parquet")
    )


#: The whole range in one DuckDB query: the same rows and rules as DUCKDB_DAY, the day
#: taken from the hive folder, de-duplicated per day. DuckDB plans it over every file at
#: once (fast on all cores, memory growing with the range: the issue measured 9.4 GiB at
#: scale 0.05 against 0.18 GiB day by day).
DUCKDB_RANGE = _duckdb_calls(whole_range=True)


def duckdb_range(archive: str, days: list[dt.date], out: str) -> int:
    """usage_daily and partner_daily of every day in one query per table."""
    import duckdb

    files = [f for day in days for f in _day_files(archive, day)]
    connection = duckdb.connect()
    connection.execute("SET TimeZone = 'UTC'")
    connection.execute("SET preserve_insertion_order = false")
    connection.execute(f"CREATE TEMP TABLE calls AS {DUCKDB_RANGE}", {"files": files})
    os.makedirs(out, exist_ok=True)
    connection.execute(
        f"""
        COPY (
            SELECT day, partner_id, app_id, endpoint, {USAGE_FIGURES} FROM calls GROUP BY ALL
        ) TO '{os.path.join(out, "usage_daily.parquet")}' (FORMAT parquet)
        """
    )
    connection.execute(
        f"""
        COPY (
            WITH per_minute AS (
                SELECT day, partner_id, date_trunc('minute', ts) AS minute, count(*) AS n
                FROM calls GROUP BY ALL
            ),
            peak AS (
                SELECT day, partner_id, max(n) AS peak_calls_per_minute FROM per_minute GROUP BY ALL
            )
            SELECT c.day, c.partner_id, count(*) AS calls, sum(items) AS items,
                   sum(bytes) AS bytes, count(*) FILTER (WHERE status >= 400) AS errors,
                   count(DISTINCT app_id) AS apps, count(DISTINCT endpoint) AS endpoints,
                   count(DISTINCT client_ip) AS distinct_client_ips,
                   any_value(p.peak_calls_per_minute) AS peak_calls_per_minute
            FROM calls c JOIN peak p USING (day, partner_id) GROUP BY c.day, c.partner_id
        ) TO '{os.path.join(out, "partner_daily.parquet")}' (FORMAT parquet)
        """
    )
    (calls,) = connection.execute("SELECT count(*) FROM calls").fetchone()
    return int(calls)


def run(engine: str, archive: str, out: str, start: dt.date, end: dt.date) -> int:
    days = [start + dt.timedelta(days=i) for i in range((end - start).days + 1)]
    if engine == "duckdb-range":
        return duckdb_range(archive, days, out)
    if engine == "duckdb":
        import duckdb

        connection = duckdb.connect()
        connection.execute("SET TimeZone = 'UTC'")
        connection.execute("SET preserve_insertion_order = false")
        return sum(duckdb_day(connection, archive, day, out) for day in days)
    with ThreadPoolExecutor(max_workers=2) as pool:
        return sum(pool.map(lambda day: polars_day(archive, day, out), days))


if __name__ == "__main__":
    engine, archive, out, first, last = sys.argv[1:6]
    calls = run(engine, archive, out, dt.date.fromisoformat(first), dt.date.fromisoformat(last))
    print(calls)
