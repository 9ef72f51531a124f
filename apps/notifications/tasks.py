"""Notification emails, delivered from the organisation's reminders queue."""

from __future__ import annotations

from django.utils import timezone

from tenants.queues import tenant_task
from tenants.tasks import deliver_jobs

JOB_KIND = "email"
TASK_NAME = "notifications.tasks.deliver_due_emails"


def email_deliver(notification_id: int) -> None:
    """Send one notification's email and note when. Runs inside the job's transaction: an
    SMTP failure raises, the job is retried with backoff (tenants.jobs), and `emailed_at`
    guards against sending a delivered one again."""
    from .email import send_notification_email
    from .models import Notification

    notification = (
        Notification.objects.select_for_update(of=("self",))
        .select_related("recipient")
        .filter(pk=notification_id)
        .first()
    )
    if notification is None or notification.emailed_at is not None:
        return
    if not notification.recipient.is_active:
        return
    send_notification_email(notification)
    notification.emailed_at = timezone.now()
    notification.save(update_fields=["emailed_at"])


@tenant_task("reminders", name=TASK_NAME)
def deliver_due_emails() -> int:
    return deliver_jobs(JOB_KIND, email_deliver, TASK_NAME)
