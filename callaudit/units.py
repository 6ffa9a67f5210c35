"""The word for what the API returns: one label everywhere a count of items is written.

contracts.yaml names it (``item_unit: tweets``; default ``items``, validated in
callaudit/contracts.py), so a report, a flag's detail and a CSV header never mix
"items" and "tweets". It is a plural noun; the singular drops the trailing "s"
("tweets" -> "tweet").
"""

from callaudit.contracts import Contracts

#: The label without an ``item_unit`` in contracts.yaml: the model's default, one value.
DEFAULT_ITEM_UNIT: str = Contracts.model_fields["item_unit"].default


def item_unit(contracts: Contracts | None) -> str:
    """The plural label for items that ``contracts`` configures (the default without any)."""
    return contracts.item_unit if contracts is not None else DEFAULT_ITEM_UNIT


def singular(unit: str) -> str:
    """ "tweets" -> "tweet"; a unit that does not end in "s" is its own singular."""
    return unit[:-1] if unit.endswith("s") and len(unit) > 1 else unit
