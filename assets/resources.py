"""The resource every asset, check and sensor reads: where the data is, how to treat it.

Its fields are the run-time settings. A field left unset is resolved from the
environment of the process that executes the run, at run time, through
``callaudit.settings`` (the Dagster equivalent of an ``EnvVar`` with a default): the
CLI passes every location explicitly in the run config, so a run launched on a worker
reads exactly what the submitter resolved.
"""

import dagster as dg

from callaudit.contracts import Contracts, load_contracts
from callaudit.reviews import Reviews, load_reviews_for
from callaudit.settings import Settings, load_settings


class AuditResource(dg.ConfigurableResource):
    """Locations of the archive, agreements, warehouse and reports (local or s3://),
    and how to read them; unset fields come from CALLAUDIT_* at run time."""

    archive: str | None = None
    contracts: str | None = None
    reviews: str | None = None
    warehouse: str | None = None
    reports: str | None = None
    skip_corrupt_files: bool | None = None
    fail_on_gaps: bool | None = None
    workers: int | None = None
    progress: bool = False

    def settings(self) -> Settings:
        """Settings of this run: the fields that are set, the environment for the rest."""
        return load_settings(
            archive=self.archive,
            contracts=self.contracts,
            reviews=self.reviews,
            warehouse=self.warehouse,
            reports=self.reports,
            skip_corrupt_files=self.skip_corrupt_files,
            fail_on_gaps=self.fail_on_gaps,
            workers=self.workers,
        )

    def load_contracts(self) -> Contracts:
        return load_contracts(self.settings().contracts)

    def load_reviews(self) -> Reviews:
        """The analysts' flag reviews (none when the file beside contracts.yaml is absent)."""
        return load_reviews_for(self.settings())


#: The key assets, checks and sensors ask for the resource by.
AUDIT_RESOURCE_KEY = "audit"
