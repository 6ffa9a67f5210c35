"""One day of the archive: shipper files, late duplicates, bad rows, and the day's truth.

The day's valid rows are split into four shipper files by 6-hour window (how log
shippers roll files). Then the imperfections an ingest must survive are added, each
counted for the truth: a late file re-sending some rows (at-least-once delivery), a few
rows with exactly one defect per quarantine reason, and on some days a file exported by
another tool whose ``status`` and ``items`` columns are text.
"""

import datetime as dt
import io
import os
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from callaudit import storage
from callaudit.synth.plan import Plan
from callaudit.synth.rows import (
    BAD_ROW_SLOT,
    DAY_US,
    MAX_BLOCKS,
    DayRows,
    Dictionaries,
    block_seed,
    day_rows,
    day_start_us,
    request_ids,
)

COLUMNS = (
    "request_id",
    "ts",
    "partner_id",
    "app_id",
    "endpoint",
    "status",
    "items",
    "bytes",
    "latency_ms",
    "client_ip",
)
DICTIONARY_COLUMNS = {
    "partner_id": "partner_ids",
    "app_id": "app_ids",
    "endpoint": "routes",
    "client_ip": "ips",
}
KEY_COLUMNS = ("request_id", "ts", "partner_id", "app_id", "endpoint")
NEGATIVE_COLUMNS = ("items", "bytes", "latency_ms")
UNCASTABLE_TEXT = ("n/a", "unknown", "-", "ERR", "twelve")
SHIPPER_FILES = 4

_TYPES = {
    "request_id": pa.uint64(),
    "ts": pa.timestamp("us", tz="UTC"),
    "status": pa.int32(),
    "items": pa.int64(),
    "bytes": pa.int64(),
    "latency_ms": pa.int64(),
}


@dataclass
class PartnerStats:
    """What the truth needs about one partner's valid rows of the day."""

    calls: int
    items: int
    bytes: int
    app_calls: dict[str, int]
    endpoint_calls: dict[str, int]
    restricted_calls: dict[str, int]  # by network label
    peak_calls_per_minute: int
    #: calls per minute of the day, so blocks of one day add up to its true peak
    minute_calls: np.ndarray | None = None


@dataclass
class DayResult:
    day: dt.date
    files: int
    rows_written: int
    rows_valid: int
    duplicates: int
    quarantined: dict[str, int]
    partners: dict[str, PartnerStats] = field(default_factory=dict)


def _stats(plan: Plan, dicts: Dictionaries, rows: DayRows) -> dict[str, PartnerStats]:
    n_partners = len(plan.partners)
    cols = rows.columns
    partner = rows.partner.astype(np.int64)
    calls = np.bincount(partner, minlength=n_partners)
    items = np.bincount(partner, weights=cols["items"], minlength=n_partners)
    nbytes = np.bincount(partner, weights=cols["bytes"], minlength=n_partners)

    def per_partner(
        values: np.ndarray, names: list[str], keep: np.ndarray | None = None
    ) -> np.ndarray:
        who, what = (partner, values) if keep is None else (partner[keep], values[keep])
        flat = np.bincount(who * len(names) + what, minlength=n_partners * len(names))
        return flat.reshape(n_partners, len(names))

    apps = per_partner(cols["app_id"].astype(np.int64), dicts.app_ids)
    routes = per_partner(cols["endpoint"].astype(np.int64), dicts.routes)
    label = dicts.ip_label[cols["client_ip"]].astype(np.int64)
    restricted = per_partner(label, dicts.labels, keep=label >= 0)

    def named(counts: np.ndarray, names: list[str]) -> dict[str, int]:
        return {names[i]: int(counts[i]) for i in np.flatnonzero(counts)}

    return {
        plan.partners[p].id: PartnerStats(
            calls=int(calls[p]),
            items=round(items[p]),
            bytes=round(nbytes[p]),
            app_calls=named(apps[p], dicts.app_ids),
            endpoint_calls=named(routes[p], dicts.routes),
            restricted_calls=named(restricted[p], dicts.labels),
            peak_calls_per_minute=int(rows.peak_calls_per_minute[p]),
            minute_calls=None if rows.minute_calls is None else rows.minute_calls[p],
        )
        for p in np.flatnonzero(calls)
    }


def _dictionary(dicts: Dictionaries, attribute: str) -> pa.Array:
    if attribute not in dicts.arrow:
        dicts.arrow[attribute] = pa.array(getattr(dicts, attribute), type=pa.string())
    return dicts.arrow[attribute]


