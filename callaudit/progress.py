"""Progress of long runs (generation, backfills) on stderr, phase by phase.

A backfill spends its time in several phases: the days, then the checks, the flags,
Dagster recording the partitions' events, and the report. Counting only the days made
the line reach 100% and "eta 0s" after a few seconds, then print nothing for tens of
seconds. Here each phase shows itself: :class:`Progress` for work counted in units (days,
with an ETA from the units done so far, shown only while units remain, so it never sits
at 0), :func:`phase` for a step that has no units (a line when it starts and when it
ends, with its time; on a terminal a spinner and the elapsed time in between).

On a terminal the lines are drawn by rich (a maintained library Dagster already depends
on). In a log (stderr not a TTY: CI, ``| tee``) every line is plain text: a line every
~5 % of the units and one per phase start and end, so a year-long backfill leaves a few
dozen readable lines instead of thousands of redraws.
"""

import math
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.progress import Progress as RichProgress


def _is_tty(stream: TextIO) -> bool:
    return bool(getattr(stream, "isatty", lambda: False)())


def _console(stream: TextIO) -> Console:
    return Console(file=stream, force_terminal=True, highlight=False, soft_wrap=True)


class Progress:
    """Count work done out of ``total`` and report it, with optional extra fields.

    >>> progress = Progress(365, "generate", enabled=False)
    >>> progress.advance(rows=1200)
    >>> progress.close()
    """

    def __init__(
        self,
        total: int,
        label: str = "",
        *,
        enabled: bool = True,
        stream: TextIO | None = None,
        log_every: float = 0.05,
    ) -> None:
        self.total = max(int(total), 0)
        self.label = label
        self.enabled = enabled
        self.stream = stream if stream is not None else sys.stderr
        self.done = 0
        self.fields: dict[str, object] = {}
        self._started = time.monotonic()
        self._tty = _is_tty(self.stream)
        self._step = max(1, round(self.total * log_every)) if self.total else 1
        self._next_log = self._step
        self._closed = False
        self._bar: RichProgress | None = None
        if self.enabled and self._tty:
            self._bar = RichProgress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[extra]}"),
                TimeElapsedColumn(),
                TextColumn("{task.fields[eta]}"),
                console=_console(self.stream),
                transient=False,
            )
            self._task = self._bar.add_task(label, total=self.total or None, extra="", eta="")
            self._bar.start()

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self._started

    @property
    def eta(self) -> float | None:
        """Seconds left at the rate so far; None before the first unit and after the last
        (no "eta 0s" while the run still has work that is not counted here)."""
        if not 0 < self.done < self.total:
            return None
        return self.elapsed / self.done * (self.total - self.done)

    def advance(self, n: int = 1, **fields: object) -> None:
        """Record ``n`` more units done; ``fields`` (e.g. rows=...) are shown as-is."""
        self.done += n
        self.fields.update(fields)
        if not self.enabled:
            return
        if self._bar is not None:
            self._bar.update(self._task, completed=self.done, extra=self._fields(), eta=self._eta())
        elif self.done >= self._next_log or self.done >= self.total:
            self._write(self._line() + "\n")
            while self._next_log <= self.done:
                self._next_log += self._step

    def close(self) -> None:
        """Finish the line (TTY) and print nothing more."""
        if self._closed:
            return
        self._closed = True
        if self._bar is not None:
            self._bar.update(self._task, completed=self.done, extra=self._fields(), eta="")
            self._bar.stop()

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _fields(self) -> str:
        return " ".join(f"{key}={_format(value)}" for key, value in self.fields.items())

    def _eta(self) -> str:
        eta = self.eta
        return f"eta {math.ceil(eta)}s" if eta is not None else ""

    def _line(self) -> str:
        pct = 100.0 * self.done / self.total if self.total else 100.0
        parts = [f"{self.label}: {self.done}/{self.total} ({pct:.0f}%)"]
        if self.fields:
            parts.append(self._fields())
        parts.append(f"{self.elapsed:.1f}s")
        if eta := self._eta():
            parts.append(eta)
        return " ".join(parts)

    def _write(self, text: str) -> None:
        self.stream.write(text)
        self.stream.flush()


@contextmanager
def phase(
    label: str, detail: str = "", *, enabled: bool = True, stream: TextIO | None = None
) -> Iterator[None]:
    """A step of a run without countable units (checks, flags, events, report): says
    when it starts and how long it took; on a terminal a spinner with the elapsed time
    shows it is still working. It claims no ETA: it has nothing to estimate one from."""
    if not enabled:
        yield
        return
    stream = stream if stream is not None else sys.stderr
    text = f"{label}: {detail}" if detail else label
    started = time.monotonic()
    if _is_tty(stream):
        spinner = RichProgress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            TimeElapsedColumn(),
            console=_console(stream),
            transient=True,
        )
        spinner.add_task(text, total=None)
        with spinner:
            yield
    else:
        stream.write(f"{text} ...\n")
        stream.flush()
        yield
    stream.write(f"{text}: done in {time.monotonic() - started:.1f}s\n")
    stream.flush()


def _format(value: object) -> str:
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.1f}"
    return str(value)
