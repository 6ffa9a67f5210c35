"""The Dagster instance the CLI records its runs in (the same one `dagster dev` shows)."""

import os
import shutil
from pathlib import Path

import dagster as dg

_TEMPLATE = Path(__file__).resolve().parent.parent / "dagster_home" / "dagster.yaml"


def ensure_dagster_home() -> Path:
    """Use $DAGSTER_HOME, or ./dagster_home, creating it with the project's dagster.yaml."""
    home = Path(os.environ.get("DAGSTER_HOME") or Path.cwd() / "dagster_home").resolve()
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists() and _TEMPLATE.exists():
        shutil.copyfile(_TEMPLATE, config)
    os.environ["DAGSTER_HOME"] = str(home)
    return home


def get_instance() -> dg.DagsterInstance:
    ensure_dagster_home()
    return dg.DagsterInstance.get()
