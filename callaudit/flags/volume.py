"""Statistical volume flags: a partner's day compared with its own recent history.

For each partner and metric (calls, items) the days are scored in date order:

1. The value is put on a log scale, ``y = log(1 + value)``, so a doubling is the same
   step for a small partner as for a large one.
2. The baseline is the usable days of the previous ``baseline_weeks`` weeks; the scored
   day is never part of it, and days flagged earlier are kept out.
3. Day-of-week seasonality: each weekday's offset is the median of that weekday minus
   the median of the window (zero when the window has too few of that weekday).
4. Expected = median of the deseasonalised baseline + the scored weekday's offset;
   sigma = 1.4826 x MAD of the deseasonalised baseline, floored at ``mad_floor``.
5. A spike needs ``z >= z_threshold`` and ``observed >= spike_ratio x expected``; a
   drop needs ``z <= -z_threshold`` and ``observed <= drop_ratio x expected``. Both
   conditions keep ordinary weekly rhythm and holiday dips (smaller than the relative
   change) from being flagged.
6. Fewer than ``min_history_days`` usable days in the window: the day is not scored;
   an ``insufficient_history`` note is returned instead (notes are not flags). Only
   days with usage count as history, so a partner that calls on a few scattered days
   (or has stopped) is never scored against a baseline of zeros.

Reviewed days: an analyst may dismiss a volume flag (callaudit.reviews): the day was
normal after all (a planned migration, an agreed launch). A dismissed day is still
scored and its flag still raised, so the review stays attached to it, but from then on
it counts as a normal day: it is usable in later baselines and it breaks a run of
consecutive flags instead of extending it. (Every other flagged day, confirmed or not
yet reviewed, stays out of the baseline.) So dismissing a spike can change the flags of
the weeks after it, which is why a flags run records the dismissals it applied.

Level shifts: a partner whose usage moves to a new level for good would otherwise be
flagged forever, since its flagged days never enter the baseline. After
``level_shift_days`` consecutive flagged days in the same direction the new level is
accepted: those days become usable again and the baseline's level (median and MAD)
is taken only from the first of them onwards, while the weekday offsets still come from
the whole window. So a level shift raises at most ``level_shift_days`` flags.

State (flagged days, accepted shifts) depends on earlier days, which is why a day's
flags need ``history_days_needed`` days of partner_daily before it.
"""

import bisect
import datetime as dt
import math
from collections.abc import Collection
from dataclasses import dataclass

import numpy as np
import polars as pl

from callaudit.contracts import Contracts
from callaudit.flags.rules import FLAG_COLUMNS
from callaudit.flags.settings import DetectorSettings, VolumeThresholds
from callaudit.schema import DATE_COLUMN
from callaudit.units import DEFAULT_ITEM_UNIT, item_unit

#: Columns of the notes frame (days that were not scored and why).
NOTE_COLUMNS: dict[str, pl.DataType] = {
    DATE_COLUMN: pl.Date(),
    "partner_id": pl.String(),
    "metric": pl.String(),
    "note": pl.String(),
    "history_days": pl.Int64(),
    "needed_days": pl.Int64(),
}

INSUFFICIENT_HISTORY = "insufficient_history"

_MAD_TO_SIGMA = 1.4826
_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def history_days_needed(settings: DetectorSettings) -> int:
    """Days of partner_daily a caller must supply before the first day to score.

    Two baseline windows: one for the baseline itself and one before it, so the days
    kept out of that baseline were decided with a full window too; a daily run then
    reproduces what a year backfill computes in one pass. At least 31 days so the
    month-to-date item rule sees the whole month.
    """
    return max(31, 2 * settings.widest_window_days)


@dataclass(frozen=True)
class VolumeResult:
    flags: pl.DataFrame
    notes: pl.DataFrame


@dataclass(frozen=True)
class _Score:
    expected: float
    z: float
    threshold_up: float
    threshold_down: float


def _median(values: list[float]) -> float:
    """Median of a short list (a baseline window, at most a few dozen days)."""
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return float(ordered[middle])
    return float(ordered[middle - 1] + ordered[middle]) / 2


