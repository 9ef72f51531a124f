"""Settings for the baseline of bench/reminders.py: every organisation's work in ONE queue.

The development settings, except that organisations' tasks (those declaring a `tenant_queue`:
reminder and email deliveries, pipeline snapshots) all go to the queue `shared` instead of
each organisation's own queues. Platform tasks (beat's dispatcher) stay on `default`, so the
dispatcher itself is never stuck behind the flood: only organisations' work shares a queue.

    DJANGO_SETTINGS_MODULE=bench.reminders_one_queue celery -A config.celery_app worker \\
        -Q default,shared --tenant-queues none
"""

from __future__ import annotations

from typing import Any

from config.settings.development import *  # noqa: F403

SHARED_QUEUE = "shared"

CELERY_TASK_ROUTES = ("bench.reminders_one_queue.route_shared",)


def route_shared(
    name: str, args: Any, kwargs: Any, options: dict[str, Any], task: Any = None, **kw: Any
) -> dict[str, str] | None:
    """Celery router: any organisation's task goes to the one shared queue."""
    if task is None:
        from config.celery_app import app

        task = app.tasks.get(name)
    return {"queue": SHARED_QUEUE} if getattr(task, "tenant_queue", None) else None
