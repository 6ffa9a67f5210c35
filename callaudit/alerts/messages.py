"""What an alert says: one JSON payload for a webhook, one plain-text mail.

An alert has a key that is unique for what it reports (a flag of a partner on a day, a
failed run, a day missing at a deadline), so the outbox can send it once however many
times the event is seen.
"""

import json
from dataclasses import asdict, dataclass
from email.message import EmailMessage

#: Kinds of alert: a new critical flag, a failed automatic run, a day late at its deadline.
CRITICAL_FLAG = "critical_flag"
RUN_FAILURE = "run_failure"
LATE_DATA = "late_data"


@dataclass(frozen=True)
class Alert:
    """One thing the operator should look at, with the link to the run in the UI."""

    key: str
    kind: str
    title: str  # the mail's subject after "[callaudit] "
    detail: str  # one line a reader can quote
    link: str
    partner: str | None = None
    flag: str | None = None
    day: str | None = None

    def payload(self) -> dict:
        """The webhook's JSON body."""
        return {
            "kind": self.kind,
            "partner": self.partner,
            "flag": self.flag,
            "day": self.day,
            "detail": self.detail,
            "link": self.link,
        }

    def mail_text(self) -> str:
        """The mail's body: the detail, then the fields a filter or a reader looks for."""
        lines = [self.detail, ""]
        for label, value in (("Partner", self.partner), ("Flag", self.flag), ("Day", self.day)):
            if value:
                lines.append(f"{label}: {value}")
        lines.append(f"Run: {self.link}")
        return "\n".join(lines) + "\n"

    def mail(self, sender: str, recipients: tuple[str, ...]) -> EmailMessage:
        message = EmailMessage()
        message["Subject"] = f"[callaudit] {self.title}"
        message["From"] = sender
        message["To"] = ", ".join(recipients)
        message.set_content(self.mail_text())
        return message

    def dumps(self) -> dict:
        return asdict(self)

    @classmethod
    def loads(cls, data: dict) -> "Alert":
        return cls(**data)

    def __str__(self) -> str:
        return json.dumps(self.payload(), sort_keys=True)
