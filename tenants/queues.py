"""Per-organisation Celery queues.

Every organisation has its own queue per kind of work (`t.<schema>.reminders`,
`t.<schema>.reports`). A task declares its kind (`tenant_queue="reminders"`) and is routed to
the queue of the organisation whose schema was active when it was sent; tenant-schemas-celery
carries that schema in the message, so the task runs there.

Workers consume every active organisation's queues: `TenantQueues` (a worker bootstep) adds a
newly provisioned organisation's queues and drops a suspended or deleted one's every
`KESTREL_QUEUE_REFRESH_SECONDS`, without a restart. With the Redis transport a worker serves
its queues round-robin (one message from each non-empty queue in turn), so one organisation
flooding its queue delays another's work by at most one task per worker process.

Past a few thousand organisations, set `KESTREL_QUEUE_SHARDS=N`: organisations then share N
queues per kind (`reminders.s<k>`, k = crc32(schema) mod N). See docs/operations.md.
"""

from __future__ import annotations

import functools
import logging
import zlib
from collections.abc import Callable
from typing import Any

from celery import bootsteps, shared_task
from django.conf import settings

from .db import connection

logger = logging.getLogger(__name__)

KINDS = ("reminders", "reports")
DEFAULT_QUEUE = "default"


class WrongSchema(RuntimeError):
    """An organisation's task was sent from outside any organisation."""


def tenant_task(kind: str, *, name: str, **options: Any) -> Any:
    """Decorator for an organisation's task: routed to its `kind` queue, result ignored.

    The task refuses to run in the public schema (WrongSchema). A worker routes it by the
    sender's schema and refuses to send it from public (route_task), but an eager `.delay()`
    (tests, `CELERY_TASK_ALWAYS_EAGER`) skips the router and would run it in public. A
    message sent from an organisation that has since been deleted (a shared shard queue
    still holds it) also arrives in public: that one is dropped with a warning."""
    if kind not in KINDS:
        raise ValueError(f"Unknown queue kind {kind!r}; expected one of {', '.join(KINDS)}.")
    # `tenant_queue` becomes an attribute of the task class (read by route_task); Celery's
    # type stubs do not know custom task options, hence the cast.
    decorator: Any = shared_task

    def register(func: Callable[..., Any]) -> Any:
        @functools.wraps(func)
        def in_organisation(*args: Any, **kwargs: Any) -> Any:
            if connection.schema_name == settings.PUBLIC_SCHEMA_NAME:
                from tenant_schemas_celery.app import get_schema_name_from_task

                sent_from = get_schema_name_from_task(task, kwargs)
                if sent_from and sent_from != settings.PUBLIC_SCHEMA_NAME:
                    organisation = _organisation(sent_from)
                    if organisation is None:
                        logger.warning(
                            "%s dropped: organisation %s no longer exists", name, sent_from
                        )
                        return None
                    # The switch before the task failed: its database connection was lost
                    # (PostgreSQL restarting, the connection terminated). Switch now.
                    connection.set_tenant(organisation)
                    return func(*args, **kwargs)
                raise WrongSchema(
                    f"{name} is an organisation's task and ran in the public schema: send it "
                    "inside that organisation's schema (schema_context)."
                )
            return func(*args, **kwargs)

        task = decorator(name=name, ignore_result=True, tenant_queue=kind, **options)(
            in_organisation
        )
        return task

    return register


def _organisation(schema: str) -> Any:
    """The organisation of `schema`, None if there is none; on a new database connection
    if the current one was lost."""
    from tenants.models import Tenant

    if not connection.in_atomic_block:  # (a test's transaction: nothing to replace)
        connection.close_if_unusable_or_obsolete()
    return Tenant.objects.filter(schema_name=schema).first()


def queue_name(schema: str, kind: str) -> str:
    if kind not in KINDS:
        raise ValueError(f"Unknown queue kind {kind!r}; expected one of {', '.join(KINDS)}.")
    shards = int(getattr(settings, "KESTREL_QUEUE_SHARDS", 0) or 0)
    if shards > 0:
        return f"{kind}.s{zlib.crc32(schema.encode()) % shards}"
    return f"t.{schema}.{kind}"


