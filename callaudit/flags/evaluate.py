"""Compare detected flags with a generator's ground truth (truth/flags.csv).

A flag counts as found when the truth has the same (date, partner_id, flag); the metric
is ignored, so a spike seen on both calls and items is one hit.
"""

import datetime as dt
import io
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from callaudit.schema import DATE_COLUMN, FLAG_NAMES

_KEY = [DATE_COLUMN, "partner_id", "flag"]


@dataclass(frozen=True)
class KindScore:
    """Precision, recall and F1 of one flag kind, with the days behind them."""

    flag: str
    tp: int
    fp: int
    fn: int
    missed: list[tuple[dt.date, str]] = field(default_factory=list)
    extra: list[tuple[dt.date, str]] = field(default_factory=list)

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


@dataclass(frozen=True)
class Evaluation:
    kinds: list[KindScore]

    def kind(self, flag: str) -> KindScore:
        return next(k for k in self.kinds if k.flag == flag)

    @property
    def perfect(self) -> bool:
        return all(k.fp == 0 and k.fn == 0 for k in self.kinds)


def read_truth(path: str | Path) -> pl.DataFrame:
    """truth/flags.csv (date,partner_id,flag,metric,detail) with ``date`` as pl.Date."""
    from callaudit.storage import read_bytes

    frame = pl.read_csv(
        io.BytesIO(read_bytes(str(path))),
        schema_overrides={
            DATE_COLUMN: pl.String(),
            "partner_id": pl.String(),
            "flag": pl.String(),
            "metric": pl.String(),
            "detail": pl.String(),
        },
    )
    return frame.with_columns(pl.col(DATE_COLUMN).str.to_date("%Y-%m-%d"))


def evaluate(
    flags: pl.DataFrame,
    truth: pl.DataFrame,
    *,
    start: dt.date | None = None,
    end: dt.date | None = None,
) -> Evaluation:
    """Score ``flags`` against ``truth`` per flag kind, on (date, partner_id, flag).

    ``start``/``end`` restrict both sides to the days that were actually evaluated.
    """
    found = _keys(flags, start, end)
    planted = _keys(truth, start, end)
    others = (set(planted["flag"]) | set(found["flag"])) - set(FLAG_NAMES)
    kinds = [*FLAG_NAMES, *sorted(others)]
    scores = []
    for kind in kinds:
        mine = found.filter(pl.col("flag") == kind)
        real = planted.filter(pl.col("flag") == kind)
        hits = mine.join(real, on=_KEY, how="semi")
        extra = mine.join(real, on=_KEY, how="anti")
        missed = real.join(mine, on=_KEY, how="anti")
        scores.append(
            KindScore(
                flag=kind,
                tp=hits.height,
                fp=extra.height,
                fn=missed.height,
                missed=list(missed.select(DATE_COLUMN, "partner_id").iter_rows()),
                extra=list(extra.select(DATE_COLUMN, "partner_id").iter_rows()),
            )
        )
    return Evaluation(kinds=scores)


def _keys(frame: pl.DataFrame, start: dt.date | None, end: dt.date | None) -> pl.DataFrame:
    keys = frame.select(
        pl.col(DATE_COLUMN).cast(pl.Date), pl.col("partner_id", "flag").cast(pl.String)
    ).unique()
    if start is not None:
        keys = keys.filter(pl.col(DATE_COLUMN) >= start)
    if end is not None:
        keys = keys.filter(pl.col(DATE_COLUMN) <= end)
    return keys.sort(_KEY)


def format_evaluation(evaluation: Evaluation, *, max_days: int = 10) -> str:
    """A text table of precision/recall/F1/tp/fp/fn per kind, then the missed and
    extra days (at most ``max_days`` listed per kind)."""
    lines = [f"{'flag':<22} {'precision':>9} {'recall':>7} {'f1':>6} {'tp':>6} {'fp':>6} {'fn':>6}"]
    for k in evaluation.kinds:
        lines.append(
            f"{k.flag:<22} {k.precision:>9.3f} {k.recall:>7.3f} {k.f1:>6.3f} "
            f"{k.tp:>6} {k.fp:>6} {k.fn:>6}"
        )
    for k in evaluation.kinds:
        for label, days in (("missed", k.missed), ("extra", k.extra)):
            if not days:
                continue
            shown = ", ".join(f"{day.isoformat()} {partner}" for day, partner in days[:max_days])
            more = f" and {len(days) - max_days} more" if len(days) > max_days else ""
            lines.append(f"{k.flag} {label} ({len(days)}): {shown}{more}")
    return "\n".join(lines)


def evaluation_title(flags: pl.DataFrame, truth_path: str, start: dt.date, end: dt.date) -> str:
    """What the table below it counts, and why its counts differ from the flag rows a
    backfill prints: a flag day is (date, partner, flag); a volume flag has one row per
    metric, so a spike seen on both calls and items is two rows and one flag day."""
    rows = flags.group_by("flag").len().rename({"len": "rows"})
    days = flags.select(DATE_COLUMN, "partner_id", "flag").unique().group_by("flag").len()
    differ = [
        f"{flag} {n_rows} rows = {n_days} flag day{'' if n_days == 1 else 's'}"
        for flag, n_rows, n_days in rows.join(days, on="flag").sort("flag").iter_rows()
        if n_rows != n_days
    ]
    lines = [
        f"Flags found against the planted truth ({truth_path}), {start} to {end}",
        "Counted in flag days (a day, a partner, a flag kind), as the truth plants them: "
        "tp found and planted, fp found only, fn planted only.",
    ]
    if differ:
        lines.append(
            "A volume flag has a row per metric (calls, items), so flag rows can outnumber "
            "flag days: " + ", ".join(differ) + "."
        )
    return "\n".join(lines) + "\n"
