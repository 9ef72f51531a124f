"""The real-worker harness itself: what later tests rely on when they kill a worker or
restart Redis, and that the rest of the suite gets its eager Celery back."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from django.conf import settings
from django_tenants.utils import schema_context

from tenants.queues import queue_name
from tests.workers import probe_tasks
from tests.workers.conftest import (
    CeleryWorker,
    Organisations,
    RedisServer,
    group_members,
    probe_records,
    wait_until,
)

pytestmark = pytest.mark.worker


def test_a_killed_worker_leaves_no_process_behind_and_restarts(
    start_worker: Callable[..., CeleryWorker], redis_server: RedisServer, celery_client: Any
) -> None:
    worker = start_worker(queues="probe-only", tenant_queues="none")
    assert worker.process is not None
    group = worker.process.pid
    assert len(group_members(group)) == 3  # the main process and its two pool processes

    worker.kill()
    assert group_members(group) == []

    worker.restart()
    assert worker.ping()
    run = uuid.uuid4().hex
    probe_tasks.record.apply_async((run, "after restart"), queue="probe-only")
    assert [r["label"] for r in probe_records(redis_server, run, 1)] == ["after restart"]


def test_redis_restart_keeps_port_and_queued_messages_and_the_worker_reconnects(
    celery_worker: CeleryWorker, redis_server: RedisServer, organisations: Organisations
) -> None:
    tenant = organisations.make("restart")
    reports = queue_name(tenant.schema_name, "reports")
    wait_until(lambda: reports in celery_worker.active_queues(), timeout=5)
    url = redis_server.url
    run = uuid.uuid4().hex
    redis_server.stop()
    assert not redis_server.running
    redis_server.start()
    assert redis_server.url == url
    # A message queued on a queue nobody consumes survives the next restart (append-only file).
    probe_tasks.record.apply_async((run, "kept"), queue="nobody-consumes")
    redis_server.stop()
    redis_server.start()
    assert redis_server.client().llen("nobody-consumes") == 1
    redis_server.client().delete("nobody-consumes")

    # The shared worker finds the broker again by itself, with the organisations' queues.
    wait_until(celery_worker.ping, timeout=15, interval=0.5)
    probe_tasks.record.delay(run, "after broker restart")
    with schema_context(tenant.schema_name):
        probe_tasks.report.delay(run, "organisation's, after broker restart")
    records = probe_records(redis_server, run, 2)
    assert sorted((r["label"], r["schema"], r["queue"]) for r in records) == [
        ("after broker restart", "public", "default"),
        ("organisation's, after broker restart", tenant.schema_name, reports),
    ]


def test_celery_client_is_put_back_to_eager_for_the_other_tests() -> None:
    """Runs after the tests above in this module (same order, no database marker)."""
    from config.celery_app import app

    assert app.conf.task_always_eager is True
    assert app.conf.broker_url == settings.CELERY_BROKER_URL
    assert app.conf.result_backend == settings.CELERY_RESULT_BACKEND
