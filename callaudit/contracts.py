"""Partner agreements (contracts.yaml): loading, validation and look-ups.

The file is validated once, strictly: a typo in a limit must not silently disable the
check it names. Errors name the file, line, partner, agreement and field.
"""

import datetime as dt
import fnmatch
import hashlib
import ipaddress
import itertools
import re
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    Strict,
    ValidationError,
    field_validator,
    model_validator,
)

from callaudit.yaml_source import line_index, line_of, load_mapping


class ContractsError(ValueError):
    """contracts.yaml is unreadable or breaks the format; the message says where."""


class _FieldError(ValueError):
    """A cross-field check failed; ``loc`` is the offending field relative to the model
    that raised it, so the message can name the field and its line (pydantic would
    otherwise only locate the whole model)."""

    def __init__(self, message: str, loc: tuple[str | int, ...]) -> None:
        super().__init__(message)
        self.loc = loc


class _Strict(BaseModel):
    # strict: a quoted number or `true` in a limit is a mistake, not a value to coerce.
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


#: Dates stay lax so both YAML dates and quoted ISO strings are accepted.
_Day = Annotated[dt.date, Strict(False)]


#: Counts are compared with int64 sums: a limit beyond int64 is a typo, not a limit.
INT64_MAX = 2**63 - 1


class Limits(_Strict):
    calls_per_day: int | None = Field(default=None, ge=0, le=INT64_MAX)
    items_per_month: int | None = Field(default=None, ge=0, le=INT64_MAX)
    calls_per_minute: int | None = Field(default=None, ge=0, le=INT64_MAX)


class Pricing(_Strict):
    monthly_fee: float = Field(default=0.0, ge=0, allow_inf_nan=False)
    included_items: int = Field(default=0, ge=0, le=INT64_MAX)
    overage_per_1k_items: float = Field(default=0.0, ge=0, allow_inf_nan=False)


class ListPricing(_Strict):
    per_1k_items: float = Field(default=0.0, ge=0, allow_inf_nan=False)
    per_1k_calls: float = Field(default=0.0, ge=0, allow_inf_nan=False)


class RestrictedNetwork(_Strict):
    cidr: str
    label: str = Field(min_length=1)

    @field_validator("cidr")
    @classmethod
    def _valid_cidr(cls, value: str) -> str:
        try:
            ipaddress.ip_network(value, strict=False)
        except ValueError as exc:
            raise ValueError(f"not a CIDR network: {value!r}") from exc
        return value

    @cached_property
    def network(self) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
        return ipaddress.ip_network(self.cidr, strict=False)


_GLOB_ALLOWED = re.compile(r"^[A-Z]+ /[^\s]*$")


class Agreement(_Strict):
    id: str = Field(min_length=1)
    start: _Day
    end: _Day | None = None
    apps: list[str] | None = None
    endpoints: list[str] | None = None
    limits: Limits = Limits()
    pricing: Pricing = Pricing()
    allow_networks: list[str] = []

    @field_validator("endpoints")
    @classmethod
    def _valid_globs(cls, value: list[str] | None) -> list[str] | None:
        for pattern in value or []:
            if not _GLOB_ALLOWED.match(pattern):
                raise ValueError(
                    f"endpoint glob {pattern!r} must look like 'METHOD /route/*' "
                    "(upper-case method, one space, a path starting with /)"
                )
            if pattern.count("[") != pattern.count("]"):
                raise ValueError(f"endpoint glob {pattern!r} has an unbalanced '['")
        return value

    @model_validator(mode="after")
    def _end_after_start(self) -> "Agreement":
        if self.end is not None and self.end < self.start:
            raise _FieldError(f"end {self.end} is before start {self.start}", ("end",))
        return self

    def in_force(self, day: dt.date) -> bool:
        return self.start <= day and (self.end is None or day <= self.end)

    def allows_app(self, app_id: str) -> bool:
        return self.apps is None or app_id in self.apps

    def allows_endpoint(self, endpoint: str) -> bool:
        """Glob match where ``*`` also matches ``/`` (fnmatch semantics)."""
        if self.endpoints is None:
            return True
        return any(fnmatch.fnmatchcase(endpoint, pattern) for pattern in self.endpoints)


class Partner(_Strict):
    id: str = Field(min_length=1)
    name: str | None = None
    agreements: list[Agreement] = []

    @model_validator(mode="after")
    def _no_overlap(self) -> "Partner":
        seen: set[str] = set()
        for index, agreement in enumerate(self.agreements):
            if agreement.id in seen:
                raise _FieldError(
                    f"agreement id {agreement.id!r} is used twice",
                    ("agreements", index, "id"),
                )
            seen.add(agreement.id)
        order = sorted(range(len(self.agreements)), key=lambda i: self.agreements[i].start)
        for i, j in itertools.pairwise(order):
            before, after = self.agreements[i], self.agreements[j]
            if before.end is None or before.end >= after.start:
                raise _FieldError(
                    f"starts {after.start}, while agreement {before.id!r} "
                    f"({before.start}..{before.end or 'open-ended'}) is still in force: "
                    "agreements of one partner must not overlap",
                    ("agreements", j, "start"),
                )
        return self

    @property
    def display_name(self) -> str:
        return self.name or self.id

    def agreement_on(self, day: dt.date) -> Agreement | None:
        for agreement in self.agreements:
            if agreement.in_force(day):
                return agreement
        return None


#: A unit label: plain lower-case words (letters, single spaces or hyphens), plural.
_UNIT = re.compile(r"^[^\W\d_A-Z]+(?:[ -][^\W\d_A-Z]+)*$")
UNIT_MAX_LENGTH = 30


