"""Benchmark: what the report's provenance costs, hashing every raw file of a year.

    .venv/bin/python -m benchmarks.hashing --scale 0.1 [--seed 2022] [--workers 1 2]

Generates the scenario once per scale and seed (reused, as benchmarks.run does), then
fingerprints the whole year (callaudit.provenance.fingerprint_archive: SHA-256 of every
file, streamed in 1 MiB chunks) in a child process per measurement, with 1 and 2 worker
threads, page cache dropped first when the machine allows it (root), else warm and
said so. Prints MB/s, files/s and peak RSS, and the time a full-size year (20 GB of
Parquet, benchmarks/RESULTS.md) would take at the measured rate: an extrapolation,
labelled as one.
"""

import argparse
import json
import subprocess
import sys
from pathlib import Path

from benchmarks.measure import measure
from benchmarks.run import ROOT, ensure_archive

#: Full size (scale 1.0, seed 2022): 1.05 billion rows in 20 GB of Parquet.
FULL_SIZE_BYTES = 20e9

_CHILD = """
import datetime as dt, json, sys
from callaudit.provenance import fingerprint_archive
archive, workers = sys.argv[1], int(sys.argv[2])
days = [dt.date(2022, 1, 1) + dt.timedelta(days=i) for i in range(365)]
f = fingerprint_archive(archive, days, workers=workers)
print(json.dumps({"files": f.files, "bytes": f.bytes, "seconds": f.seconds, "sha256": f.sha256}))
"""


def drop_page_cache() -> bool:
    """Empty the page cache so files are read from disk (needs root)."""
    try:
        subprocess.run(["sync"], check=True)
        Path("/proc/sys/vm/drop_caches").write_text("3\n")
        return True
    except OSError:
        return False


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=2022)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    data = ROOT / "benchmarks" / "data" / f"scale-{args.scale:g}"
    ensure_archive(data, args.scale, args.seed, sys.stderr)
    archive = str(data / "raw")
    digests = set()
    print(
        "| workers | cache | files | MB | s | MB/s | files/s | peak RSS MB | full size (20 GB), s |"
    )
    print("|---:|---|---:|---:|---:|---:|---:|---:|---:|")
    for workers in args.workers:
        for cold in (True, False):
            cache = "cold" if cold and drop_page_cache() else "warm"
            if cold and cache == "warm":
                continue  # cannot drop the cache: the warm row says it all
            run = measure(f"hash {workers}", [sys.executable, "-c", _CHILD, archive, str(workers)])
            if run.returncode != 0:
                raise SystemExit(run.output)
            result = json.loads(run.output.strip().splitlines()[-1])
            digests.add(result["sha256"])
            rate = result["bytes"] / 1e6 / result["seconds"]
            print(
                f"| {workers} | {cache} | {result['files']:,} | {result['bytes'] / 1e6:,.0f} | "
                f"{result['seconds']:.2f} | {rate:,.0f} | {result['files'] / result['seconds']:,.0f} | "
                f"{run.peak_rss_mb:,.0f} | {FULL_SIZE_BYTES / 1e6 / rate:,.0f} (extrapolated) |"
            )
    assert len(digests) == 1, "the archive digest must not depend on the workers"
    return 0


if __name__ == "__main__":
    sys.exit(main())
