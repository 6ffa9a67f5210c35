"""What a day's flags were computed from, and whether that still holds.

A day's flags are a function of more than its own tables: the month so far (monthly
item limit), the partner's previous ``history_days`` of partner_daily (volume flags),
contracts.yaml, the detection thresholds and the analysts' dismissed volume flags. Each
flags commit records all of them in its manifest (callaudit.manifests): the SHA-256 of
contracts.yaml, a hash of the detection settings, the dismissals in its window, and the
commit id of every day of ``daily_tables`` in ``[day - history_days, day]``. A report
compares that record with the present and refuses the days whose flags no longer match,
naming them and why (:func:`stale_flag_days`).

Which flag days a re-run of day D affects (:func:`dependent_days`): the flags of every
later day whose window holds D, that is ``D + 1 .. D + history_days``. The monthly rule
needs only the rest of D's month (at most 30 days) and the volume detector's baseline
reaches ``7 x baseline_weeks`` days forward, but a day whose flag changes can change
what later baselines keep out, so its effect goes on: ``history_days`` (two baseline
windows) is where the pipeline bounds it, the same window every flags run reads and
declares to Dagster, so a day's flags are the same whether computed alone or as a
dependent. Only days whose flags exist are recomputed: a day never flagged gets its
flags when it is first processed.
"""

import datetime as dt
import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from callaudit import warehouse
from callaudit.flags.settings import DetectorSettings
from callaudit.manifests import DayManifest
from callaudit.reviews import dismissed_in
from callaudit.schema import ANOMALY_FLAGS

#: The group (and table) of the flags' manifests.
FLAGS = ANOMALY_FLAGS.name
#: Key of the inputs record in a flags commit's manifest ``info``.
INPUTS = "inputs"


def detection_sha256(detection: DetectorSettings) -> str:
    """A hash of the detection thresholds (the values, not the file they came from)."""
    return hashlib.sha256(detection.model_dump_json().encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class FlagInputs:
    """The inputs of flags other than the daily tables, as they are now."""

    contracts_sha256: str
    detection_sha256: str
    #: (partner_id, day, flag) of every dismissed volume flag (callaudit.reviews).
    dismissed: frozenset[tuple[str, dt.date, str]] = frozenset()

    def record(self, day: dt.date, history_days: int, daily: Mapping[dt.date, DayManifest]) -> dict:
        """What the flags of ``day`` were computed from, for its manifest."""
        first = day - dt.timedelta(days=history_days)
        return {
            "contracts_sha256": self.contracts_sha256,
            "detection_sha256": self.detection_sha256,
            "history_days": history_days,
            "dismissed": dismissed_in(self.dismissed, first, day),
            "daily_tables": {
                d.isoformat(): m.commit for d, m in sorted(daily.items()) if first <= d <= day
            },
        }


def _day_list(changed: Iterable[str]) -> str:
    listed = sorted(changed)
    return ", ".join(listed[:3]) + (f" and {len(listed) - 3} more" if len(listed) > 3 else "")


def why_stale(
    record: Mapping | None, day: dt.date, inputs: FlagInputs, daily: Mapping[dt.date, DayManifest]
) -> str | None:
    """Why the flags of ``day`` (computed as ``record`` says) no longer match the
    present, or None when they do. ``daily`` holds the daily_tables manifests in force
    for (at least) the day's window."""
    if not record:
        return "no record of what they were computed from"
    if record.get("contracts_sha256") != inputs.contracts_sha256:
        return "computed with another contracts.yaml"
    if record.get("detection_sha256") != inputs.detection_sha256:
        return "computed with other detection settings"
    history_days = int(record.get("history_days", 0))
    first = day - dt.timedelta(days=history_days)
    if record.get("dismissed", []) != dismissed_in(inputs.dismissed, first, day):
        return "computed with other dismissed volume flags"
    used: dict[str, str] = record.get("daily_tables", {})
    now = {d.isoformat(): m.commit for d, m in daily.items() if first <= d <= day}
    rerun = [d for d in used if d in now and now[d] != used[d]]
    if rerun:
        return f"tables of {_day_list(rerun)} re-run after them"
    added = [d for d in now if d not in used]
    if added:
        return f"tables of {_day_list(added)} written after them"
    removed = [d for d in used if d not in now]
    if removed:
        return f"tables of {_day_list(removed)} removed after them"
    return None


def stale_flag_days(
    warehouse_url: str, days: Iterable[dt.date], inputs: FlagInputs
) -> dict[dt.date, str]:
    """The ``days`` whose flags exist but are stale, each with the reason. Days without
    flags are not listed here (a report names them as missing)."""
    days = sorted(set(days))
    if not days:
        return {}
    flags = warehouse.day_manifests(warehouse_url, FLAGS, days=days)
    if not flags:
        return {}
    widest = max(int((m.info.get(INPUTS) or {}).get("history_days", 0)) for m in flags.values())
    daily = warehouse.day_manifests(
        warehouse_url, warehouse.DAY_TABLES, days[0] - dt.timedelta(days=widest), days[-1]
    )
    stale = {}
    for day, manifest in flags.items():
        reason = why_stale(manifest.info.get(INPUTS), day, inputs, daily)
        if reason:
            stale[day] = reason
    return stale


def dependent_days(
    warehouse_url: str, end: dt.date, history_days: int, *, covered_until: dt.date | None = None
) -> list[dt.date]:
    """Days after ``end`` whose flags depend on a day up to ``end`` and exist: they must
    be recomputed with it. ``covered_until``: a later run of the same backfill recomputes
    the days up to it anyway."""
    first = max(end, covered_until or end) + dt.timedelta(days=1)
    last = end + dt.timedelta(days=history_days)
    if last < first:
        return []
    return sorted(warehouse.day_manifests(warehouse_url, FLAGS, first, last))
