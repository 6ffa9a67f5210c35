"""Delivering an alert: a JSON POST to a webhook (urllib) or a mail over SMTP (smtplib).

Secrets (the webhook URL, which for most chat services is itself the credential, and
the SMTP password) are never part of a channel's name or of an error it raises: errors
are re-raised as :class:`SendError` with both scrubbed, so a log line or a sensor's
cursor cannot leak them.
"""

import json
import smtplib
import ssl
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from typing import Protocol

from callaudit.alerts.messages import Alert
from callaudit.settings import Settings

#: Seconds a webhook or an SMTP server gets to answer before the send counts as failed
#: (and is retried on a later tick).
TIMEOUT = 10.0


class SendError(RuntimeError):
    """A send that failed; the message names the channel and the cause, no secret."""


class Channel(Protocol):
    name: str

    def send(self, alert: Alert) -> None: ...


def _scrub(text: str, *secrets: str) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


@dataclass(frozen=True)
class Webhook:
    """POSTs each alert's payload as JSON; any 2xx answer is a delivery."""

    url: str = field(repr=False)
    name: str = "webhook"

    @property
    def where(self) -> str:
        """scheme://host[:port] of the URL, safe to log (the path often holds a token)."""
        parts = urllib.parse.urlsplit(self.url)
        return f"{parts.scheme}://{parts.hostname}" + (f":{parts.port}" if parts.port else "")

    def send(self, alert: Alert) -> None:
        body = json.dumps(alert.payload()).encode("utf-8")
        request = urllib.request.Request(
            self.url,
            data=body,
            headers={"Content-Type": "application/json", "User-Agent": "callaudit-alerts"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT) as answer:
                status = answer.status
        except urllib.error.HTTPError as exc:
            raise SendError(f"webhook {self.where} answered HTTP {exc.code}") from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise SendError(f"webhook {self.where}: {_scrub(str(reason), self.url)}") from None
        if not 200 <= status < 300:
            raise SendError(f"webhook {self.where} answered HTTP {status}")


@dataclass(frozen=True)
class Mailer:
    """Mails each alert through an SMTP server (STARTTLS, TLS or plain; login optional)."""

    host: str
    port: int
    tls: str  # starttls | ssl | none
    sender: str
    recipients: tuple[str, ...]
    user: str = ""
    password: str = field(default="", repr=False)
    name: str = "mail"

    def send(self, alert: Alert) -> None:
        try:
            if self.tls == "ssl":
                smtp = smtplib.SMTP_SSL(
                    self.host, self.port, timeout=TIMEOUT, context=ssl.create_default_context()
                )
            else:
                smtp = smtplib.SMTP(self.host, self.port, timeout=TIMEOUT)
            with smtp:
                if self.tls == "starttls":
                    smtp.starttls(context=ssl.create_default_context())
                if self.user:
                    smtp.login(self.user, self.password)
                smtp.send_message(alert.mail(self.sender, self.recipients))
        except (smtplib.SMTPException, OSError) as exc:
            cause = _scrub(str(exc), self.password)
            raise SendError(f"mail via {self.host}:{self.port}: {cause}") from None


def channels_from(settings: Settings) -> list[Channel]:
    """The channels the settings configure: a webhook, a mailer, both or none."""
    channels: list[Channel] = []
    if settings.alert_webhook_url:
        channels.append(Webhook(settings.alert_webhook_url))
    if settings.smtp_host and settings.alert_to:
        channels.append(
            Mailer(
                host=settings.smtp_host,
                port=settings.smtp_port,
                tls=settings.smtp_tls,
                sender=settings.alert_from or f"callaudit@{settings.smtp_host}",
                recipients=settings.alert_to,
                user=settings.smtp_user,
                password=settings.smtp_password,
            )
        )
    return channels
