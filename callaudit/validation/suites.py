"""Expectation suites: one hand-editable JSON file per validated table in ``expectations/``.

The files are Great Expectations 1.x suites as GX itself serialises them (``name``,
``expectations`` with ``type``, ``kwargs``, ``severity`` and ``meta``), so GX loads them
unchanged and a data engineer edits them without Python. Values known only at run time
are GX suite parameters: ``{"$PARAMETER": "name"}``.
"""

import json
import os
from pathlib import Path

#: Folder of the suites; ``CALLAUDIT_EXPECTATIONS`` overrides it (e.g. for a deployment).
DEFAULT_DIR = Path(__file__).resolve().parents[2] / "expectations"


def expectations_dir() -> Path:
    return Path(os.environ.get("CALLAUDIT_EXPECTATIONS") or DEFAULT_DIR)


def suite_path(name: str) -> Path:
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
    return sorted(p.stem for p in expectations_dir().glob("*.json"))
