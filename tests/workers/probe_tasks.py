"""Probe tasks for the real-worker tests: each records where it ran (the schema the worker's
database connection was in, and the queue the message came from) on a Redis list named after
the test's run id, in the private Redis that is also the broker. Loaded by the worker through
CELERY_IMPORTS (tests/workers/worker_settings.py) and by the test process on import."""

from __future__ import annotations

import json
from typing import Any

import redis
from celery import Task, shared_task
from django.conf import settings

from config.celery_app import app
from tenants.db import connection


def probe_key(run: str) -> str:
    return f"probe:{run}"


def _record(task: Task, run: str, label: str, **extra: Any) -> str:
    schema = str(connection.schema_name)
    delivery = task.request.delivery_info or {}
    entry = {
        "label": label,
        "schema": schema,
        "queue": delivery.get("routing_key") or "",
        "retries": task.request.retries or 0,
        **extra,
    }
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    try:
        client.rpush(probe_key(run), json.dumps(entry))
    finally:
        client.close()
    return schema


@shared_task(bind=True, name="probe.record", ignore_result=False)
def record(self: Task, run: str, label: str) -> str:
    return _record(self, run, label)


@shared_task(bind=True, name="probe.retry_once", ignore_result=True, max_retries=3)
def retry_once(self: Task, run: str, label: str) -> str:
    """Fails its first run and asks to be retried at once; records only the second run."""
    if self.request.retries == 0:
        raise self.retry(countdown=0)
    return _record(self, run, label)


@shared_task(bind=True, name="probe.chain_link", ignore_result=False)
def chain_link(self: Task, previous: str | None, run: str, label: str) -> str:
    """A link of a chain: receives the schema the previous link ran in."""
    return _record(self, run, label, previous=previous)


@shared_task(bind=True, name="probe.chord_body", ignore_result=False)
def chord_body(self: Task, header_schemas: list[str], run: str, label: str) -> str:
    """The body of a chord: receives the schemas its header tasks ran in."""
    return _record(self, run, label, header=header_schemas)


# `base=app.Task` is what shared_task uses anyway; naming it lets the type checker accept the
# extra `tenant_queue` option.
@shared_task(
    bind=True, base=app.Task, name="probe.report", ignore_result=True, tenant_queue="reports"
)
def report(self: Task, run: str, label: str) -> str:
    """An organisation's task: routed to that organisation's `reports` queue."""
    return _record(self, run, label)


# The product's fan-out (tenants.tasks.fan_out) sends its task without arguments: this probe
# records on one list, FAN_OUT_RUN.
FAN_OUT_RUN = "product-fan-out"


@shared_task(
    bind=True, base=app.Task, name="probe.report_here", ignore_result=True, tenant_queue="reports"
)
def report_here(self: Task) -> str:
    return _record(self, FAN_OUT_RUN, str(connection.schema_name))


@shared_task(bind=True, name="probe.fan_out", ignore_result=True)
def fan_out(self: Task, run: str) -> int:
    """The dispatcher's pattern (tenants.tasks.dispatch_due_jobs), run from the public
    schema: one task per active organisation, each sent inside that organisation's schema."""
    from django_tenants.utils import schema_context

    from tenants.queues import active_schemas

    _record(self, run, "fan-out:dispatcher")
    schemas = active_schemas()
    for schema in schemas:
        with schema_context(schema):
            app.send_task("probe.report", args=[run, f"fan-out:{schema}"])
    return len(schemas)


# Scheduled jobs of kind "probe" (worker_settings.KESTREL_JOB_TASKS): the handler records the
# job's object id on one list, PROBE_JOBS_RUN.
PROBE_JOBS_RUN = "scheduled-jobs"


@shared_task(
    bind=True,
    base=app.Task,
    name="probe.deliver_due_probes",
    ignore_result=True,
    tenant_queue="reminders",
)
def deliver_due_probes(self: Task) -> int:
    """A delivery task like the product's (tenants.tasks.deliver_jobs)."""
    from tenants.tasks import deliver_jobs

    def handler(object_id: int) -> None:
        _record(self, PROBE_JOBS_RUN, str(object_id))

    return deliver_jobs("probe", handler, "probe.deliver_due_probes")
