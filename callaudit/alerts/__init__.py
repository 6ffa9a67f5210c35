"""Alerts to the operator: what needs attention, by webhook and by mail.

No Dagster here: :mod:`messages` says what an alert is and how it reads, :mod:`send`
delivers one over HTTP (urllib) or SMTP (smtplib), :mod:`outbox` remembers what is
still to send and what was sent, so each alert goes out once and a failed send is
retried on a later tick instead of being lost. The sensors in
``callaudit.pipelines.alerts`` decide when an alert is due.
"""

from callaudit.alerts.messages import Alert
from callaudit.alerts.outbox import Outbox
from callaudit.alerts.send import Channel, Mailer, Webhook, channels_from

__all__ = ["Alert", "Channel", "Mailer", "Outbox", "Webhook", "channels_from"]
