"""Two weeks through the Celery deployment with one and with two workers, and locally.

    .venv/bin/python -m benchmarks.scaleout [--scale 0.01] [--run-days 3]

Generates the range once, copies it to a local S3 server (moto), then for one and two
workers starts the deploy/celery stack (tests/scaleout/deployment.py), times
`callaudit backfill --submit` from submission to the last run, and times the same range
with the local in-process `callaudit backfill` on the same files. Prints the wall times,
the ratio and the runs' own time; needs PostgreSQL, redis-server and the `celery`
extra (as the scale-out tests do).
"""

import argparse
import datetime as dt
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.measure import measure

START, END = dt.date(2022, 3, 1), dt.date(2022, 3, 14)
RANGE = ["--start", START.isoformat(), "--end", END.isoformat()]
CALLAUDIT = str(Path(sys.executable).with_name("callaudit"))


def _moto(port: int, log: Path) -> subprocess.Popen:
    command = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
    return subprocess.Popen(
        command, stdout=log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=0.01)
    parser.add_argument("--run-days", type=int, default=3)
    args = parser.parse_args()

    import boto3
    import s3fs

    from callaudit.synth import generate_archive
    from tests.scaleout.deployment import callaudit_deployment
    from tests.services import free_port, stop, wait_for_http

    base = Path(tempfile.mkdtemp(prefix="callaudit-scaleout-bench-"))
    generated = generate_archive(
        str(base / "archive"), scale=args.scale, seed=11, start=START, end=END, progress=False
    )
    rows = generated.rows["written"]
    port = free_port()
    moto = _moto(port, base / "moto.log")
    endpoint = f"http://127.0.0.1:{port}"
    os.environ.update(
        AWS_ENDPOINT_URL=endpoint,
        AWS_ACCESS_KEY_ID="bench",
        AWS_SECRET_ACCESS_KEY="bench",
        AWS_REGION="us-east-1",
        AWS_DEFAULT_REGION="us-east-1",
        GX_ANALYTICS_ENABLED="false",
    )
    results = []
    try:
        wait_for_http(endpoint + "/moto-api/", timeout=60, process=moto)
        client = boto3.client("s3", endpoint_url=endpoint)
        local_env = {
            "CALLAUDIT_ARCHIVE": str(base / "archive" / "raw"),
            "CALLAUDIT_CONTRACTS": str(base / "archive" / "contracts.yaml"),
            "CALLAUDIT_WAREHOUSE": str(base / "local" / "warehouse"),
            "CALLAUDIT_REPORTS": str(base / "local" / "reports"),
            "DAGSTER_HOME": str(base / "local" / "dagster_home"),
        }
        local = measure("local, in process", [CALLAUDIT, "backfill", *RANGE, "--quiet"], local_env)
        assert local.returncode == 0, local.output[-2000:]
        results.append((local.label, local.seconds, None))
        for workers in (1, 2):
            bucket = f"bench-{workers}"
            client.create_bucket(Bucket=bucket)
            fs = s3fs.S3FileSystem()
            fs.put(str(base / "archive" / "raw"), f"{bucket}/raw", recursive=True)
            fs.put(str(base / "archive" / "contracts.yaml"), f"{bucket}/contracts.yaml")
            names = [f"w{i + 1}" for i in range(workers)]
            with callaudit_deployment(
                base / f"deploy-{workers}", f"s3://{bucket}", names, run_days=args.run_days
            ) as deployment:
                env = {k: v for k, v in deployment.env.items() if k != "DAGSTER_HOME"}
                env["CALLAUDIT_DAGSTER_URL"] = deployment.url
                started = time.perf_counter()
                submitted = measure(
                    f"{workers} worker(s), --submit",
                    [CALLAUDIT, "backfill", *RANGE, "--submit"],
                    env,
                )
                assert submitted.returncode == 0, submitted.output[-3000:]
                run_seconds = sum(
                    float(line.rsplit("(", 1)[1].rstrip("s)\n"))
                    for line in submitted.output.splitlines()
                    if line.startswith("  run ") and line.rstrip().endswith("s)")
                )
                results.append((submitted.label, time.perf_counter() - started, run_seconds))
    finally:
        stop(moto)
    print(f"\ntwo weeks {START}..{END}, scale {args.scale}: {rows:,} raw rows")
    print(f"{'how':<24}{'wall s':>9}{'rows/s':>12}{'vs local':>10}{'run s (sum)':>13}")
    for label, seconds, run_seconds in results:
        ratio = seconds / results[0][1]
        runs = f"{run_seconds:.1f}" if run_seconds is not None else "-"
        print(f"{label:<24}{seconds:>9.1f}{rows / seconds:>12,.0f}{ratio:>9.2f}x{runs:>13}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
