"""The Dagster instance the CLI records its runs in (the same one `dagster dev` shows).

Its home is the ``dagster_home`` setting (``DAGSTER_HOME``, default ``./dagster_home``).
A new home gets callaudit's instance template, shipped as package data
(``callaudit.pipelines/dagster.yaml``), so a wheel works without a checkout.
"""

import os
from importlib.resources import files
from pathlib import Path

import dagster as dg

from callaudit.settings import Settings

#: The instance settings made for one 2-core machine, copied into a new DAGSTER_HOME.
INSTANCE_TEMPLATE = files("callaudit.pipelines") / "dagster.yaml"


def ensure_dagster_home(settings: Settings) -> Path:
    """Create the instance folder if needed, with the template, and point Dagster at it."""
    home = Path(settings.dagster_home).resolve()
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():
        config.write_text(INSTANCE_TEMPLATE.read_text())
    os.environ["DAGSTER_HOME"] = str(home)
    return home


def get_instance(settings: Settings) -> dg.DagsterInstance:
    ensure_dagster_home(settings)
    return dg.DagsterInstance.get()
