"""What a validation says, one day at a time: the plain objects checks and tables share.

Great Expectations validates a whole range of days in one batch (fast), but a backfill
must still say which *days* failed, so every outcome is split per day into a
``Finding``. Reconciliations written in Polars produce the same ``Finding`` objects, so
check metadata and the ``validation_results`` table treat both alike.
"""

import datetime as dt
from dataclasses import dataclass, field

#: Severities of an expectation, as Great Expectations names them. Only a ``critical``
#: failure fails a check with ERROR (and so blocks downstream assets); ``warning``
#: fails it with WARN; ``info`` is recorded and shown but does not fail it.
CRITICAL, WARNING, INFO = "critical", "warning", "info"

#: Offending values kept per finding: enough to find the rows, small enough for the UI.
SAMPLE_SIZE = 5


@dataclass(frozen=True)
class Finding:
    """One expectation or reconciliation judged on one day."""

    day: dt.date
    check: str
    table: str
    expectation: str
    column: str
    severity: str
    success: bool
    unexpected_count: int = 0
    sample: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        return f"{self.expectation}({self.column})" if self.column else self.expectation


@dataclass
class CheckReport:
    """Every finding of one named check over the days of a run."""

    check: str
    table: str
    days: list[dt.date]
    findings: list[Finding] = field(default_factory=list)
    seconds: float = 0.0

    def failures(self, severity: str | None = None) -> list[Finding]:
        return [
            f
            for f in self.findings
            if not f.success and (severity is None or f.severity == severity)
        ]

    @property
    def success(self) -> bool:
        """No critical failure on any day: the data may be used downstream."""
        return not self.failures(CRITICAL)

    @property
    def has_warnings(self) -> bool:
        return bool(self.failures(WARNING))

    def failed_days(self, severity: str = CRITICAL) -> list[dt.date]:
        return sorted({f.day for f in self.failures(severity)})

    @property
    def unexpected_rows(self) -> int:
        return sum(f.unexpected_count for f in self.failures())

    def summary(self) -> str:
        """One line for a check description or a log."""
        critical = self.failures(CRITICAL)
        if not critical and not self.has_warnings:
            return f"{self.check}: all expectations met on {len(self.days)} day(s)"
        failing = self.failures(CRITICAL) or self.failures(WARNING)
        labels = sorted({f.label for f in failing})
        days = self.failed_days(CRITICAL) or self.failed_days(WARNING)
        first = min(failing, key=lambda f: (f.day, f.label))
        example = f", e.g. {_one_line(first.sample[0])}" if first.sample else ""
        rows = f" ({first.unexpected_count} row(s){example})" if first.unexpected_count else example
        return (
            f"{self.check}: {len(labels)} expectation(s) failed on {len(days)} of "
            f"{len(self.days)} day(s), first {first.day}: {first.label}{rows}"
            + (
                f"; also {'; '.join(label for label in labels if label != first.label)}"
                if len(labels) > 1
                else ""
            )
        )


#: Longest sample value quoted in a one-line summary.
_SAMPLE_CHARS = 160


def _one_line(text: str) -> str:
    flat = " ".join(str(text).split())
    return flat if len(flat) <= _SAMPLE_CHARS else flat[: _SAMPLE_CHARS - 3] + "..."
