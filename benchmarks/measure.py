"""Run a command in a child process and report its wall time and peak memory.

Peak RSS comes from wait4()'s rusage of that one child (and its own children), so each
measurement is isolated from the benchmark driver and from the others.
"""

import os
import subprocess
import time
from dataclasses import dataclass


@dataclass
class Measurement:
    label: str
    seconds: float
    peak_rss_mb: float
    returncode: int
    output: str


def measure(label: str, command: list[str], env: dict | None = None, log=None) -> Measurement:
    started = time.perf_counter()
    process = subprocess.Popen(
        command,
        env={**os.environ, **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output_lines = []
    assert process.stdout is not None
    for line in process.stdout:
        output_lines.append(line)
        if log is not None:
            log.write(line)
            log.flush()
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - started
    return Measurement(
        label=label,
        seconds=seconds,
        peak_rss_mb=usage.ru_maxrss / 1024,
        returncode=process.returncode,
        output="".join(output_lines),
    )
