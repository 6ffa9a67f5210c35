"""Verifying a written report: do its inputs and its totals still say what it says?

``callaudit verify`` reads ``<report folder>/summary.json`` and recomputes

- the SHA-256 of contracts.yaml and of the flag reviews file,
- the SHA-256 of every raw file of every day the report covers (streamed, as when it
  was written), and the archive digest,
- the report's totals from the warehouse (calls, items, bytes, active and flagged days
  per partner, fees, data-quality counts), by gathering the period again,
- the report's own files against its ``SHA256SUMS``.

Each difference names what changed: the day and file, the input, the partner and
figure. No difference: the report still stands.
"""

import datetime as dt
import hashlib
import json
import time
from dataclasses import dataclass, field

from callaudit import storage
from callaudit.contracts import load_contracts
from callaudit.provenance import InputFile, fingerprint_archive
from callaudit.report.figures import Period, gather
from callaudit.report.numbers import data_size, thousands
from callaudit.report.tables import summary
from callaudit.report.write import CHECKSUMS, PUBLISHING, SET_FILES, report_folder
from callaudit.reviews import load_reviews
from callaudit.settings import Settings

#: Partner figures compared with the recomputed report.
PARTNER_FIGURES = ("calls", "items", "bytes", "active_days", "flagged_days")
TOTAL_FIGURES = (
    "partners",
    "calls",
    "items",
    "bytes",
    "flags",
    "agreement_fees",
    "list_price",
    "fees_total",
)
QUALITY_FIGURES = ("files", "rows_read", "rows_valid", "duplicates", "quarantined")


class NoReportError(FileNotFoundError):
    """There is no written report (summary.json) for the period."""


@dataclass
class Verification:
    folder: str
    differences: list[str] = field(default_factory=list)
    checked: list[str] = field(default_factory=list)  # what matched, one line each
    files: int = 0
    bytes: int = 0
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.differences


def _short(digest: str | None) -> str:
    return digest[:12] if digest else "none"


def _inputs(recorded: dict, result: Verification) -> None:
    for name, key in (("contracts", "contracts_sha256"), ("flag reviews", "reviews_sha256")):
        location = recorded.get(name.replace("flag ", ""))
        if location is None:
            continue
        now = InputFile.of(location).sha256
        if now != recorded.get(key):
            result.differences.append(
                f"{name} {location} changed: sha256 {_short(recorded.get(key))} when the "
                f"report was written, {_short(now)} now"
            )
        elif now is None:
            result.checked.append(f"{name} {location}: none, as when the report was written")
        else:
            result.checked.append(f"{name} {location}: sha256 {_short(now)} matches")


def _archive(recorded: dict, archive: str, result: Verification, workers: int) -> None:
    days = [dt.date.fromisoformat(d["date"]) for d in recorded.get("days", [])]
    then = {
        dt.date.fromisoformat(d["date"]): {f["name"]: f for f in d["files"]}
        for d in recorded.get("days", [])
    }
    now = fingerprint_archive(archive, days, workers=workers)
    result.files, result.bytes = now.files, now.bytes
    known = len(result.differences)
    for fingerprint in now.days:
        before = then.get(fingerprint.date, {})
        after = {f.name: f for f in fingerprint.files}
        for name in sorted(set(before) | set(after)):
            old, new = before.get(name), after.get(name)
            where = f"{fingerprint.date} {name}"
            if new is None:
                result.differences.append(f"{where}: removed from the archive")
            elif old is None:
                result.differences.append(f"{where}: added to the archive since the report")
            elif old["sha256"] != new.sha256 or old["size"] != new.size:
                result.differences.append(
                    f"{where}: content changed (sha256 {_short(old['sha256'])} -> "
                    f"{_short(new.sha256)}, {old['size']:,} -> {new.size:,} bytes)"
                )
    if now.sha256 != recorded.get("archive_sha256"):
        if len(result.differences) == known:  # no file differs: the digest itself does
            result.differences.append(
                f"archive digest {_short(recorded.get('archive_sha256'))} in the report, "
                f"{_short(now.sha256)} now"
            )
    else:
        result.checked.append(
            f"archive {archive}: {thousands(now.files)} files "
            f"({data_size(now.bytes)}) on {len(days)} days, digest {_short(now.sha256)} matches"
        )


