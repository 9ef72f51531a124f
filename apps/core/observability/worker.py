"""Celery: log context and metrics for each task run, connected by config/celery_app.py.

task_prerun binds the task's id (as request id), name and organisation (the schema that
tenant-schemas-celery carries in the message) for the log lines of the run; task_postrun
records the run in the shared metrics (`kestrel_tasks_total`, `kestrel_task_duration_seconds`)
and restores the context that was there before (an eager task inside a request keeps the
request's). Logging in JSON replaces the worker's formatters once Celery has set them up.
"""

from __future__ import annotations

import logging
import time
from contextvars import Token
from typing import Any

from celery import signals
from django.conf import settings

from . import context
from .logging import ContextFilter, JsonFormatter
from .metrics import PUBLIC_TENANT, flush_all, store, task_state

# task id -> (started, the context token to restore). Per process; a prefork child runs one
# task at a time, a thread pool several.
_running: dict[str, tuple[float, Token[context.Current | None]]] = {}


def task_schema(task: Any) -> str:
    from tenant_schemas_celery.app import get_schema_name_from_task

    try:
        schema = get_schema_name_from_task(task, {})
    except Exception:  # a request without headers (e.g. called directly)
        schema = None
    return str(schema or PUBLIC_TENANT)


def task_started(task_id: str | None = None, task: Any = None, **kwargs: Any) -> None:
    if task_id is None or task is None:
        return
    token = context.bind(
        context.Current(request_id=task_id, tenant=task_schema(task), task=str(task.name))
    )
    _running[task_id] = (time.perf_counter(), token)


def task_finished(
    task_id: str | None = None, task: Any = None, state: str | None = None, **kwargs: Any
) -> None:
    if task_id is None or task is None:
        return
    started = _running.pop(task_id, None)
    if started is None:
        return
    began, token = started
    now = context.current()
    tenant = now.tenant if now is not None and now.tenant else task_schema(task)
    store().record_task(
        tenant=tenant,
        task=str(task.name),
        state=task_state(state),
        seconds=time.perf_counter() - began,
    )
    try:
        context.unbind(token)
    except ValueError:  # bound in another context (a thread pool); just clear
        context.unbind()


def structured_handlers(logger: logging.Logger, **kwargs: Any) -> None:
    """After Celery configured a logger: every handler adds the context, and writes JSON when
    KESTREL_LOG_FORMAT is json."""
    json_lines = getattr(settings, "KESTREL_LOG_FORMAT", "plain") == "json"
    for handler in logger.handlers:
        if not any(isinstance(f, ContextFilter) for f in handler.filters):
            handler.addFilter(ContextFilter())
        if json_lines:
            handler.setFormatter(JsonFormatter())


def _flush_on_exit(**kwargs: Any) -> None:
    flush_all()


def connect() -> None:
    signals.task_prerun.connect(task_started, dispatch_uid="kestrel_observability_prerun")
    signals.task_postrun.connect(task_finished, dispatch_uid="kestrel_observability_postrun")
    # A pool child that exits (max tasks per child, shutdown) sends what it still holds.
    signals.worker_process_shutdown.connect(
        _flush_on_exit, dispatch_uid="kestrel_observability_child_exit"
    )
    signals.after_setup_logger.connect(
        structured_handlers, dispatch_uid="kestrel_observability_logger"
    )
    signals.after_setup_task_logger.connect(
        structured_handlers, dispatch_uid="kestrel_observability_task_logger"
    )
