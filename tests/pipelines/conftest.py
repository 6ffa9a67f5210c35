"""A small real raw archive and an agreements file, as the sensors and schedules see them."""

import datetime as dt
from pathlib import Path

import dagster as dg
import pytest

from callaudit.assets.resources import AuditResource
from tests.rawlogs import call, write_raw

OLD_DAYS = [dt.date(2022, 3, 1), dt.date(2022, 3, 2), dt.date(2022, 3, 3)]

CONTRACTS_YAML = """\
currency: USD
partners:
  - id: acme
    agreements:
      - {id: acme-2022, start: 2022-01-01}
"""


def write_day(archive: Path, day: dt.date, name: str = "part-0.parquet", calls: int = 3) -> Path:
    rows = [
        call(i, ts=dt.datetime(day.year, day.month, day.day, 10, 0, i, tzinfo=dt.UTC))
        for i in range(calls)
    ]
    return write_raw(archive, rows, day=day, name=name)


@pytest.fixture
def archive(tmp_path: Path) -> Path:
    """Three days of raw logs, one file each."""
    raw = tmp_path / "raw"
    for day in OLD_DAYS:
        write_day(raw, day)
    return raw


@pytest.fixture
def config(tmp_path: Path, archive: Path) -> AuditResource:
    contracts = tmp_path / "contracts.yaml"
    contracts.write_text(CONTRACTS_YAML)
    return AuditResource(
        archive=str(archive),
        contracts=str(contracts),
        warehouse=str(tmp_path / "warehouse"),
        reports=str(tmp_path / "reports"),
    )


@pytest.fixture
def instance():
    with dg.DagsterInstance.ephemeral() as instance:
        yield instance


def mark_processed(instance: dg.DagsterInstance, *days: dt.date) -> None:
    """Record that the daily tables of ``days`` were materialised, as a run would."""
    for day in days:
        instance.report_runless_asset_event(
            dg.AssetMaterialization(asset_key="ingest_daily", partition=day.isoformat())
        )
