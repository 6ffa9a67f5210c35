"""A tiny progress reporter for long runs (generation, backfills), on stderr.

Dependency-free on purpose: it must work in a bare CLI, under Dagster and in CI logs.
On a terminal it redraws one line; in a log (not a TTY) it prints a line roughly every
5 % so a year-long backfill leaves ~20 readable lines instead of thousands.
"""

import sys
import time
from typing import TextIO


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
        self._tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self._step = max(1, round(self.total * log_every)) if self.total else 1
        self._next_log = self._step
        self._closed = False

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self._started

    def advance(self, n: int = 1, **fields: object) -> None:
        """Record ``n`` more units done; ``fields`` (e.g. rows=...) are shown as-is."""
        self.done += n
        self.fields.update(fields)
        if not self.enabled:
            return
        if self._tty:
            self._write("\r" + self._line() + "\x1b[K")
        elif self.done >= self._next_log or self.done >= self.total:
            self._write(self._line() + "\n")
            while self._next_log <= self.done:
                self._next_log += self._step

    def close(self) -> None:
        """Finish the line (TTY) and print nothing more."""
        if self._closed:
            return
        self._closed = True
        if self.enabled and self._tty:
            self._write("\r" + self._line() + "\x1b[K\n")

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _line(self) -> str:
        pct = 100.0 * self.done / self.total if self.total else 100.0
        elapsed = self.elapsed
        parts = [f"{self.label}: {self.done}/{self.total} ({pct:.0f}%)"]
        parts += [f"{key}={_format(value)}" for key, value in self.fields.items()]
        parts.append(f"{elapsed:.1f}s")
        if 0 < self.done < self.total:
            parts.append(f"eta {elapsed / self.done * (self.total - self.done):.0f}s")
        return " ".join(parts)

    def _write(self, text: str) -> None:
        self.stream.write(text)
        self.stream.flush()


def _format(value: object) -> str:
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.1f}"
    return str(value)
