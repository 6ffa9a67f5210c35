"""Analysts' reviews of flags (flag_reviews.yaml, beside contracts.yaml).

A flag is evidence only once someone has looked at it. An analyst records, per flag
(partner, day, flag name), whether it is ``confirmed`` or ``dismissed``, why, who and
when::

    reviews:
      - partner: openai
        day: 2022-05-22
        flag: volume_spike
        status: dismissed
        note: Planned re-index after the v2 migration, agreed by email on 2022-05-10.
        reviewer: jdoe
        reviewed_at: 2022-05-24

The report shows each flag's review, lists unreviewed critical flags first and leaves
dismissed flags out of its findings. A dismissed *volume* flag also changes detection:
the analyst says the day was normal, so the volume detector treats it as a normal day
(it enters the baseline of later days and does not count towards a level shift),
instead of keeping it out as it does every other flagged day. A confirmed flag changes
nothing in detection: a flagged day is kept out of the baseline already.

The file is validated as strictly as contracts.yaml: an unknown key, a flag name that
does not exist, a dismissal without a note, a review dated before its day or the same
flag reviewed twice is an error naming the file, line, review and field.
"""

import datetime as dt
import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal

import polars as pl
from pydantic import BaseModel, ConfigDict, Field, Strict, ValidationError, model_validator

from callaudit.schema import DATE_COLUMN, FLAG_NAMES
from callaudit.yaml_source import line_index, line_of, load_mapping

#: The reviews file's name when it sits beside contracts.yaml (CALLAUDIT_REVIEWS overrides).
REVIEWS_FILE = "flag_reviews.yaml"

CONFIRMED, DISMISSED = "confirmed", "dismissed"
#: Flags whose dismissal changes what the volume detector takes as normal.
VOLUME_FLAGS = ("volume_spike", "volume_drop")

#: Columns of :func:`reviews_frame`, joined onto flags by (date, partner_id, flag).
REVIEW_COLUMNS: dict[str, pl.DataType] = {
    DATE_COLUMN: pl.Date(),
    "partner_id": pl.String(),
    "flag": pl.String(),
    "review": pl.String(),
    "review_note": pl.String(),
    "reviewer": pl.String(),
    "reviewed_at": pl.String(),
}


class ReviewsError(ValueError):
    """The reviews file is unreadable or breaks the format; the message says where."""


