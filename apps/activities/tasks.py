"""Activities' background work, on each organisation's reminders queue."""

from __future__ import annotations

from tenants.queues import tenant_task
from tenants.tasks import deliver_jobs

from .reminders import JOB_KIND, reminder_deliver

TASK_NAME = "activities.tasks.deliver_due_reminders"


@tenant_task("reminders", name=TASK_NAME)
def deliver_due_reminders() -> int:
    """Send this organisation's due reminders (sent by the dispatcher, at most one waiting
    per organisation). Each reminder is delivered in its own transaction, exactly once."""
    return deliver_jobs(JOB_KIND, reminder_deliver, TASK_NAME)
