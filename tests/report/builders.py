"""Small warehouses for the report tests, written partition by partition."""

import datetime as dt
import hashlib
from pathlib import Path

import polars as pl

from callaudit import warehouse
from callaudit.contracts import Contracts, parse_contracts
from callaudit.flags.freshness import INPUTS, FlagInputs, detection_sha256
from callaudit.flags.settings import DetectorSettings
from callaudit.flags.volume import history_days_needed
from callaudit.schema import ANOMALY_FLAGS, INGEST_DAILY, NETWORK_DAILY, PARTNER_DAILY, USAGE_DAILY
from callaudit.validation.reconcile import usage_rollup

CONTRACTS_YAML = """\
currency: USD
list_pricing: {per_1k_items: 0.5, per_1k_calls: 1.0}
restricted_networks:
  - {cidr: 192.0.2.0/24, label: gov-agency-a}
partners:
  - id: acme
    name: Acme
    agreements:
      - id: acme-2022
        start: 2022-01-01
        end: 2022-02-14
        apps: [acme-search]
        endpoints: ["GET /2/tweets/*"]
        pricing: {monthly_fee: 3000, included_items: 1000, overage_per_1k_items: 2.0}
  - id: globex
    name: Globex
    agreements:
      - id: globex-2022
        start: 2021-06-01
        pricing: {monthly_fee: 100}
        allow_networks: [gov-agency-a]
"""


def contracts() -> Contracts:
    return parse_contracts(CONTRACTS_YAML)


def usage(
    partner_id: str,
    calls: int,
    items: int,
    *,
    app_id: str = "acme-search",
    endpoint: str = "GET /2/tweets/search/recent",
    bytes_: int | None = None,
    errors_4xx: int = 0,
) -> dict:
    return {
        "partner_id": partner_id,
        "app_id": app_id,
        "endpoint": endpoint,
        "calls": calls,
        "items": items,
        "bytes": bytes_ if bytes_ is not None else items * 2_500,
        "errors_4xx": errors_4xx,
        "errors_5xx": 0,
        "throttled": 0,
        "restricted_calls": 0,
        "latency_p95_ms": 120,
    }


def network(partner_id: str, app_id: str, label: str, calls: int, items: int) -> dict:
    return {
        "partner_id": partner_id,
        "app_id": app_id,
        "network_label": label,
        "calls": calls,
        "items": items,
        "distinct_client_ips": 1,
    }


def flag(partner_id: str, name: str, detail: str, severity: str = "critical") -> dict:
    return {
        "partner_id": partner_id,
        "flag": name,
        "severity": severity,
        "metric": "calls",
        "observed": 10.0,
        "threshold": 5.0,
        "expected": None,
        "score": 2.0,
        "agreement_id": None,
        "detail": detail,
    }


def write_day(
    wh: Path | str,
    day: dt.date,
    usage_rows: list[dict],
    *,
    network_rows: list[dict] = (),
    flag_rows: list[dict] | None = None,
    duplicates: int = 0,
    quarantined_null_key: int = 0,
    skipped: list[str] = (),
) -> None:
    """One day of the tables the report reads. ``flag_rows=None`` writes no
    anomaly_flags partition (flags not computed); [] writes an empty one."""
    wh = str(wh)
    calls = sum(r["calls"] for r in usage_rows)
    warehouse.write_partition(
        wh, USAGE_DAILY, day, pl.DataFrame(usage_rows, schema=USAGE_DAILY.schema)
    )
    warehouse.write_partition(
        wh, NETWORK_DAILY, day, pl.DataFrame(list(network_rows), schema=NETWORK_DAILY.schema)
    )
    # partner_daily as the daily pass computes it: usage_daily rolled up (the report's
    # blocking checks reconcile its summary with it before publishing)
    rolled = usage_rollup(
        pl.DataFrame(usage_rows, schema=USAGE_DAILY.schema).with_columns(pl.lit(day).alias("date"))
    ).with_columns(
        pl.min_horizontal("calls", pl.lit(1)).alias("peak_calls_per_minute"),
        pl.min_horizontal("calls", pl.lit(1)).alias("distinct_client_ips"),
    )
    warehouse.write_partition(wh, PARTNER_DAILY, day, rolled)
    ingest = {
        "files": 1 + len(skipped),
        "rows_read": calls + duplicates + quarantined_null_key,
        "rows_valid": calls,
        "duplicates": duplicates,
        "quarantined": quarantined_null_key,
        "quarantined_null_key": quarantined_null_key,
        "quarantined_uncastable_value": 0,
        "quarantined_negative_count": 0,
        "quarantined_implausible_count": 0,
        "quarantined_ts_outside_day": 0,
        "skipped_files": len(skipped),
        "skipped_file_names": "\n".join(skipped),
    }
    warehouse.write_partition(
        wh, INGEST_DAILY, day, pl.DataFrame([ingest], schema=INGEST_DAILY.schema)
    )
    if flag_rows is not None:
        write_flags(wh, day, flag_rows)


def write_flags(
    wh: Path | str, day: dt.date, flag_rows: list[dict], *, contracts_yaml: str = CONTRACTS_YAML
) -> None:
    """Commit ``flag_rows`` as the flags of ``day`` with the record a flags run writes:
    computed with ``contracts_yaml``, the default detection settings, no dismissals and
    the daily tables in force now (so a report reads them as fresh)."""
    wh = str(wh)
    detection = DetectorSettings()
    history_days = history_days_needed(detection)
    inputs = FlagInputs(
        hashlib.sha256(contracts_yaml.encode("utf-8")).hexdigest(), detection_sha256(detection)
    )
    daily = warehouse.day_manifests(
        wh, warehouse.DAY_TABLES, day - dt.timedelta(days=history_days), day
    )
    warehouse.commit_day(
        wh,
        ANOMALY_FLAGS.name,
        day,
        {ANOMALY_FLAGS: pl.DataFrame(flag_rows, schema=ANOMALY_FLAGS.schema)},
        info={INPUTS: inputs.record(day, history_days, daily)},
    )


def days(start: dt.date, count: int) -> list[dt.date]:
    return [start + dt.timedelta(days=i) for i in range(count)]