def _figures(
    written: dict, settings: Settings, warehouse: str, period: Period, result: Verification
) -> None:
    prov = written.get("provenance") or {}
    contracts = load_contracts(prov.get("contracts") or settings.contracts)
    reviews = load_reviews(prov.get("reviews") or settings.reviews_location)
    again = summary(gather(warehouse, contracts, period, reviews=reviews))
    then_partners = {p["partner_id"]: p for p in written.get("partners", [])}
    now_partners = {p["partner_id"]: p for p in again["partners"]}
    for pid in sorted(set(then_partners) | set(now_partners)):
        old, new = then_partners.get(pid), now_partners.get(pid)
        if old is None or new is None:
            state = "appears" if old is None else "disappeared"
            result.differences.append(f"partner {pid} {state} in the warehouse's figures")
            continue
        for key in PARTNER_FIGURES:
            if old.get(key) != new.get(key):
                result.differences.append(
                    f"partner {pid} {key}: {old.get(key)} in the report, {new.get(key)} now"
                )
        if old.get("fees", {}).get("total") != new["fees"]["total"]:
            result.differences.append(
                f"partner {pid} fees total: {old.get('fees', {}).get('total')} in the report, "
                f"{new['fees']['total']} now"
            )
    for key in TOTAL_FIGURES:
        if written.get("totals", {}).get(key) != again["totals"][key]:
            result.differences.append(
                f"totals {key}: {written.get('totals', {}).get(key)} in the report, "
                f"{again['totals'][key]} now"
            )
    for key in QUALITY_FIGURES:
        if written.get("data_quality", {}).get(key) != again["data_quality"][key]:
            result.differences.append(
                f"data_quality {key}: {written.get('data_quality', {}).get(key)} in the report, "
                f"{again['data_quality'][key]} now"
            )
    if (written["start"], written["end"]) != (again["start"], again["end"]):
        result.differences.append(
            f"coverage {written['start']}..{written['end']} in the report, "
            f"{again['start']}..{again['end']} now"
        )
    if not any(
        d.startswith(("partner", "totals", "data_quality", "coverage")) for d in result.differences
    ):
        totals = again["totals"]
        result.checked.append(
            f"totals from the warehouse {warehouse}: {thousands(totals['calls'])} calls, "
            f"{thousands(totals['items'])} {again['unit']}, fees {totals['fees_total']:,.2f} "
            f"{totals['currency']} for {len(now_partners)} partners match"
        )


def _files(folder: str, result: Verification) -> None:
    """The report's files are one complete set: no publication in progress (on an
    object store), every file listed in SHA256SUMS present and unchanged, and no file
    of a report set beside them that SHA256SUMS does not list (a mix of two sets)."""
    marker = storage.join(folder, PUBLISHING)
    if storage.exists(marker):
        began = json.loads(storage.read_text(marker))
        result.differences.append(
            f"report files are not a complete set: publication of {began.get('set')} "
            f"started at {began.get('started')} has not finished (in progress, or its "
            "writer was killed): wait for it, or rebuild the report (callaudit report)"
        )
    sums_url = storage.join(folder, CHECKSUMS)
    if not storage.exists(sums_url):
        result.differences.append(f"{CHECKSUMS} is missing from {folder}")
        return
    listed = set()
    for line in storage.read_text(sums_url).splitlines():
        digest, name = line.split("  ", 1)
        listed.add(name)
        url = storage.join(folder, name)
        if not storage.exists(url):
            result.differences.append(f"report file {name} is missing")
        elif hashlib.sha256(storage.read_bytes(url)).hexdigest() != digest:
            result.differences.append(f"report file {name} was changed after it was written")
    for name in SET_FILES:
        if name != CHECKSUMS and name not in listed and storage.exists(storage.join(folder, name)):
            result.differences.append(f"report file {name} is not listed in {CHECKSUMS}")
    if not any(d.startswith("report file") for d in result.differences):
        result.checked.append(f"report files match {CHECKSUMS}")


def verify_report(
    settings: Settings,
    period: Period,
    *,
    archive: str | None = None,
    warehouse: str | None = None,
) -> Verification:
    """Recompute the fingerprints and totals behind the written report of ``period``.

    The archive and warehouse are the ones the report names in its provenance, unless
    ``archive`` / ``warehouse`` say where they are now (a copy, another mount)."""
    folder = report_folder(settings.reports, period)
    url = storage.join(folder, "summary.json")
    if not storage.exists(url):
        raise NoReportError(
            f"no report for {period.title}: {url} does not exist (`callaudit report` writes it)"
        )
    started = time.perf_counter()
    written = json.loads(storage.read_text(url))
    recorded = written.get("provenance")
    result = Verification(folder)
    if not recorded:
        result.differences.append(
            "the report records no provenance (written before callaudit recorded it): rebuild it"
        )
        return result
    _inputs(recorded, result)
    _archive(recorded, archive or recorded["archive"], result, settings.workers)
    _figures(written, settings, warehouse or recorded["warehouse"], period, result)
    _files(folder, result)
    result.seconds = time.perf_counter() - started
    return result
