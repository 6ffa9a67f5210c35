"""Column contracts of the raw call logs and of every warehouse table.

These names and types are interfaces (see DESIGN.md): the generator writes them, the
ingest normalises to them, the assets publish them as Dagster column schemas and the
Great Expectations suites check them. Change a table here only together with its
readers.
"""

from dataclasses import dataclass
from typing import TypeVar

import polars as pl

#: A frame or a lazy frame: Table.conform returns the kind it is given.
FrameT = TypeVar("FrameT", pl.DataFrame, pl.LazyFrame)

# --- raw call logs -------------------------------------------------------------------

#: Normalised raw columns, in order, with the dtype every file is cast to.
RAW_SCHEMA: dict[str, pl.DataType] = {
    "request_id": pl.String(),
    "ts": pl.Datetime("us", "UTC"),
    "partner_id": pl.String(),
    "app_id": pl.String(),
    "endpoint": pl.String(),
    "status": pl.Int32(),
    "items": pl.Int64(),
    "bytes": pl.Int64(),
    "latency_ms": pl.Int64(),
    "client_ip": pl.String(),
}

#: A row missing any of these cannot be attributed to a call of a partner.
KEY_COLUMNS: tuple[str, ...] = ("request_id", "ts", "partner_id", "app_id", "endpoint")

#: Counts that can never be negative.
COUNT_COLUMNS: tuple[str, ...] = ("items", "bytes", "latency_ms")

#: Columns that must convert to integers (files sometimes carry them as text).
INTEGER_COLUMNS: tuple[str, ...] = ("status", "items", "bytes", "latency_ms")

#: The most one API call can plausibly carry; a larger count is quarantined as
#: ``implausible_count``, never summed. Each bound is far above real traffic (stream
#: calls carry up to ~1,100 items, pages at most 500; a generated full-size day's largest
#: response is 1.4 MB, its slowest call 7.7 s) and below 2^53, where floats are exact:
#: - items: 10^9, more tweets than the whole platform publishes in a day (~5 x 10^8);
#: - bytes: 10^12, a terabyte in one response;
#: - latency_ms: one week, longer than any connection (streams included) is held open;
#:   a bigger figure is a unit mix-up (us or ns logged as ms) or garbage.
#: With these bounds an int64 daily sum needs 9.2 x 10^9 calls (items) or 9.2 x 10^6
#: calls (bytes) of one partner, app and endpoint to overflow; the aggregate still
#: proves every sum exact or refuses the day (callaudit/aggregate.py).
PLAUSIBLE_MAX: dict[str, int] = {
    "items": 10**9,
    "bytes": 10**12,
    "latency_ms": 7 * 24 * 3600 * 1000,
}

#: Stable quarantine reasons, in the order they are tested (first match wins).
QUARANTINE_REASONS: tuple[str, ...] = (
    "null_key",
    "uncastable_value",
    "negative_count",
    "implausible_count",
    "ts_outside_day",
)


# --- warehouse tables ------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    """One column of a warehouse table: its name, Polars dtype and meaning."""

    name: str
    dtype: pl.DataType
    description: str


@dataclass(frozen=True)
class Table:
    """A warehouse table: its grain (unique key within a day) and columns."""

    name: str
    description: str
    grain: tuple[str, ...]
    columns: tuple[Column, ...]

    @property
    def schema(self) -> dict[str, pl.DataType]:
        return {c.name: c.dtype for c in self.columns}

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    def conform(self, frame: FrameT) -> FrameT:
        """Select and cast ``frame`` to exactly this table's columns and order (a lazy
        frame: as a step of its plan)."""
        return frame.select(
            [pl.col(c.name).cast(c.dtype) for c in self.columns],
        )

    def conformed(self, frame: pl.DataFrame) -> pl.DataFrame:
        """``conform(frame)``, skipped when the frame already has exactly this table's
        columns, order and types: a ``select`` for nothing costs 0.1-0.3 thread-ms, a
        comparison of the schemas 0.01."""
        if list(frame.schema.items()) == list(self.schema.items()):
            return frame
        return self.conform(frame)

    def empty(self) -> pl.DataFrame:
        return pl.DataFrame(schema=self.schema)


I64 = pl.Int64()
STR = pl.String()
F64 = pl.Float64()

USAGE_DAILY = Table(
    name="usage_daily",
    description="Calls per day, partner, app and endpoint: the finest grain callaudit keeps.",
    grain=("partner_id", "app_id", "endpoint"),
    columns=(
        Column("partner_id", STR, "Partner account that owns the API key."),
        Column("app_id", STR, "The partner's app (API key) that made the calls."),
        Column("endpoint", STR, "Method and route template, e.g. GET /2/tweets/search/recent."),
        Column("calls", I64, "Calls served (after de-duplication and quarantine)."),
        Column("items", I64, "Items (tweets) returned."),
        Column("bytes", I64, "Response bytes."),
        Column("errors_4xx", I64, "Calls answered 400-499, throttled (429) included."),
        Column("errors_5xx", I64, "Calls answered 500-599."),
        Column("throttled", I64, "Calls answered 429 Too Many Requests."),
        Column("restricted_calls", I64, "Calls from a restricted network (contracts.yaml)."),
        Column("latency_p95_ms", I64, "95th percentile server latency (nearest rank), ms."),
    ),
)

