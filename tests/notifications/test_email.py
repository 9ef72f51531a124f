"""The notification email, as its recipient gets it through a real SMTP server (aiosmtpd on
127.0.0.1): both parts, the organisation as sender, the subject, the link, a fixed
Message-ID; and a refusal by the server reaches the caller as an error."""

from __future__ import annotations

import smtplib
from email.utils import parseaddr
from typing import Any

import pytest
from django.core import mail

from apps.accounts.models import User
from apps.notifications import services
from apps.notifications.email import build_notification_email, send_notification_email
from apps.notifications.models import Notification
from tenants.models import Tenant

from .conftest import Inbox, texts

pytestmark = pytest.mark.django_db


def _notification(rep: User, owner: User) -> Notification:
    made = services.notify(
        recipient=rep,
        kind="assignment",
        title="You were assigned a deal: Globex <renewal> & more",
        body="Assigned to you by Olive.\nCall them this week.",
        url="/deals/42/",
        actor=owner,
    )
    assert made is not None
    return made


def test_the_recipient_gets_both_parts_from_the_organisation(
    in_a: Tenant, rep: User, owner: User, smtp_server: Inbox
) -> None:
    notification = _notification(rep, owner)
    send_notification_email(notification)

    [envelope] = smtp_server.envelopes
    assert envelope.rcpt_tos == [rep.email]
    assert envelope.mail_from == "no-reply@kestrel.invalid"
    [message] = smtp_server.messages
    name, address = parseaddr(str(message["From"]))
    assert (name, address) == ("Alpha Ltd", "no-reply@kestrel.invalid")
    assert str(message["To"]) == rep.email
    assert str(message["Subject"]) == "You were assigned a deal: Globex <renewal> & more"
    assert (
        str(message["Message-ID"])
        == f"<notification-{in_a.schema_name}-{notification.pk}@localhost>"
    )
    assert str(message["Auto-Submitted"]) == "auto-generated"
    assert message.get_content_type() == "multipart/alternative"

    parts = texts(message)
    assert set(parts) == {"text/plain", "text/html"}
    link = f"http://alpha.localhost:8000/notifications/{notification.pk}/open/"
    settings_link = "http://alpha.localhost:8000/notifications/settings/"
    plain, html = parts["text/plain"], parts["text/html"]
    assert "You were assigned a deal: Globex <renewal> & more" in plain  # plain text, unescaped
    assert "Call them this week." in plain
    assert link in plain and settings_link in plain
    assert "Globex &lt;renewal&gt; &amp; more" in html  # escaped in HTML
    assert "<renewal>" not in html
    assert f'href="{link}"' in html and f'href="{settings_link}"' in html
    assert "Assigned to you by Olive.<br>Call them this week." in html
    assert 'style="' in html and "<script" not in html  # mail-safe, inline-styled markup
    assert "Alpha Ltd" in html


def test_a_resend_is_the_same_message(in_a: Tenant, rep: User, owner: User) -> None:
    notification = _notification(rep, owner)
    first = build_notification_email(notification).message()
    again = build_notification_email(Notification.objects.get(pk=notification.pk)).message()
    assert first["Message-ID"] == again["Message-ID"]
    other = _notification(rep, owner)
    assert build_notification_email(other).message()["Message-ID"] != first["Message-ID"]


def test_a_refusing_server_makes_sending_fail(
    in_a: Tenant, rep: User, owner: User, refusing_smtp_server: Inbox
) -> None:
    with pytest.raises(smtplib.SMTPDataError) as caught:
        send_notification_email(_notification(rep, owner))
    assert caught.value.smtp_code == 554
    assert refusing_smtp_server.envelopes == []


def test_an_unreachable_server_makes_sending_fail(
    in_a: Tenant, rep: User, owner: User, smtp_server: Inbox, settings: Any
) -> None:
    settings.EMAIL_PORT = 1  # nothing listens there
    with pytest.raises(OSError):
        send_notification_email(_notification(rep, owner))


def test_the_test_settings_keep_mail_in_memory(in_a: Tenant, rep: User, owner: User) -> None:
    send_notification_email(_notification(rep, owner))
    [sent] = mail.outbox
    assert sent.to == [rep.email]
    assert sent.from_email == "Alpha Ltd <no-reply@kestrel.invalid>"


def test_a_due_email_job_reaches_the_inbox_once(
    in_a: Tenant, rep: User, owner: User, smtp_server: Inbox
) -> None:
    """notify() -> the scheduled `email` job -> the delivery handler -> a real SMTP server;
    delivering again sends nothing more."""
    from apps.notifications.tasks import TASK_NAME, email_deliver
    from tenants import jobs
    from tenants.db import connection
    from tenants.models import ScheduledJob

    notification = _notification(rep, owner)
    handled, more = jobs.deliver_due(kind="email", handler=email_deliver, task_name=TASK_NAME)
    assert (handled, more) == (1, False)
    [message] = smtp_server.messages
    assert str(message["Subject"]) == notification.title
    notification.refresh_from_db()
    assert notification.emailed_at is not None
    assert not ScheduledJob.objects.filter(
        schema_name=connection.schema_name, kind="email", object_id=notification.pk
    ).exists()
    assert jobs.deliver_due(kind="email", handler=email_deliver, task_name=TASK_NAME) == (0, False)
    assert len(smtp_server.envelopes) == 1


def test_a_refused_email_stays_scheduled_for_a_retry(
    in_a: Tenant, rep: User, owner: User, refusing_smtp_server: Inbox
) -> None:
    from apps.notifications.tasks import TASK_NAME, email_deliver
    from tenants import jobs
    from tenants.db import connection
    from tenants.models import ScheduledJob

    notification = _notification(rep, owner)
    jobs.deliver_due(kind="email", handler=email_deliver, task_name=TASK_NAME)
    job = ScheduledJob.objects.get(
        schema_name=connection.schema_name, kind="email", object_id=notification.pk
    )
    assert job.attempts == 1 and "refused" in job.last_error
    notification.refresh_from_db()
    assert notification.emailed_at is None
