"""Records of what the plan planted: the row generator applies them, the truth lists them.

They sit in their own module so that every builder of the plan can produce them and
``plan.py`` can hold them without an import cycle.
"""

import datetime as dt
from dataclasses import dataclass


@dataclass(frozen=True)
class Replacement:
    """Rewrite ``count`` rows of a partner-day: ``column`` takes one of ``values``."""

    column: str  # app_id | endpoint | client_ip
    count: int
    values: tuple[str, ...]


@dataclass(frozen=True)
class PlantedEvent:
    day: dt.date
    partner_id: str
    kind: str
    detail: str


@dataclass(frozen=True)
class VolumeFlag:
    day: dt.date
    partner_id: str
    flag: str  # volume_spike | volume_drop
    metric: str  # calls | items
    detail: str
