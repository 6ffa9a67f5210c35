"""The alert tests' servers (tests.alert_servers)."""

from tests import alert_servers

webhook, smtp = alert_servers.webhook, alert_servers.smtp
