"""The one Celery app: tenant-aware, so each task runs in the schema of the tenant that sent it.

Organisations' tasks go to their own queues (tenants/queues.py); workers pick up every active
organisation's queues by themselves. A task that fails for good is recorded as a FailedTask in
the schema it ran in, where an Admin (or, for platform work, an operator) can see it.
"""

from __future__ import annotations

import logging
import os
import traceback
from typing import Any

from celery import signals
from click import Option
from tenant_schemas_celery.app import CeleryApp as TenantAwareCeleryApp

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.development")

app = TenantAwareCeleryApp("kestrel")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

app.user_options["worker"].add(
    Option(
        ["--tenant-queues"],
        default="reminders,reports",
        show_default=True,
        help="Kinds of organisation queues to consume (comma-separated), or 'none'.",
    )
)


def _install_steps() -> None:
    from tenants.queues import TenantQueues

    app.steps["consumer"].add(TenantQueues)


_install_steps()


def _observe_tasks() -> None:
    # Log context (task id, organisation) and task metrics for every run (apps/core/observability).
    from apps.core.observability import worker

    worker.connect()


_observe_tasks()


DISPATCHER = "tenants.tasks.dispatch_due_jobs"


class QuietDispatcher(logging.Filter):
    """The dispatcher runs every second; its log lines (beat sending it, the worker receiving
    it, and runs that found nothing due) would drown everything else. Runs that sent work
    still log."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, dict) and args.get("name") == DISPATCHER:
            return "return_value" in args and str(args["return_value"]) != "0"
        return not (isinstance(args, tuple) and DISPATCHER in args)


@signals.after_setup_logger.connect
def quiet_dispatcher(logger: logging.Logger, **kwargs: Any) -> None:
    for handler in logger.handlers:
        handler.addFilter(QuietDispatcher())


@signals.task_failure.connect
def record_failed_task(
    sender: Any = None,
    task_id: str | None = None,
    exception: BaseException | None = None,
    einfo: Any = None,
    **kwargs: Any,
) -> None:
    """Celery sends task_failure once a task has failed for good (not on each retry)."""
    from django.db import DatabaseError, transaction

    from apps.core.models import FailedTask

    name = getattr(sender, "name", "") or "unknown"
    retries = getattr(getattr(sender, "request", None), "retries", 0) or 0
    detail = "".join(traceback.format_exception(exception)) if exception is not None else str(einfo)
    try:
        with transaction.atomic():
            FailedTask.objects.create(
                task_name=name[:200],
                task_id=(task_id or "")[:64],
                attempts=retries + 1,
                error=f"{type(exception).__name__}: {exception}"[:300],
                traceback=detail[-20_000:],
            )
    except DatabaseError:
        # The database itself is what failed; the worker's log still has the error.
        pass
