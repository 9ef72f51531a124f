"""Report subscriptions on the organisation's reports queue: the dispatcher sends
`deliver_subscriptions` when a subscription's scheduled job is due; it runs each due one
(`subscriptions.run`, retried with backoff by the job machinery when it fails) and then shows
on the subscriptions what became of failed runs."""

from __future__ import annotations

from tenants.queues import tenant_task
from tenants.tasks import deliver_jobs

from . import subscriptions

KIND = subscriptions.KIND
TASK = subscriptions.TASK


@tenant_task("reports", name=TASK)
def deliver_subscriptions() -> int:
    """Send this organisation's due report subscriptions (sent by the dispatcher)."""
    handled = deliver_jobs(KIND, subscriptions.run, TASK)
    subscriptions.record_outcomes()
    return handled