def _score(
    y: list[float],
    weekday: list[int],
    window: list[int],
    level_days: list[int],
    t: int,
    params: VolumeThresholds,
) -> _Score:
    """Score day ``t`` against the baseline days ``window`` (indices into ``y``).

    Plain Python on lists: a window is a few dozen values, where NumPy's per-call
    overhead (about 30 array operations a day) was most of a year's scoring; the
    arithmetic is the same IEEE double arithmetic, so the scores are identical."""
    centre = _median([y[i] for i in window])
    by_weekday: list[list[float]] = [[] for _ in range(7)]
    for i in window:
        by_weekday[weekday[i]].append(y[i])
    offsets = [0.0] * 7
    for k, same in enumerate(by_weekday):
        if len(same) >= params.min_days_per_weekday:
            offsets[k] = _median(same) - centre
    residuals = [y[i] - offsets[weekday[i]] for i in level_days]
    level = _median(residuals)
    sigma = max(_MAD_TO_SIGMA * _median([abs(r - level) for r in residuals]), params.mad_floor)
    expected_log = level + offsets[weekday[t]]
    expected = math.expm1(expected_log)
    z = (y[t] - expected_log) / sigma
    up = max(params.spike_ratio * expected, math.expm1(expected_log + params.z_threshold * sigma))
    down = min(params.drop_ratio * expected, math.expm1(expected_log - params.z_threshold * sigma))
    return _Score(expected=expected, z=z, threshold_up=up, threshold_down=max(down, 0.0))


def _series_flags(
    days: list[dt.date],
    values: np.ndarray,
    params: VolumeThresholds,
    start: dt.date,
    end: dt.date,
    normal: Collection[tuple[dt.date, str]] = (),
) -> tuple[list[dict], list[dict]]:
    """Flags and notes for one partner's metric; ``days`` sorted, one value each.
    ``normal``: (day, flag) an analyst dismissed: raised, then treated as a normal day."""
    y = np.log1p(np.maximum(values.astype(float), 0.0)).tolist()
    weekday = [d.weekday() for d in days]
    ordinal = [d.toordinal() for d in days]
    usable = [False] * len(days)
    active = (values > 0).tolist()
    window_days = 7 * params.baseline_weeks
    regime_start = 0
    streak: list[int] = []
    streak_sign = 0
    flags: list[dict] = []
    notes: list[dict] = []
    for t, day in enumerate(days):
        reported = start <= day <= end
        first = bisect.bisect_left(ordinal, ordinal[t] - window_days, 0, t)
        window = [i for i in range(first, t) if usable[i] and active[i]]
        if len(window) < params.min_history_days:
            usable[t] = True
            streak, streak_sign = [], 0
            if reported:
                notes.append(
                    {
                        DATE_COLUMN: day,
                        "metric": None,
                        "note": INSUFFICIENT_HISTORY,
                        "history_days": len(window),
                        "needed_days": params.min_history_days,
                    }
                )
            continue
        level_days = [i for i in window if i >= regime_start]
        if len(level_days) == 0:
            level_days = window
        score = _score(y, weekday, window, level_days, t, params)
        observed = float(values[t])
        sign = 0
        if score.z >= params.z_threshold and observed >= params.spike_ratio * score.expected:
            sign = 1
        elif score.z <= -params.z_threshold and observed <= params.drop_ratio * score.expected:
            sign = -1
        if sign == 0:
            usable[t] = True
            streak, streak_sign = [], 0
            continue
        name = "volume_spike" if sign > 0 else "volume_drop"
        if reported:
            flags.append(
                {
                    DATE_COLUMN: day,
                    "flag": name,
                    "observed": observed,
                    "expected": score.expected,
                    "threshold": score.threshold_up if sign > 0 else score.threshold_down,
                    "score": score.z,
                    "severity": "info"
                    if abs(score.z) < params.z_threshold + params.info_band
                    else "warning",
                }
            )
        if (day, name) in normal:
            usable[t] = True
            streak, streak_sign = [], 0
            continue
        streak = [*streak, t] if sign == streak_sign else [t]
        streak_sign = sign
        if len(streak) >= params.level_shift_days:
            for i in streak:
                usable[i] = True
            regime_start = streak[0]
            streak, streak_sign = [], 0
    return flags, notes