PARTNER_DAILY = Table(
    name="partner_daily",
    description="One row per day and partner: the figures agreements and anomalies are judged on.",
    grain=("partner_id",),
    columns=(
        Column("partner_id", STR, "Partner account."),
        Column("calls", I64, "Calls served."),
        Column("items", I64, "Items (tweets) returned."),
        Column("bytes", I64, "Response bytes."),
        Column("errors", I64, "Calls answered 4xx or 5xx."),
        Column("apps", I64, "Distinct apps that called."),
        Column("endpoints", I64, "Distinct endpoints called."),
        Column("peak_calls_per_minute", I64, "Most calls in one UTC minute of the day."),
        Column("restricted_calls", I64, "Calls from a restricted network."),
        Column("distinct_client_ips", I64, "Distinct caller addresses."),
    ),
)

NETWORK_DAILY = Table(
    name="network_daily",
    description=(
        "Calls from restricted networks per day, partner, app and network label: "
        "the evidence behind restricted_network flags and the report's timeline."
    ),
    grain=("partner_id", "app_id", "network_label"),
    columns=(
        Column("partner_id", STR, "Partner account."),
        Column("app_id", STR, "App that made the calls."),
        Column("network_label", STR, "Label of the restricted network (contracts.yaml)."),
        Column("calls", I64, "Calls from that network."),
        Column("items", I64, "Items returned to that network."),
        Column("distinct_client_ips", I64, "Distinct caller addresses inside the network."),
    ),
)

INGEST_DAILY = Table(
    name="ingest_daily",
    description="One row per day: what was read from the archive and what became of it.",
    grain=(),
    columns=(
        Column("files", I64, "Raw files read for the day."),
        Column("rows_read", I64, "Rows read from those files."),
        Column("rows_valid", I64, "Rows kept: rows_read - duplicates - quarantined."),
        Column("duplicates", I64, "Rows dropped as repeated request_id within the day."),
        Column("quarantined", I64, "Rows sent to quarantine, all reasons."),
        *(
            Column(f"quarantined_{reason}", I64, f"Rows quarantined as {reason}.")
            for reason in QUARANTINE_REASONS
        ),
        Column("skipped_files", I64, "Unreadable files skipped (data gaps)."),
        Column("skipped_file_names", STR, "Unreadable files skipped, newline separated."),
        Column(
            "conflicting_duplicates",
            I64,
            "Request ids delivered again with different content; the first delivery (in "
            "file-name order, then row order) is kept.",
        ),
        Column(
            "ignored_files",
            I64,
            "Entries of the day folder left out: hidden (. or _), another suffix, sub-folders.",
        ),
        Column("ignored_file_names", STR, "Those entries' names, newline separated."),
    ),
)

QUARANTINE = Table(
    name="quarantine",
    description="Raw rows that could not be used, kept as text with the reason they were rejected.",
    grain=(),
    columns=(
        *(Column(name, STR, f"Raw {name} as text.") for name in RAW_SCHEMA),
        Column("reason", STR, "Why the row was rejected: " + ", ".join(QUARANTINE_REASONS) + "."),
        Column("detail", STR, "The offending field(s) and, for values, what was received."),
        Column("source_file", STR, "File the row was read from."),
    ),
)

FLAG_NAMES: tuple[str, ...] = (
    "no_agreement",
    "unauthorized_app",
    "unauthorized_endpoint",
    "daily_call_limit",
    "monthly_item_limit",
    "monthly_item_pace",
    "rate_limit",
    "restricted_network",
    "volume_spike",
    "volume_drop",
)
SEVERITIES: tuple[str, ...] = ("info", "warning", "critical")

ANOMALY_FLAGS = Table(
    name="anomaly_flags",
    description="One row per flag raised for a partner on a day: rule breaches and anomalies.",
    grain=("partner_id", "flag", "metric"),
    columns=(
        Column("partner_id", STR, "Partner account."),
        Column("flag", STR, "Flag name: " + ", ".join(FLAG_NAMES) + "."),
        Column("severity", STR, "info, warning or critical."),
        Column("metric", STR, "What was measured (calls, items, peak_calls_per_minute...)."),
        Column("observed", F64, "Observed value."),
        Column("threshold", F64, "Limit or decision threshold crossed."),
        Column("expected", F64, "Expected value (baseline) for statistical flags."),
        Column("score", F64, "Robust z-score for statistical flags; observed/threshold for rules."),
        Column("agreement_id", STR, "Agreement in force that day, if any."),
        Column("detail", STR, "One line a reader can quote."),
    ),
)

TABLES: dict[str, Table] = {
    t.name: t
    for t in (USAGE_DAILY, PARTNER_DAILY, NETWORK_DAILY, INGEST_DAILY, QUARANTINE, ANOMALY_FLAGS)
}

#: Name of the partition column added when a range of days is read back.
DATE_COLUMN = "date"
