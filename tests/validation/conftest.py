"""A small clean warehouse, built the real way: raw Parquet files -> process_days."""

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import pytest

from callaudit import warehouse
from callaudit.contracts import load_contracts
from callaudit.raw_to_tables import process_days
from tests.rawlogs import at, call, write_raw

DAYS = [dt.date(2022, 3, 1), dt.date(2022, 3, 2), dt.date(2022, 3, 3)]
UNKNOWN_PARTNER = "shadowco"

CONTRACTS = """\
currency: USD
restricted_networks:
  - {cidr: 192.0.2.0/24, label: gov-agency-a}
partners:
  - id: acme
    name: Acme
    agreements:
      - id: acme-2022
        start: 2022-01-01
        apps: [acme-search, acme-ads]
        endpoints: ["GET /2/tweets/*"]
  - id: globex
    name: Globex
    agreements:
      - id: globex-2022
        start: 2022-01-01
"""


def day_rows(day: dt.date, unknown_partner: bool) -> list[dict]:
    """A realistic little day: two partners, apps, endpoints, errors, one duplicate, one
    quarantined row, a restricted-network call."""
    base = day.toordinal() * 1000
    rows = []
    for i in range(40):
        rows.append(
            call(
                base + i,
                ts=at(9 + i % 10, i % 60, day=day),
                partner_id="acme" if i % 3 else "globex",
                app_id=("acme-search" if i % 2 else "acme-ads") if i % 3 else "globex-feed",
                endpoint="GET /2/tweets/search/recent" if i % 4 else "GET /2/tweets/:id",
                status=(200, 200, 200, 429, 503)[i % 5],
                items=0 if i % 5 in (3, 4) else 10 + i,
                latency_ms=100 + i,
                client_ip="192.0.2.9" if i == 7 else "203.0.113.7",
            )
        )
    rows.append(rows[0])  # the shipper is at-least-once
    rows.append(call(base + 99, ts=at(12, day=day), items=-5))  # quarantined
    if unknown_partner:
        rows.append(
            call(base + 98, ts=at(13, day=day), partner_id=UNKNOWN_PARTNER, app_id="shadow-app")
        )
    return rows


@dataclass
class Warehouse:
    """Where a test's data lives, and the days it holds."""

    root: Path
    archive: str
    contracts: str
    url: str
    reports: str
    days: list[dt.date]

    def corrupt(self, table: str, day: dt.date, change) -> None:
        """Rewrite one partition through ``change(frame) -> frame``, on purpose."""
        frame = warehouse.read_partition(self.url, table, day)
        warehouse.write_partition(self.url, table, day, change(frame))


def build_archive(root: Path) -> Warehouse:
    archive = root / "raw"
    for day in DAYS:
        write_raw(archive, day_rows(day, unknown_partner=day == DAYS[1]), day=day)
    contracts = root / "contracts.yaml"
    contracts.write_text(CONTRACTS)
    return Warehouse(
        root, str(archive), str(contracts), str(root / "warehouse"), str(root / "reports"), DAYS
    )


@pytest.fixture
def raw_archive(tmp_path) -> Warehouse:
    """Raw files and contracts only: for runs that build the tables themselves."""
    return build_archive(tmp_path)


@pytest.fixture
def clean(tmp_path) -> Warehouse:
    """Raw files processed into the day-grain tables, untouched."""
    wh = build_archive(tmp_path)
    networks = load_contracts(wh.contracts).restricted_networks
    _, failures = process_days(wh.archive, wh.url, DAYS, networks, workers=1)
    assert not failures
    return wh
