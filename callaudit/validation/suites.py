"""Expectation suites: one hand-editable JSON file per validated table in ``expectations/``.

The files are Great Expectations 1.x suites as GX itself serialises them (``name``,
``expectations`` with ``type``, ``kwargs``, ``severity`` and ``meta``), so GX loads them
unchanged and a data engineer edits them without Python. Values known only at run time
are GX suite parameters: ``{"$PARAMETER": "name"}``.
"""

import json
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path

from callaudit.settings import read_setting

#: The suites shipped with callaudit: the repository's ``expectations/`` folder, installed
#: as the package data ``callaudit.expectations`` (a wheel works without a checkout).
SHIPPED_SUITES = "callaudit.expectations"


def expectations_dir() -> Path | Traversable:
    """The suites folder: ``CALLAUDIT_EXPECTATIONS`` (e.g. a deployment's own suites) or
    the shipped ones."""
    override = read_setting("expectations")
    return Path(override) if override else files(SHIPPED_SUITES)


def suite_path(name: str) -> Path | Traversable:
    return expectations_dir() / f"{name}.json"


def load_suite(name: str) -> dict:
    """The suite ``name`` as a plain dict; errors name the file."""
    path = suite_path(name)
    try:
        suite = json.loads(path.read_text())
    except FileNotFoundError:
        raise FileNotFoundError(f"no expectation suite {name!r}: {path} is missing") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not valid JSON: {exc}") from None
    if not isinstance(suite.get("expectations"), list):
        raise ValueError(f"{path}: a suite needs an 'expectations' list")
    suite.setdefault("name", name)
    return suite


def suite_names() -> list[str]:
    return sorted(
        p.name.removesuffix(".json")
        for p in expectations_dir().iterdir()
        if p.name.endswith(".json")
    )
