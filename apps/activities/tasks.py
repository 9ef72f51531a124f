"""Activities' background work, on each organisation's reminders queue."""

from __future__ import annotations

from celery import shared_task

from tenants.tasks import deliver_jobs

from .reminders import JOB_KIND, reminder_deliver

TASK_NAME = "activities.tasks.deliver_due_reminders"


@shared_task(name=TASK_NAME, ignore_result=True, tenant_queue="reminders")
def deliver_due_reminders() -> int:
    """Send this organisation's due reminders (sent by the dispatcher, at most one waiting
    per organisation). Each reminder is delivered in its own transaction, exactly once."""
    return deliver_jobs(JOB_KIND, reminder_deliver, TASK_NAME)
