"""The one resource every asset reads: where the data is and how to treat bad files.

Defaults come from the same environment variables the CLI reads, so the CLI, `dagster
dev` and a scheduled run see the same data.
"""

import os

import dagster as dg

from callaudit.contracts import Contracts, load_contracts


def _env(name: str, default: str) -> str:
    return os.environ.get(name, default)


class CallauditConfig(dg.ConfigurableResource):
    """Locations of the archive, agreements, warehouse and reports (local or s3://)."""

    archive: str = _env("CALLAUDIT_ARCHIVE", "data/raw")
    contracts: str = _env("CALLAUDIT_CONTRACTS", "data/contracts.yaml")
    warehouse: str = _env("CALLAUDIT_WAREHOUSE", "data/warehouse")
    reports: str = _env("CALLAUDIT_REPORTS", "data/reports")
    detection_settings: str = _env("CALLAUDIT_DETECTION", "")
    skip_corrupt_files: bool = _env("CALLAUDIT_SKIP_CORRUPT_FILES", "0") == "1"
    workers: int = int(_env("CALLAUDIT_WORKERS", "2"))
    progress: bool = False

    def load_contracts(self) -> Contracts:
        return load_contracts(self.contracts)
