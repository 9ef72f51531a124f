from __future__ import annotations

import logging

from celery import shared_task

from . import provisioning

logger = logging.getLogger(__name__)


@shared_task(name="tenants.tasks.warm_pool_refill", ignore_result=True)
def warm_pool_refill() -> int:
    """Keep the pool of ready-made schemas topped up (public schema; beat and post-sign-up)."""
    return provisioning.warm_pool_refill()


@shared_task(name="tenants.tasks.workspace_reminder_send", ignore_result=True)
def workspace_reminder_send(*, email: str, scheme: str = "https", port: str = "443") -> int:
    """Email `email` the addresses of every workspace they belong to (or say there are none)."""
    from django.conf import settings
    from django.core.mail import send_mail

    from apps.core.urls_util import tenant_host

    from .selectors import tenants_for_email

    suffix = "" if (scheme, port) in {("https", "443"), ("http", "80")} else f":{port}"
    tenants = tenants_for_email(email)
    if tenants:
        lines = [f"- {t.name}: {scheme}://{tenant_host(t.slug)}{suffix}/" for t in tenants]
        body = "Your Kestrel workspaces:\n\n" + "\n".join(lines)
    else:
        body = (
            "We could not find a Kestrel workspace for this address. "
            f"You can create one at {scheme}://{settings.KESTREL_BASE_DOMAIN}{suffix}/signup/"
        )
    send_mail("Your Kestrel workspaces", body, None, [email])
    return len(tenants)


# While a delivery task for (organisation, kind) waits in its queue, the dispatcher does not
# send another; the marker expires so that a lost message is replaced within this many seconds.
DISPATCH_MARKER_SECONDS = 10


def dispatch_marker(schema: str, kind: str) -> str:
    return f"dispatch:{schema}:{kind}"


@shared_task(name="tenants.tasks.dispatch_due_jobs", ignore_result=True)
def dispatch_due_jobs() -> int:
    """Every second (beat): for each active organisation with due scheduled work, send one
    delivery task to that organisation's own queue. Returns how many were sent."""
    from django.conf import settings
    from django.core.cache import caches
    from django.utils.module_loading import import_string
    from django_tenants.utils import schema_context

    from .jobs import due_work
    from .queues import active_schemas

    due = due_work()
    if not due:
        return 0
    active = set(active_schemas())
    markers = caches["platform"]
    sent = 0
    for schema, kind in due:
        task_path = settings.KESTREL_JOB_TASKS.get(kind)
        if schema not in active or task_path is None:
            continue  # suspended (its work waits) or a kind nobody delivers
        marker = dispatch_marker(schema, kind)
        if not markers.add(marker, 1, timeout=DISPATCH_MARKER_SECONDS):
            continue
        try:
            with schema_context(schema):
                import_string(task_path).apply_async()
        except Exception:
            # One organisation's failure (a task that does not import, a refused send) must
            # not hold up the others, nor keep its own marker: the next run tries it again.
            logger.exception("could not send %s to organisation %s", task_path, schema)
            try:
                markers.delete(marker)
            except Exception:  # the marker expires by itself
                logger.exception("could not clear the dispatch marker %s", marker)
            continue
        sent += 1
    return sent


def deliver_jobs(kind: str, handler: object, task_name: str) -> int:
    """The body of every delivery task: free the dispatch marker, deliver a batch of due jobs
    in the current organisation, and ask for another run at once if work remains."""
    from django.core.cache import caches

    from . import jobs
    from .db import connection

    caches["platform"].delete(dispatch_marker(connection.schema_name, kind))
    handled, more = jobs.deliver_due(kind=kind, handler=handler, task_name=task_name)  # type: ignore[arg-type]
    if more:
        from config.celery_app import app

        app.tasks[task_name].apply_async()  # registered: this task is running it
    return handled


@shared_task(name="tenants.tasks.fan_out", ignore_result=True)
def fan_out(task_path: str) -> int:
    """Beat's way to run an organisation's task in every active organisation: sent once (to
    the default queue), it sends `task_path` to each organisation's own queue, in its schema."""
    from django.utils.module_loading import import_string
    from django_tenants.utils import schema_context

    from .queues import active_schemas

    task = import_string(task_path)
    schemas = active_schemas()
    for schema in schemas:
        with schema_context(schema):
            task.apply_async()
    return len(schemas)