class _ReviewError(ValueError):
    """A cross-field check of one review; ``field`` names the offending field."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


_Day = Annotated[dt.date, Strict(False)]
_Moment = Annotated[dt.datetime, Strict(False)]


class Review(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    partner: str = Field(min_length=1)
    day: _Day
    flag: Literal[FLAG_NAMES]  # type: ignore[valid-type]
    status: Literal["confirmed", "dismissed"]
    note: str = ""
    reviewer: str = Field(min_length=1)
    #: A day (midnight UTC) or a moment; a moment without a zone is UTC.
    reviewed_at: _Moment

    @model_validator(mode="after")
    def _consistent(self) -> "Review":
        if self.status == DISMISSED and not self.note.strip():
            raise _ReviewError(
                "a dismissal needs a note saying why the flag does not stand", "note"
            )
        if self.reviewed_utc.date() < self.day:
            raise _ReviewError(
                f"{self.reviewed_at.isoformat()} is before the flagged day {self.day}",
                "reviewed_at",
            )
        return self

    @property
    def key(self) -> tuple[str, dt.date, str]:
        return (self.partner, self.day, self.flag)

    @property
    def reviewed_utc(self) -> dt.datetime:
        moment = self.reviewed_at
        return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment


class Reviews(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    reviews: list[Review] = []

    @model_validator(mode="after")
    def _once_per_flag(self) -> "Reviews":
        seen: dict[tuple[str, dt.date, str], int] = {}
        for index, review in enumerate(self.reviews):
            if review.key in seen:
                raise _ReviewError(
                    f"{review.partner} {review.day} {review.flag} is already reviewed by "
                    f"review #{seen[review.key] + 1}: one review per flag",
                    f"reviews.{index}",
                )
            seen[review.key] = index
        return self

    @cached_property
    def by_key(self) -> dict[tuple[str, dt.date, str], Review]:
        return {r.key: r for r in self.reviews}

    def dismissed_volume(self) -> frozenset[tuple[str, dt.date, str]]:
        """(partner, day, flag) of every dismissed volume flag: days the analyst says
        were normal, for the volume detector."""
        return frozenset(
            r.key for r in self.reviews if r.status == DISMISSED and r.flag in VOLUME_FLAGS
        )


def dismissed_in(
    dismissed: Iterable[tuple[str, dt.date, str]], start: dt.date, end: dt.date
) -> list[str]:
    """The dismissals with a day in ``start..end``, as sorted ``partner day flag``
    lines: what a flags run applied, recorded so a later report can tell its flags
    were computed with the reviews it reads."""
    return sorted(f"{p} {d.isoformat()} {f}" for p, d, f in dismissed if start <= d <= end)


def review_fingerprints(reviews: Reviews) -> dict[str, str]:
    """``partner day flag`` -> ``status digest`` of each review: what the late-data
    sensor remembers between ticks to tell which reviews a changed file changed."""
    return {
        " ".join((r.partner, r.day.isoformat(), r.flag)): (
            f"{r.status} {hashlib.sha256(r.model_dump_json().encode()).hexdigest()[:16]}"
        )
        for r in reviews.reviews
    }


@dataclass(frozen=True)
class ReviewChanges:
    """What changed between two states of the reviews file (see :func:`review_changes`)."""

    #: Days whose volume flag was dismissed, or no longer is: the volume detector's
    #: baselines change from there, so the flags of these days and of the days whose
    #: history holds them are stale.
    detection_days: list[dt.date]
    #: Days of every review added, removed or changed: the reports that show them.
    report_days: list[dt.date]


def review_changes(before: Mapping[str, str], after: Mapping[str, str]) -> ReviewChanges:
    """Compare two :func:`review_fingerprints`. Only a dismissal of a volume flag given or
    taken back changes flags; a confirmation, a note or a non-volume flag's review
    changes only what a report shows."""

    def dismissed_volume(fingerprints: Mapping[str, str]) -> set[str]:
        return {
            key
            for key, print_ in fingerprints.items()
            if print_.startswith(DISMISSED + " ") and key.rsplit(" ", 1)[1] in VOLUME_FLAGS
        }

    def day(key: str) -> dt.date:  # the key is "partner day flag"; a partner id may hold spaces
        return dt.date.fromisoformat(key.rsplit(" ", 2)[1])

    changed = {k for k in before.keys() | after.keys() if before.get(k) != after.get(k)}
    flipped = dismissed_volume(before) ^ dismissed_volume(after)
    return ReviewChanges(
        detection_days=sorted({day(k) for k in flipped}),
        report_days=sorted({day(k) for k in changed}),
    )


def reviews_frame(reviews: Reviews) -> pl.DataFrame:
    """One row per review, keyed like anomaly_flags (date, partner_id, flag)."""
    rows = [
        {
            DATE_COLUMN: r.day,
            "partner_id": r.partner,
            "flag": r.flag,
            "review": r.status,
            "review_note": r.note,
            "reviewer": r.reviewer,
            "reviewed_at": _moment_text(r.reviewed_utc),
        }
        for r in reviews.reviews
    ]
    return pl.DataFrame(rows, schema=REVIEW_COLUMNS)


def _moment_text(moment: dt.datetime) -> str:
    utc = moment.astimezone(dt.UTC)
    if (utc.hour, utc.minute, utc.second) == (0, 0, 0):
        return utc.date().isoformat()
    return utc.strftime("%Y-%m-%d %H:%M UTC")


# --- reading the file ------------------------------------------------------------------


def _which(raw: Any, index: int) -> str:
    """ "review #3 (openai 2022-05-22 volume_spike)" for an error message."""
    try:
        item = raw["reviews"][index]
        ident = " ".join(str(item[k]) for k in ("partner", "day", "flag") if k in item)
    except (KeyError, IndexError, TypeError):
        ident = ""
    return f"review #{index + 1}" + (f" ({ident})" if ident else "")


def parse_reviews(text: str, source: str = REVIEWS_FILE) -> Reviews:
    """Parse and validate reviews from YAML text; errors name the line, review and field."""
    raw = load_mapping(text, source, ReviewsError, "a mapping with a `reviews:` list")
    try:
        return Reviews.model_validate(raw)
    except ValidationError as exc:
        lines = line_index(text)
        messages = []
        for error in exc.errors():
            loc: tuple[Any, ...] = tuple(error["loc"])
            cause = error.get("ctx", {}).get("error")
            if isinstance(cause, _ReviewError):
                loc = (*loc, *(int(p) if p.isdigit() else p for p in cause.field.split(".")))
            # pydantic names the Literal choice it tried (`reviews.0.flag`); keep the field.
            loc = tuple(p for p in loc if not (isinstance(p, str) and p.startswith("literal[")))
            line = line_of(lines, loc)
            msg = error["msg"].removeprefix("Value error, ")
            if error["type"] == "extra_forbidden":
                msg = "unknown key (a review has partner, day, flag, status, note, reviewer, reviewed_at)"
            if error["type"] == "missing":
                msg = "required"
            where = "top level"
            if len(loc) >= 2 and loc[0] == "reviews" and isinstance(loc[1], int):
                where = _which(raw, loc[1])
                if len(loc) > 2:
                    where += f", field {'.'.join(str(p) for p in loc[2:])}"
            elif loc:
                where = f"field {'.'.join(str(p) for p in loc)}"
            messages.append(f"{source}: line {line}: {where}: {msg}")
        raise ReviewsError("\n".join(messages)) from None


def load_reviews(path: str | Path, *, required: bool = False) -> Reviews:
    """Reviews from a YAML file (local path or s3:// URL). A file that does not exist is
    no reviews, unless ``required`` (it was named explicitly): then an error."""
    from callaudit.storage import exists, read_text

    if not exists(str(path)):
        if required:
            raise ReviewsError(f"{path}: reviews file not found (CALLAUDIT_REVIEWS)")
        return Reviews()
    return parse_reviews(read_text(str(path)), source=str(path))


def load_reviews_for(settings: Any) -> Reviews:
    """The reviews a run uses: ``settings.reviews`` (must exist when set) or the file
    beside contracts.yaml (optional). A run's config pins the location the submitter
    resolved (pipelines/backfill.py), so a pinned path that is the file beside
    contracts.yaml stays optional: its absence means no reviews, not a missing file."""
    beside = replace(settings, reviews="").reviews_location
    named = bool(settings.reviews) and settings.reviews != beside
    return load_reviews(settings.reviews_location, required=named)
