"""Alerts reach a real webhook and a real SMTP server, once each, and a failed send waits
in the outbox for the next try without ever showing a secret."""

from callaudit.alerts import Alert, Mailer, Outbox, Webhook, channels_from
from callaudit.settings import load_settings

FLAG = Alert(
    key="flag:2022-03-14:xdh-harvest:no_agreement",
    kind="critical_flag",
    title="no_agreement for xdh-harvest on 2022-03-14",
    detail="xdh-harvest made 60 calls on 2022-03-14 with no agreement in force "
    "(not a partner in the contracts)",
    link="http://127.0.0.1:3000/runs/0123abcd-0000-0000-0000-000000000000",
    partner="xdh-harvest",
    flag="no_agreement",
    day="2022-03-14",
)
LATE = Alert(
    key="late:2026-11-28",
    kind="late_data",
    title="2026-11-28 is not in by its deadline",
    detail="2026-11-28 was due by 2026-11-29 06:00 UTC and is missing, 1 h 30 min late.",
    link="http://127.0.0.1:3000/assets/ingest_daily",
    day="2026-11-28",
)


def mailer(smtp) -> Mailer:
    return Mailer(
        host="127.0.0.1",
        port=smtp.port,
        tls="none",
        sender="callaudit@example.org",
        recipients=("ops@example.org", "audit@example.org"),
    )


def test_the_webhook_receives_the_alert_as_json(webhook):
    with webhook.serving():
        Webhook(webhook.url).send(FLAG)

    assert webhook.received() == [
        {
            "path": "/hooks/T0KEN-secret",
            "content_type": "application/json",
            "body": {
                "kind": "critical_flag",
                "partner": "xdh-harvest",
                "flag": "no_agreement",
                "day": "2022-03-14",
                "detail": "xdh-harvest made 60 calls on 2022-03-14 with no agreement in force "
                "(not a partner in the contracts)",
                "link": "http://127.0.0.1:3000/runs/0123abcd-0000-0000-0000-000000000000",
            },
        }
    ]


def test_the_mail_names_partner_flag_day_and_the_run(smtp):
    with smtp.serving():
        mailer(smtp).send(FLAG)

    (mail,) = smtp.received()
    assert mail["Subject"] == "[callaudit] no_agreement for xdh-harvest on 2022-03-14"
    assert mail["From"] == "callaudit@example.org"
    assert mail["To"] == "ops@example.org, audit@example.org"
    assert mail.get_payload(decode=True).decode() == (
        "xdh-harvest made 60 calls on 2022-03-14 with no agreement in force "
        "(not a partner in the contracts)\n"
        "\n"
        "Partner: xdh-harvest\n"
        "Flag: no_agreement\n"
        "Day: 2022-03-14\n"
        "Run: http://127.0.0.1:3000/runs/0123abcd-0000-0000-0000-000000000000\n"
    )


def test_each_alert_is_sent_once_on_every_channel(webhook, smtp):
    outbox = Outbox()
    channels = [Webhook(webhook.url), mailer(smtp)]
    with webhook.serving(), smtp.serving():
        assert outbox.add([FLAG, LATE], ["webhook", "mail"]) == 2
        first = outbox.deliver(channels, log=print)
        # The same events seen again (a day re-run) are not alerts again.
        assert outbox.add([FLAG, LATE], ["webhook", "mail"]) == 0
        second = outbox.deliver(channels, log=print)

    assert len(first.sent) == 4 and first.failed == []
    assert second.sent == [] and second.failed == []
    assert [r["body"]["kind"] for r in webhook.received()] == ["critical_flag", "late_data"]
    assert [m["Subject"] for m in smtp.received()] == [
        "[callaudit] 2026-11-28 is not in by its deadline",
        "[callaudit] no_agreement for xdh-harvest on 2022-03-14",
    ]


def test_a_failed_send_is_logged_without_the_secret_and_retried_from_the_cursor(webhook, smtp):
    logged: list[str] = []
    channels = [Webhook(webhook.url), mailer(smtp)]
    outbox = Outbox()
    outbox.add([FLAG], ["webhook", "mail"])

    with smtp.serving():  # the webhook is down
        down = outbox.deliver(channels, log=logged.append)
    cursor = outbox.dumps()

    assert down.sent == [(FLAG.key, "mail")]
    assert [(key, channel) for key, channel, _ in down.failed] == [(FLAG.key, "webhook")]
    assert logged == [
        f"alert {FLAG.key} not delivered by webhook (attempt 1, retried next tick): "
        f"webhook http://127.0.0.1:{webhook.port}: [Errno 111] Connection refused"
    ]
    assert "T0KEN" not in cursor and "T0KEN" not in logged[0]

    with webhook.serving():
        later = Outbox.loads(cursor).deliver(channels, log=logged.append)

    assert later.sent == [(FLAG.key, "webhook")]  # the mail is not sent twice
    assert [r["body"]["partner"] for r in webhook.received()] == ["xdh-harvest"]
    assert len(smtp.received()) == 1


def test_smtp_errors_never_show_the_password(smtp):
    outbox = Outbox()
    outbox.add([LATE], ["mail"])
    secret = Mailer(
        host="127.0.0.1",
        port=smtp.port,
        tls="none",
        sender="callaudit@example.org",
        recipients=("ops@example.org",),
        user="ops",
        password="pa55-w0rd",
    )
    logged: list[str] = []

    with smtp.serving():  # the server offers no AUTH without TLS: the login fails
        result = outbox.deliver([secret], log=logged.append)

    assert result.sent == [] and len(result.failed) == 1
    assert logged[0].startswith("alert late:2026-11-28 not delivered by mail (attempt 1, ")
    assert "pa55-w0rd" not in logged[0] and "pa55-w0rd" not in outbox.dumps()
    assert "pa55-w0rd" not in repr(secret)


def test_channels_come_from_the_settings_and_none_without_them():
    assert channels_from(load_settings(environ={})) == []
    settings = load_settings(
        environ={
            "CALLAUDIT_ALERT_WEBHOOK_URL": "https://hooks.example.org/T0KEN",
            "CALLAUDIT_SMTP_HOST": "mail.example.org",
            "CALLAUDIT_SMTP_PASSWORD": "pa55-w0rd",
            "CALLAUDIT_ALERT_TO": "ops@example.org, audit@example.org",
        }
    )

    webhook, mail = channels_from(settings)

    assert (webhook.name, webhook.where) == ("webhook", "https://hooks.example.org")
    assert (mail.host, mail.port, mail.tls, mail.recipients) == (
        "mail.example.org",
        587,
        "starttls",
        ("ops@example.org", "audit@example.org"),
    )
    assert mail.sender == "callaudit@mail.example.org"
    assert "T0KEN" not in repr(settings) and "pa55-w0rd" not in repr(settings)
