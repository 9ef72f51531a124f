"""The JSON log line's shape, the worker's logging hook, Sentry's scrubbing of an event."""

from __future__ import annotations

import io
import json
import logging
from typing import Any

import redis
from django.test import override_settings

from apps.core.observability import context, sentry, worker
from apps.core.observability.logging import ContextFilter, JsonFormatter
from apps.core.observability.metrics import TASKS, MetricsStore


def formatted(record_extra: dict[str, Any], **options: Any) -> dict[str, Any]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(ContextFilter())
    logger = logging.getLogger("kestrel.test.formatting")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("value %s", 42, extra=record_extra, **options)
    finally:
        logger.removeHandler(handler)
        logger.propagate = True
    [line] = stream.getvalue().splitlines()
    result: dict[str, Any] = json.loads(line)
    return result


def test_extras_of_any_type_become_json_and_stacks_are_strings() -> None:
    class Thing:
        def __str__(self) -> str:
            return "a thing"

    line = formatted(
        {"ids": (1, 2), "detail": {"a": [Thing()]}, "flag": True, "request": "not written"},
        stack_info=True,
    )
    assert line["message"] == "value 42"
    assert line["level"] == "WARNING"
    assert line["logger"] == "kestrel.test.formatting"
    assert line["ids"] == [1, 2]
    assert line["detail"] == {"a": ["a thing"]}
    assert line["flag"] is True
    assert "request" not in line
    assert "Stack (most recent call last)" in line["stack"]
    assert (line["request_id"], line["tenant"], line["user"]) == (None, None, None)


def test_a_callers_own_context_fields_are_kept() -> None:
    token = context.bind(context.Current(request_id="r-1", tenant="t_x", task="some.task"))
    try:
        line = formatted({"tenant": "t_given"})
    finally:
        context.unbind(token)
    assert (line["request_id"], line["tenant"], line["task"]) == ("r-1", "t_given", "some.task")


def test_the_worker_hook_makes_celerys_handlers_write_json() -> None:
    logger = logging.getLogger("kestrel.test.celery-like")
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    logger.addHandler(handler)
    logger.propagate = False
    try:
        with override_settings(KESTREL_LOG_FORMAT="plain"):
            worker.structured_handlers(logger)
        assert not isinstance(handler.formatter, JsonFormatter)
        with override_settings(KESTREL_LOG_FORMAT="json"):
            worker.structured_handlers(logger)
            worker.structured_handlers(logger)  # idempotent
        assert isinstance(handler.formatter, JsonFormatter)
        assert sum(isinstance(f, ContextFilter) for f in handler.filters) == 1
        logger.info("worker line")
        assert json.loads(stream.getvalue().splitlines()[-1])["message"] == "worker line"
    finally:
        logger.removeHandler(handler)
        logger.propagate = True


def test_a_pool_child_that_exits_sends_what_it_holds(metrics_store: MetricsStore) -> None:
    metrics_store.record_task(tenant="t_exit", task="x.y", state="succeeded", seconds=0.1)
    worker._flush_on_exit()
    reader = redis.Redis.from_url(metrics_store.url, decode_responses=True)
    assert reader.hget(TASKS, "t_exit|x.y|succeeded") == "1"


def test_task_signals_without_a_task_or_outside_a_run_do_nothing() -> None:
    worker.task_started(task_id=None, task=None)
    worker.task_finished(task_id=None, task=None)
    worker.task_finished(task_id="never-started", task=object())
    assert context.current() is None


def test_sentry_events_from_tasks_are_tagged_and_scrubbed() -> None:
    token = context.bind(context.Current(request_id="task-1", tenant="t_a", task="a.task"))
    try:
        event = sentry.before_send(
            {
                "request": {
                    "headers": {"Cookie": "sessionid=x", "X-Api-Key": "k", "Accept": "*/*"},
                    "cookies": {"sessionid": "x"},
                    "query_string": "token=secret",
                }
            },
            {},
        )
    finally:
        context.unbind(token)
    assert event is not None
    assert event["tags"] == {"tenant": "t_a", "request_id": "task-1", "task": "a.task"}
    assert event["request"] == {"headers": {"Accept": "*/*"}}
    # Outside any request or task: untouched apart from the scrubbing.
    assert sentry.before_send({"message": "m"}, {}) == {"message": "m"}


def test_a_batch_redis_refuses_is_not_sent_again(metrics_store: MetricsStore) -> None:
    reader = redis.Redis.from_url(metrics_store.url, decode_responses=True)
    reader.set(TASKS, "not a hash")
    try:
        metrics_store.record_task(tenant="t_x", task="x.y", state="failed", seconds=0.1)
        assert metrics_store.flush() is False
        assert metrics_store.pending() == 0
    finally:
        reader.delete(TASKS)


def test_a_token_in_the_url_of_a_sentry_event_is_redacted() -> None:
    from django.test import RequestFactory
    from django.urls import ResolverMatch

    request = RequestFactory().get("/activities/feed/tok-123.ics")
    request.resolver_match = ResolverMatch(lambda r: None, (), {"token": "tok-123"})
    token = context.bind(context.Current(request_id="r-1", request=request))
    try:
        event = sentry.before_send(
            {"request": {"url": "https://alpha.example.com/activities/feed/tok-123.ics"}}, {}
        )
    finally:
        context.unbind(token)
    assert event is not None
    assert event["request"]["url"] == "https://alpha.example.com/activities/feed/[redacted].ics"


def test_celerys_task_lines_carry_no_task_arguments() -> None:
    """Celery passes a task's arguments along with its "received" and "succeeded" lines (as
    the `data` extra); they may be personal data (the email a reminder goes to) and never
    reach a JSON line. The message itself is Celery's own."""
    from celery.app import trace

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(ContextFilter())
    trace.logger.addHandler(handler)
    try:
        trace.info(
            trace.LOG_SUCCESS,
            {
                "id": "t-1",
                "name": "tenants.tasks.workspace_reminder_send",
                "return_value": "1",
                "runtime": 0.25,
                "args": "()",
                "kwargs": "{'email': 'someone.private@example.com'}",
            },
        )
    finally:
        trace.logger.removeHandler(handler)
    [line] = [json.loads(text) for text in stream.getvalue().splitlines()]
    assert line["message"].startswith("Task tenants.tasks.workspace_reminder_send[t-1] succeeded")
    assert line["data"]["runtime"] == 0.25
    assert "someone.private@example.com" not in stream.getvalue()
