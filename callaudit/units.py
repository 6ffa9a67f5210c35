"""The word for what the API returns: one label everywhere a count of items is written.

contracts.yaml names it (``item_unit: tweets``; default ``items``), so a report, a flag's
detail and a CSV header never mix "items" and "tweets". It is a plural noun; the
singular drops the trailing "s" ("tweets" -> "tweet").

The ``item_unit`` key needs callaudit/contracts.py to accept it (pending); until then
every Contracts object says "items".
"""

from typing import Any

DEFAULT_ITEM_UNIT = "items"


def item_unit(contracts: Any) -> str:
    """The plural label for items that ``contracts`` (a Contracts object) configures."""
    unit = getattr(contracts, "item_unit", None) if contracts is not None else None
    return str(unit).strip() if unit and str(unit).strip() else DEFAULT_ITEM_UNIT


def singular(unit: str) -> str:
    """ "tweets" -> "tweet"; a unit that does not end in "s" is its own singular."""
    return unit[:-1] if unit.endswith("s") and len(unit) > 1 else unit