def _complete_series(
    partner_daily: pl.DataFrame, data_days: pl.Series, params: VolumeThresholds
) -> pl.DataFrame:
    """One partner's rows with days without a row filled as zero from its first day on
    (only days that have data for some partner: an archive gap is not a zero)."""
    if not params.missing_day_is_zero:
        return partner_daily
    first = partner_daily[DATE_COLUMN].min()
    grid = pl.DataFrame({DATE_COLUMN: data_days}).filter(pl.col(DATE_COLUMN) >= first)
    metrics = params.metrics
    return grid.join(partner_daily, on=DATE_COLUMN, how="left").with_columns(
        [pl.col(m).fill_null(0) for m in metrics]
    )


def _describe(name: str, metric: str, flag: dict, unit: str = DEFAULT_ITEM_UNIT) -> str:
    day: dt.date = flag[DATE_COLUMN]
    observed, expected = flag["observed"], flag["expected"]
    verb = {"calls": "made {} calls", "items": "retrieved {} " + unit}.get(
        metric, "had {} " + metric
    )
    ratio = observed / expected if expected > 0 else math.inf
    ratio_text = f"{ratio:.1f}x" if ratio >= 0.1 else f"{ratio:.2f}x"
    kind = "spike" if flag["flag"] == "volume_spike" else "drop"
    return (
        f"{name} {verb.format(f'{observed:,.0f}')} on {day.isoformat()}, {ratio_text} the "
        f"{expected:,.0f} expected for a {_WEEKDAYS[day.weekday()]} "
        f"(volume {kind}, robust z = {flag['score']:+.1f})"
    )


def volume_flags(
    partner_daily: pl.DataFrame,
    settings: DetectorSettings,
    *,
    start: dt.date,
    end: dt.date,
    contracts: Contracts | None = None,
    dismissed: Collection[tuple[str, dt.date, str]] = (),
) -> VolumeResult:
    """volume_spike / volume_drop flags for days in [start, end], and the notes of
    days that could not be scored. ``partner_daily`` holds earlier days as history
    (``history_days_needed``) and has a ``date`` column. ``dismissed``: (partner_id,
    day, flag) of volume flags an analyst dismissed; those days count as normal."""
    normal: dict[str, set[tuple[dt.date, str]]] = {}
    for partner_id, day, flag in dismissed:
        normal.setdefault(partner_id, set()).add((day, flag))
    flag_rows: list[dict] = []
    note_rows: list[dict] = []
    data_days = partner_daily[DATE_COLUMN].unique().sort()
    for (partner_id,), rows in partner_daily.sort(DATE_COLUMN).group_by(
        "partner_id", maintain_order=True
    ):
        params = settings.for_partner(partner_id)
        if not params.enabled:
            continue
        series = _complete_series(rows, data_days, params)
        name = contracts.display_name(partner_id) if contracts else partner_id
        unit = item_unit(contracts)
        days = series[DATE_COLUMN].to_list()
        for metric in params.metrics:
            values = series[metric].cast(pl.Float64).to_numpy()
            flags, notes = _series_flags(
                days, values, params, start, end, normal.get(partner_id, ())
            )
            for flag in flags:
                flag_rows.append(
                    {
                        **flag,
                        "partner_id": partner_id,
                        "metric": metric,
                        "agreement_id": None,
                        "detail": _describe(name, metric, flag, unit),
                    }
                )
            note_rows.extend({**note, "partner_id": partner_id, "metric": metric} for note in notes)
    flags_frame = pl.DataFrame(flag_rows, schema=FLAG_COLUMNS)
    notes_frame = pl.DataFrame(note_rows, schema=NOTE_COLUMNS)
    return VolumeResult(flags=flags_frame, notes=notes_frame)
