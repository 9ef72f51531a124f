"""A running worker follows the organisations: a new one's queues are consumed within the
refresh period without a restart, a suspended one's work waits in Redis until it is resumed,
and a deleted one's queued work is purged with it."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest
from django_tenants.utils import schema_context

from tenants import services
from tenants.queues import queue_name, tenant_queues
from tests.workers import probe_tasks
from tests.workers.conftest import (
    CeleryWorker,
    Organisations,
    RedisServer,
    probe_records,
    wait_until,
)

pytestmark = pytest.mark.worker

# The worker settings refresh every second; the product's default is five.
REFRESH_LIMIT = 5.0
# kombu's Redis transport waits on BRPOP for up to a second: a queue dropped by the worker
# can still hand over a message sent within that second.
BRPOP_TIMEOUT = 1.0


def send_report(tenant: Any, run: str, label: str = "") -> None:
    with schema_context(tenant.schema_name):
        probe_tasks.report.delay(run, label or tenant.schema_name)


def test_new_organisation_is_served_without_restarting_the_worker(
    celery_worker: CeleryWorker, redis_server: RedisServer, organisations: Organisations
) -> None:
    assert celery_worker.process is not None
    pid = celery_worker.process.pid
    tenant = organisations.make("new")
    run = uuid.uuid4().hex
    sent = time.monotonic()
    send_report(tenant, run)

    records = probe_records(redis_server, run, 1, timeout=REFRESH_LIMIT + 5)
    took = time.monotonic() - sent
    assert [(r["schema"], r["queue"]) for r in records] == [
        (tenant.schema_name, queue_name(tenant.schema_name, "reports"))
    ]
    assert took < REFRESH_LIMIT, f"the new organisation's task waited {took:.1f} s"
    assert set(tenant_queues(tenant.schema_name)) <= celery_worker.active_queues()
    assert celery_worker.process.pid == pid and celery_worker.running


def test_suspended_organisations_work_waits_until_it_is_resumed(
    celery_worker: CeleryWorker, redis_server: RedisServer, organisations: Organisations
) -> None:
    tenant = organisations.make("paused")
    other = organisations.make("busy")
    reports = queue_name(tenant.schema_name, "reports")
    wait_until(lambda: reports in celery_worker.active_queues(), REFRESH_LIMIT)

    services.tenant_suspend(tenant=tenant, actor="test", reason="unpaid")
    wait_until(lambda: reports not in celery_worker.active_queues(), REFRESH_LIMIT)
    time.sleep(BRPOP_TIMEOUT + 0.5)
    run = uuid.uuid4().hex
    send_report(tenant, run)
    send_report(other, run)

    # The other organisation is served meanwhile; the suspended one's message stays queued
    # through several refreshes.
    assert [r["schema"] for r in probe_records(redis_server, run, 1)] == [other.schema_name]
    time.sleep(2.5)
    redis = redis_server.client()
    assert redis.llen(reports) == 1
    assert [r["schema"] for r in probe_records(redis_server, run, 1, timeout=0)] == [
        other.schema_name
    ]

    services.tenant_resume(tenant=tenant, actor="test")
    records = probe_records(redis_server, run, 2, timeout=REFRESH_LIMIT + 5)
    assert sorted((r["schema"], r["queue"]) for r in records) == sorted(
        [
            (other.schema_name, queue_name(other.schema_name, "reports")),
            (tenant.schema_name, reports),
        ]
    )
    assert redis.llen(reports) == 0


def test_deleting_an_organisation_purges_its_queues(
    celery_worker: CeleryWorker, redis_server: RedisServer, organisations: Organisations
) -> None:
    waiting = organisations.make("waiting")  # suspended, with work queued
    served = organisations.make("served")  # active, its queues consumed
    waiting_reports = queue_name(waiting.schema_name, "reports")
    served_queues = set(tenant_queues(served.schema_name))
    wait_until(lambda: served_queues <= celery_worker.active_queues(), REFRESH_LIMIT)
    services.tenant_suspend(tenant=waiting, actor="test")
    wait_until(lambda: waiting_reports not in celery_worker.active_queues(), REFRESH_LIMIT)
    time.sleep(BRPOP_TIMEOUT + 0.5)
    run = uuid.uuid4().hex
    send_report(waiting, run, "one")
    send_report(waiting, run, "two")
    redis = redis_server.client()
    assert redis.llen(waiting_reports) == 2

    for tenant in (waiting, served):
        services.tenant_delete(tenant=tenant, confirmation=tenant.slug, actor="test")

    assert redis.exists(waiting_reports) == 0
    # Nothing of the deleted organisations' queues stays in Redis, bindings included.
    for tenant in (waiting, served):
        assert redis.keys(f"*{tenant.schema_name}*") == []
    wait_until(lambda: not (served_queues & celery_worker.active_queues()), REFRESH_LIMIT)
    assert probe_records(redis_server, run, 1, timeout=0) == []
