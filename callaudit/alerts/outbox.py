"""The outbox: alerts still to send, per channel, and the keys of those already sent.

It lives in the alert sensor's cursor (JSON), so it survives restarts with the rest of
the sensor's state. An alert is added once (its key is remembered when it is queued and
when it is sent); a tick sends what is pending and keeps, per channel, what failed, with
the attempt count and the last error, for the next tick. Nothing is dropped after
failures: an alert stays pending until its channel takes it, and the operator sees the
failure in every tick's log until then.
"""

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from callaudit.alerts.messages import Alert
from callaudit.alerts.send import Channel, SendError

#: How many sent keys are remembered to keep a re-seen event from alerting again: far
#: more than a year of critical flags of the sample (a few dozen flag days per kind).
REMEMBERED = 5000


@dataclass
class Pending:
    alert: Alert
    channels: list[str]
    attempts: int = 0
    error: str = ""


@dataclass(frozen=True)
class Delivery:
    """What one :meth:`Outbox.deliver` did."""

    sent: list[tuple[str, str]]  # (alert key, channel)
    failed: list[tuple[str, str, str]]  # (alert key, channel, error)


@dataclass
class Outbox:
    pending: list[Pending] = field(default_factory=list)
    sent: list[str] = field(default_factory=list)

    def known(self, key: str) -> bool:
        return key in self.sent or any(p.alert.key == key for p in self.pending)

    def add(self, alerts: Iterable[Alert], channels: Sequence[str]) -> int:
        """Queue the alerts not seen before, for every channel; returns how many."""
        added = 0
        for alert in alerts:
            if self.known(alert.key) or not channels:
                continue
            self.pending.append(Pending(alert, list(channels)))
            added += 1
        return added

    def deliver(self, channels: Sequence[Channel], log: Callable[[str], None]) -> Delivery:
        """Send every pending alert on each channel it still waits for."""
        by_name = {c.name: c for c in channels}
        sent, failed, still = [], [], []
        for item in self.pending:
            waiting = []
            for name in item.channels:
                channel = by_name.get(name)
                if channel is None:  # the channel was unconfigured since: nothing to do
                    continue
                try:
                    channel.send(item.alert)
                except SendError as exc:
                    waiting.append(name)
                    item.error = str(exc)
                    failed.append((item.alert.key, name, str(exc)))
                else:
                    sent.append((item.alert.key, name))
            if waiting:
                item.channels = waiting
                item.attempts += 1
                log(
                    f"alert {item.alert.key} not delivered by {', '.join(waiting)} "
                    f"(attempt {item.attempts}, retried next tick): {item.error}"
                )
                still.append(item)
            else:
                self.sent.append(item.alert.key)
        self.pending = still
        self.sent = self.sent[-REMEMBERED:]
        return Delivery(sent, failed)

    def dumps(self) -> str:
        return json.dumps(
            {
                "pending": [
                    {
                        "alert": p.alert.dumps(),
                        "channels": p.channels,
                        "attempts": p.attempts,
                        "error": p.error,
                    }
                    for p in self.pending
                ],
                "sent": self.sent,
            },
            separators=(",", ":"),
        )

    @classmethod
    def loads(cls, text: str | None) -> "Outbox":
        if not text:
            return cls()
        data = json.loads(text)
        pending = [
            Pending(Alert.loads(p["alert"]), p["channels"], p["attempts"], p["error"])
            for p in data.get("pending", [])
        ]
        return cls(pending, list(data.get("sent", [])))
