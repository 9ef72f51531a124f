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
from celery.worker.consumer import Consumer as CeleryConsumer
from click import Option
from tenant_schemas_celery.app import CeleryApp as TenantAwareCeleryApp

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.development")

logger = logging.getLogger("kestrel.celery")

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


class Consumer(CeleryConsumer):
    """Celery's consumer (settings: CELERY_WORKER_CONSUMER), surviving the loss of Redis
    while a late-acknowledged task is in flight.

    On a lost broker connection Celery 5.7 tears the connection down, and the channel that
    delivered the running tasks goes with it. Two things then used it and raised
    AttributeError, which stopped the worker ("Unrecoverable error") instead of letting it
    reconnect: closing the channel (it hands unacknowledged messages back to Redis) and
    acknowledging, later, a task that finished meanwhile. Through that channel neither can
    be done any more: its messages stay in Redis's `unacked` set, which hands them out
    again after the visibility timeout, as for a worker that was killed (every task is
    idempotent: late acknowledgement means at least once)."""

    def on_connection_error_after_connected(self, exc: Exception) -> None:
        channel = getattr(self.connection, "_default_channel", None)
        if channel is not None:
            channel.do_restore = False
            channel.basic_ack = _left_for_redelivery
            channel.basic_reject = _left_for_redelivery
        super().on_connection_error_after_connected(exc)


def _left_for_redelivery(delivery_tag: str, *args: Any, **kwargs: Any) -> None:
    logger.warning(
        "message %s was delivered on a lost broker connection; Redis delivers it again "
        "after the visibility timeout",
        delivery_tag,
    )


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