def _table(
    dicts: Dictionaries, columns: dict[str, np.ndarray], nulls: dict[str, np.ndarray]
) -> pa.Table:
    arrays = []
    for name in COLUMNS:
        values, mask = columns[name], nulls.get(name)
        if name in DICTIONARY_COLUMNS:
            indices = pa.array(values, type=pa.int32(), mask=mask)
            dictionary = _dictionary(dicts, DICTIONARY_COLUMNS[name])
            arrays.append(pa.DictionaryArray.from_arrays(indices, dictionary))
        elif name == "ts":
            arrays.append(pa.array(values, type=pa.int64(), mask=mask).view(_TYPES["ts"]))
        elif values.dtype == object:
            arrays.append(pa.array(values, type=pa.string(), mask=mask))
        else:
            arrays.append(pa.array(values, type=_TYPES[name], mask=mask))
    return pa.Table.from_arrays(arrays, names=list(COLUMNS))


_PARQUET_OPTIONS = {
    "compression": "zstd",
    "use_dictionary": [*DICTIONARY_COLUMNS, "status"],
    "store_schema": False,
}


def _take(columns: dict[str, np.ndarray], index: np.ndarray) -> dict[str, np.ndarray]:
    return {name: values[index] for name, values in columns.items()}


def _bad_rows(
    plan: Plan, d: int, rng: np.random.Generator, valid: dict[str, np.ndarray], slot: int
) -> tuple[dict[str, dict], dict[str, int]]:
    """A few rows per quarantine reason, each copied from a valid row with one defect."""
    n_valid = len(valid["ts"])
    start = day_start_us(plan.days[d])
    counts = {
        reason: (int(rng.integers(1, 5)) if rng.random() < 0.35 else 0)
        for reason in ("null_key", "uncastable_value", "negative_count", "ts_outside_day")
    }
    total = sum(counts.values())
    if total == 0 or n_valid == 0:
        return {}, counts
    rows = _take(valid, rng.integers(0, n_valid, total))
    rows["request_id"] = request_ids(plan.seed, d, slot, np.arange(total))
    reason_of = np.repeat(list(counts), list(counts.values()))
    nulls = {name: np.zeros(total, dtype=bool) for name in KEY_COLUMNS}
    text = {
        "status": rows["status"].astype(str).astype(object),
        "items": rows["items"].astype(str).astype(object),
    }
    for i, reason in enumerate(reason_of):
        if reason == "null_key":
            nulls[str(rng.choice(KEY_COLUMNS))][i] = True
        elif reason == "negative_count":
            column = str(rng.choice(NEGATIVE_COLUMNS))
            rows[column][i] = -int(rng.integers(1, 500))
        elif reason == "ts_outside_day":
            offset = int(rng.integers(1, 3_600_000_000))
            rows["ts"][i] = start - offset if rng.random() < 0.5 else start + DAY_US + offset
        else:
            text[str(rng.choice(["status", "items"]))][i] = str(rng.choice(UNCASTABLE_TEXT))
    castable = reason_of != "uncastable_value"
    binary = _take(rows, castable)
    binary_nulls = {name: mask[castable] for name, mask in nulls.items()}
    textual = _take(rows, ~castable)
    textual["status"], textual["items"] = text["status"][~castable], text["items"][~castable]
    return {"binary": (binary, binary_nulls), "text": (textual, {})}, counts


def build_day(
    plan: Plan, dicts: Dictionaries, d: int, block: int = 0
) -> tuple[list[tuple[str, pa.Table]], DayResult]:
    """The day's files (name, table) in write order, and its truth; ``block`` > 0 is
    another independent block of the same day (see ``write_day``)."""
    day = plan.days[d]
    result = DayResult(day, 0, 0, 0, 0, {})
    if not plan.calls[d].any():
        return [], result
    rows = day_rows(plan, dicts, d, block)
    result.partners = _stats(plan, dicts, rows)
    valid = rows.columns
    n_valid = len(valid["ts"])
    rng = np.random.default_rng(block_seed(plan.seed, 7, d, block))
    bad, quarantined = _bad_rows(plan, d, rng, valid, BAD_ROW_SLOT - block)

    bounds = rows.file_bounds.copy()
    moved = 0
    if "text" in bad and len(bad["text"][0]["ts"]):
        # Another tool exported the last rows of the day with text-typed counts.
        moved = int(min(rng.integers(5, 30), bounds[-1] - bounds[-2]))
    files: list[tuple[str, pa.Table]] = []
    bad_file = int(rng.integers(0, SHIPPER_FILES))
    for f in range(SHIPPER_FILES):
        stop = bounds[f + 1] - (moved if f == SHIPPER_FILES - 1 else 0)
        chunk = {name: values[bounds[f] : stop] for name, values in valid.items()}
        nulls: dict[str, np.ndarray] = {}
        if f == bad_file and "binary" in bad and len(bad["binary"][0]["ts"]):
            extra, extra_nulls = bad["binary"]
            size = len(chunk["ts"])
            chunk = {name: np.concatenate([chunk[name], extra[name]]) for name in COLUMNS}
            nulls = {
                name: np.concatenate([np.zeros(size, dtype=bool), mask])
                for name, mask in extra_nulls.items()
            }
        if len(chunk["ts"]):
            files.append((f"part-{f:02d}.parquet", _table(dicts, chunk, nulls)))
    if "text" in bad and len(bad["text"][0]["ts"]):
        chunk = {name: values[bounds[-1] - moved : bounds[-1]] for name, values in valid.items()}
        chunk["status"] = chunk["status"].astype(str).astype(object)
        chunk["items"] = chunk["items"].astype(str).astype(object)
        textual = bad["text"][0]
        chunk = {name: np.concatenate([chunk[name], textual[name]]) for name in COLUMNS}
        files.append(("export-text-00.parquet", _table(dicts, chunk, {})))

    duplicates = 0
    if rng.random() < 0.7:
        k = max(1, round(n_valid * rng.uniform(0.0005, 0.005)))
        again = np.unique(rng.integers(0, n_valid, k))
        duplicates = len(again)
        files.append(("late-00.parquet", _table(dicts, _take(valid, again), {})))

    result.files = len(files)
    result.rows_valid = n_valid
    result.duplicates = duplicates
    result.quarantined = quarantined
    result.rows_written = sum(t.num_rows for _, t in files)
    return files, result