def tenant_queues(schema: str, kinds: tuple[str, ...] = KINDS) -> list[str]:
    return [queue_name(schema, kind) for kind in kinds]


def active_schemas() -> list[str]:
    from .models import Tenant, TenantStatus

    return list(
        Tenant.objects.filter(status=TenantStatus.ACTIVE)
        .exclude(schema_name=settings.PUBLIC_SCHEMA_NAME)
        .order_by("schema_name")
        .values_list("schema_name", flat=True)
    )


def wanted_queues(kinds: tuple[str, ...] = KINDS) -> set[str]:
    """The queues a worker serving `kinds` should consume now."""
    return {name for schema in active_schemas() for name in tenant_queues(schema, kinds)}


def route_task(
    name: str, args: Any, kwargs: Any, options: dict[str, Any], task: Any = None, **kw: Any
) -> dict[str, str] | None:
    """Celery router: an organisation's task goes to that organisation's queue."""
    if task is None:
        from config.celery_app import app

        task = app.tasks.get(name)
    kind = getattr(task, "tenant_queue", None)
    if not kind:
        return None
    schema = (options.get("headers") or {}).get("_schema_name") or connection.schema_name
    if schema == settings.PUBLIC_SCHEMA_NAME:
        raise WrongSchema(
            f"{name} is an organisation's task: send it inside that organisation's schema."
        )
    return {"queue": queue_name(schema, kind)}


def purge(schema: str) -> int:
    """Delete a removed organisation's queued messages (its queues must not outlive it).
    Shared shard queues are left alone: their messages for a missing schema are dropped
    when they run."""
    if int(getattr(settings, "KESTREL_QUEUE_SHARDS", 0) or 0) > 0:
        return 0
    from config.celery_app import app

    removed = 0
    with app.connection_for_write() as conn:
        channel = conn.default_channel
        for name in tenant_queues(schema):
            try:
                removed += channel.queue_purge(name) or 0
                channel.queue_delete(name)
            except Exception:  # a queue that never existed is fine
                logger.debug("queue %s had nothing to purge", name)
            # Each queue has a direct exchange of its own name; its binding sets are kept by
            # whichever process declared them, so they are removed by name here.
            channel.client.delete(
                channel.keyprefix_queue % (name,), channel.keyprefix_binding_permanent % (name,)
            )
    return removed


class TenantQueues(bootsteps.StartStopStep):
    """Worker bootstep: keep the consumer's queues equal to the active organisations' queues
    of the kinds this worker serves (`--tenant-queues reminders,reports`; `none` to serve only
    the queues given with -Q)."""

    requires = ("celery.worker.consumer.tasks:Tasks",)

    def __init__(self, parent: Any, tenant_queues: str | None = None, **kwargs: Any) -> None:
        super().__init__(parent, **kwargs)
        raw = tenant_queues if tenant_queues is not None else ",".join(KINDS)
        self.kinds = tuple(k for k in (p.strip() for p in raw.split(",")) if k in KINDS)
        self.managed: set[str] = set()
        self.timer_ref: Any = None

    def start(self, consumer: Any) -> None:
        if not self.kinds:
            return
        self.refresh(consumer)
        interval = float(getattr(settings, "KESTREL_QUEUE_REFRESH_SECONDS", 5))
        self.timer_ref = consumer.timer.call_repeatedly(interval, self.refresh, (consumer,))

    def stop(self, consumer: Any) -> None:
        if self.timer_ref is not None:
            self.timer_ref.cancel()
            self.timer_ref = None
        # The consumer may be restarted (e.g. after a broker reconnect) with fresh queues.
        self.managed = set()

    def refresh(self, consumer: Any) -> None:
        try:
            wanted = wanted_queues(self.kinds)
        except Exception:  # the database may be down; keep what we have
            logger.exception("could not list organisations' queues; keeping the current ones")
            from django.db import close_old_connections

            close_old_connections()
            return
        for name in sorted(wanted - self.managed):
            consumer.add_task_queue(name)
        for name in sorted(self.managed - wanted):
            consumer.cancel_task_queue(name)
        if wanted != self.managed:
            logger.info("consuming %d organisation queues", len(wanted))
        self.managed = wanted
