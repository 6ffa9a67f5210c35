"""Thresholds of the statistical volume detector: global defaults, per-partner overrides.

An optional YAML file tunes them without touching code:

```yaml
defaults:            # any field of VolumeThresholds
  z_threshold: 4.0
partners:
  microsoft:         # only the fields that differ for this partner
    spike_ratio: 3.0
  tiny-startup:
    enabled: false
```

The file is validated as strictly as contracts.yaml: an unknown key or a wrong type is
an error naming the line and field, because a misspelt threshold would otherwise leave
the default silently in force.
"""

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model, model_validator
from pydantic.fields import FieldInfo


class DetectionSettingsError(ValueError):
    """The detection settings file is unreadable or breaks the format."""


def _constraints(field: FieldInfo) -> dict[str, Any]:
    """The ge/gt/le/lt bounds of a field, to repeat them on its optional override."""
    bounds: dict[str, Any] = {}
    for item in field.metadata:
        for name in ("ge", "gt", "le", "lt"):
            if getattr(item, name, None) is not None:
                bounds[name] = getattr(item, name)
    return bounds


class VolumeThresholds(BaseModel):
    """How one partner's daily calls and items are judged against its own history.

    A day is flagged only when it is both statistically unusual (robust z-score) and
    materially different (relative change), so ordinary noise, weekly rhythm and
    holiday dips pass. The defaults find every planted spike and drop of the synthetic
    twitter-2022 scenario with no false flag (checked on several seeds and scales with
    ``callaudit evaluate``).
    """

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    enabled: bool = True
    #: Metrics of partner_daily that are scored, each on its own.
    metrics: list[str] = ["calls", "items"]
    #: Baseline window: this many weeks before the scored day (the day itself excluded).
    baseline_weeks: int = Field(default=8, ge=1, le=52)
    #: Usable (unflagged) days the window must hold before a day is scored.
    min_history_days: int = Field(default=21, ge=3)
    #: Same-weekday days needed to estimate that weekday's seasonal offset; fewer -> 0.
    min_days_per_weekday: int = Field(default=3, ge=1)
    #: |robust z| on log(1 + value) at or above which a day may be flagged.
    z_threshold: float = Field(default=4.0, gt=0)
    #: A spike also needs observed >= spike_ratio x expected.
    spike_ratio: float = Field(default=2.0, gt=1)
    #: A drop also needs observed <= drop_ratio x expected.
    drop_ratio: float = Field(default=0.5, gt=0, lt=1)
    #: Floor of the robust sigma (log units): a very steady series must not turn
    #: a 1 % wobble into a huge z-score.
    mad_floor: float = Field(default=0.05, gt=0)
    #: After this many consecutive flagged days in the same direction the new level is
    #: accepted as normal: the baseline restarts at the first of those days.
    level_shift_days: int = Field(default=7, ge=2)
    #: Flags with |z| below z_threshold + info_band are reported as info, not warning.
    info_band: float = Field(default=1.0, ge=0)
    #: Days with no partner_daily row, between the partner's first day and the last day
    #: with data for anyone, count as zero (a partner that goes silent is a drop).
    missing_day_is_zero: bool = True

    @model_validator(mode="after")
    def _known_metrics(self) -> "VolumeThresholds":
        unknown = sorted(set(self.metrics) - {"calls", "items", "bytes", "errors"})
        if unknown:
            raise ValueError(f"metrics {unknown} are not partner_daily volume columns")
        if self.min_history_days > 7 * self.baseline_weeks:
            raise ValueError(
                f"min_history_days {self.min_history_days} cannot be met by a "
                f"{self.baseline_weeks}-week baseline"
            )
        return self


#: The same fields as VolumeThresholds, all optional: a partner's overrides.
VolumeOverrides = create_model(
    "VolumeOverrides",
    __config__=ConfigDict(extra="forbid", frozen=True, strict=True),
    **{
        name: (field.annotation | None, Field(default=None, **_constraints(field)))
        for name, field in VolumeThresholds.model_fields.items()
    },
)


class DetectorSettings(BaseModel):
    """Global thresholds plus partial per-partner overrides."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    defaults: VolumeThresholds = VolumeThresholds()
    partners: dict[str, VolumeOverrides] = {}  # type: ignore[valid-type]

    @model_validator(mode="after")
    def _overrides_consistent(self) -> "DetectorSettings":
        for partner_id in self.partners:
            try:
                self.for_partner(partner_id)
            except ValidationError as exc:
                message = exc.errors()[0]["msg"].removeprefix("Value error, ")
                raise ValueError(f"partner {partner_id!r}: {message}") from None
        return self

    def for_partner(self, partner_id: str) -> VolumeThresholds:
        """The defaults with this partner's overrides applied."""
        override = self.partners.get(partner_id)
        if override is None:
            return self.defaults
        changes = override.model_dump(exclude_none=True)
        return VolumeThresholds.model_validate({**self.defaults.model_dump(), **changes})

    @property
    def widest_window_days(self) -> int:
        """Longest baseline window any partner uses, in days."""
        weeks = [self.defaults.baseline_weeks] + [
            self.for_partner(p).baseline_weeks for p in self.partners
        ]
        return 7 * max(weeks)


def parse_detection_settings(text: str, source: str = "detection.yaml") -> DetectorSettings:
    """Validate settings from YAML text; errors name the line, partner and field."""
    try:
        raw = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise DetectionSettingsError(f"{source}: not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise DetectionSettingsError(f"{source}: line 1: expected a mapping at the top level")
    try:
        return DetectorSettings.model_validate(raw)
    except ValidationError as exc:
        messages = [_locate(error, text, source) for error in exc.errors()]
        raise DetectionSettingsError("\n".join(messages)) from None


def _locate(error: Any, text: str, source: str) -> str:
    loc = [str(part) for part in error["loc"]]
    msg = error["msg"].removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        msg = "unknown key (not a detection setting)"
    line = _line_of(text, loc)
    if len(loc) > 2 and loc[0] == "partners":
        where = f"partner {loc[1]!r}, field {'.'.join(loc[2:])}"
    else:
        where = f"field {'.'.join(loc)}" if loc else "top level"
    return f"{source}: line {line}: {where}: {msg}"


def _line_of(text: str, loc: list[str]) -> int | None:
    """1-based line of the deepest key of ``loc`` present in the YAML text."""
    node = yaml.compose(text, Loader=yaml.SafeLoader)
    line = 1
    for key in loc:
        if not isinstance(node, yaml.MappingNode):
            break
        for key_node, value_node in node.value:
            if key_node.value == key:
                line = key_node.start_mark.line + 1
                node = value_node
                break
        else:
            break
    return line


def load_detection_settings(path: str | Path | None) -> DetectorSettings:
    """Settings from a YAML file (local path or s3:// URL), or the defaults for None."""
    if path is None:
        return DetectorSettings()
    from callaudit.storage import read_text

    try:
        text = read_text(str(path))
    except FileNotFoundError:
        raise DetectionSettingsError(f"{path}: detection settings file not found") from None
    return parse_detection_settings(text, source=str(path))