def _write(url: str, table: pa.Table) -> None:
    """Write a Parquet file atomically: temporary name then rename (one PUT remotely)."""
    if storage.is_remote(url):
        buffer = io.BytesIO()
        pq.write_table(table, buffer, **_PARQUET_OPTIONS)
        storage.write_bytes_atomic(url, buffer.getvalue())
        return
    path = url[len("file://") :] if url.startswith("file://") else url
    folder, name = os.path.split(path)
    os.makedirs(folder, exist_ok=True)
    tmp = os.path.join(folder, f".{name}.{os.getpid()}.tmp")
    try:
        pq.write_table(table, tmp, **_PARQUET_OPTIONS)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _block_name(name: str, block: int) -> str:
    return name if block == 0 else name.replace(".parquet", f"-b{block:02d}.parquet")


def _merged_stats(a: PartnerStats, b: PartnerStats) -> PartnerStats:
    def added(x: dict[str, int], y: dict[str, int]) -> dict[str, int]:
        return {k: x.get(k, 0) + y.get(k, 0) for k in sorted({*x, *y})}

    assert a.minute_calls is not None and b.minute_calls is not None
    minutes = a.minute_calls + b.minute_calls
    return PartnerStats(
        calls=a.calls + b.calls,
        items=a.items + b.items,
        bytes=a.bytes + b.bytes,
        app_calls=added(a.app_calls, b.app_calls),
        endpoint_calls=added(a.endpoint_calls, b.endpoint_calls),
        restricted_calls=added(a.restricted_calls, b.restricted_calls),
        peak_calls_per_minute=int(minutes.max()),  # the blocks' minutes add up
        minute_calls=minutes,
    )


def _merged(total: DayResult, block: DayResult) -> DayResult:
    """The truth of a day written in blocks: counts add up, peaks per minute are re-taken."""
    partners = dict(total.partners)
    for pid, stats in block.partners.items():
        partners[pid] = _merged_stats(partners[pid], stats) if pid in partners else stats
    return DayResult(
        day=total.day,
        files=total.files + block.files,
        rows_written=total.rows_written + block.rows_written,
        rows_valid=total.rows_valid + block.rows_valid,
        duplicates=total.duplicates + block.duplicates,
        quarantined={
            r: total.quarantined.get(r, 0) + block.quarantined.get(r, 0)
            for r in dict.fromkeys([*total.quarantined, *block.quarantined])
        },
        partners=dict(sorted(partners.items())),
    )


def write_day(raw: str, plan: Plan, dicts: Dictionaries, d: int, blocks: int = 1) -> DayResult:
    """Build day ``d`` and write its files atomically under ``raw/date=YYYY-MM-DD/``.

    A day of ``blocks`` > 1 (scales above 1.0) is written one block at a time, each an
    independent draw of the plan's day with its own files (``part-00-b01.parquet``), so
    the generator holds one block's rows whatever the scale.
    """
    if not 1 <= blocks <= MAX_BLOCKS:
        raise ValueError(f"blocks must be between 1 and {MAX_BLOCKS}, got {blocks}")
    folder = storage.day_folder(raw, plan.days[d])
    result: DayResult | None = None
    for block in range(blocks):
        files, part = build_day(plan, dicts, d, block)
        for name, table in files:
            _write(storage.join(folder, _block_name(name, block)), table)
        del files
        result = part if result is None else _merged(result, part)
    assert result is not None
    return result