class Contracts(_Strict):
    currency: str = "USD"
    #: What the API returns, plural, as every report format writes it ("tweets").
    item_unit: str = "items"
    list_pricing: ListPricing = ListPricing()
    restricted_networks: list[RestrictedNetwork] = []
    partners: list[Partner] = []

    @field_validator("item_unit")
    @classmethod
    def _plain_unit(cls, value: str) -> str:
        # It is written into sentences, headers and CSV cells of every report format:
        # markup, digits or a long phrase there would be a mistake, not a label.
        if len(value) > UNIT_MAX_LENGTH or not _UNIT.match(value) or value != value.lower():
            raise ValueError(
                f"{value!r} is not a unit label: give a short plural noun in lower-case "
                f"words (letters, single spaces or hyphens, at most {UNIT_MAX_LENGTH} "
                "characters), e.g. tweets"
            )
        return value

    @model_validator(mode="after")
    def _consistent(self) -> "Contracts":
        seen: set[str] = set()
        for index, partner in enumerate(self.partners):
            if partner.id in seen:
                raise _FieldError(
                    f"partner id {partner.id!r} is used twice", ("partners", index, "id")
                )
            seen.add(partner.id)
        labels = {n.label for n in self.restricted_networks}
        for p_index, partner in enumerate(self.partners):
            for a_index, agreement in enumerate(partner.agreements):
                unknown = sorted(set(agreement.allow_networks) - labels)
                if unknown:
                    raise _FieldError(
                        f"names network labels {unknown} that restricted_networks does not define",
                        ("partners", p_index, "agreements", a_index, "allow_networks"),
                    )
        return self

    @cached_property
    def by_id(self) -> dict[str, Partner]:
        return {p.id: p for p in self.partners}

    def partner(self, partner_id: str) -> Partner | None:
        return self.by_id.get(partner_id)

    def agreement_on(self, partner_id: str, day: dt.date) -> Agreement | None:
        partner = self.by_id.get(partner_id)
        return partner.agreement_on(day) if partner else None

    def display_name(self, partner_id: str) -> str:
        partner = self.by_id.get(partner_id)
        return partner.display_name if partner else partner_id


def _describe(loc: tuple[Any, ...], raw: Any) -> str:
    """Say 'partner X, agreement Y, field Z' for a pydantic error location."""
    parts: list[str] = []
    node = raw
    fields: list[str] = []
    for i, key in enumerate(loc):
        if isinstance(node, dict) and key in node:
            node = node[key]
        elif isinstance(node, list) and isinstance(key, int) and key < len(node):
            node = node[key]
            parent = loc[i - 1] if i else None
            if parent == "partners" and isinstance(node, dict):
                parts.append(f"partner {node.get('id', f'#{key + 1}')!r}")
                continue
            if parent == "agreements" and isinstance(node, dict):
                parts.append(f"agreement {node.get('id', f'#{key + 1}')!r}")
                continue
            if parent == "restricted_networks" and isinstance(node, dict):
                parts.append(f"restricted network #{key + 1}")
                continue
        if key not in ("partners", "agreements", "restricted_networks") and not isinstance(
            key, int
        ):
            fields.append(str(key))
        elif isinstance(key, int) and fields:
            fields[-1] = f"{fields[-1]}[{key}]"
    if fields:
        parts.append("field " + ".".join(fields))
    return ", ".join(parts) or "top level"


def parse_contracts(text: str, source: str = "contracts.yaml") -> Contracts:
    """Parse and validate agreements from YAML text; errors name line and field."""
    raw = load_mapping(text, source, ContractsError, "a mapping at the top level")
    try:
        return Contracts.model_validate(raw)
    except ValidationError as exc:
        lines = line_index(text)
        messages = []
        for error in exc.errors():
            loc = tuple(error["loc"])
            cause = error.get("ctx", {}).get("error")
            if isinstance(cause, _FieldError):
                loc = (*loc, *cause.loc)
            line = line_of(lines, loc)
            msg = error["msg"].removeprefix("Value error, ")
            if error["type"] == "extra_forbidden":
                msg = "unknown key (not part of the contracts format)"
            messages.append(f"{source}: line {line}: {_describe(loc, raw)}: {msg}")
        raise ContractsError("\n".join(messages)) from None


def contracts_warnings(contracts: Contracts, source: str = "contracts.yaml") -> list[str]:
    """What is allowed but almost certainly not meant: a file with no partner at all
    (empty, or only comments) makes every call of every partner a no_agreement flag."""
    if not contracts.partners:
        return [
            f"{source}: no partner agreement at all (an empty file?): every call of every "
            "partner will be flagged no_agreement and priced at list_pricing"
        ]
    return []


def load_contracts(path: str | Path) -> Contracts:
    """Read and validate a contracts.yaml file (local path or s3:// URL)."""
    return load_contracts_hashed(path)[0]


def load_contracts_hashed(path: str | Path) -> tuple[Contracts, str]:
    """The agreements and the SHA-256 of the very bytes they were parsed from, so a
    result computed with them can record which contracts.yaml it used."""
    from callaudit.storage import read_bytes

    try:
        data = read_bytes(str(path))
    except FileNotFoundError:
        raise ContractsError(f"{path}: contracts file not found") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ContractsError(
            f"{path}: line {line}: byte {data[exc.start]:#04x} is not UTF-8 text "
            "(save the file as UTF-8)"
        ) from None
    return parse_contracts(text, source=str(path)), hashlib.sha256(data).hexdigest()
