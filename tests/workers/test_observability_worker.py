"""A real worker counts each task run per organisation and outcome in the shared metrics,
and its log lines (JSON) carry the task's id and organisation."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from django_tenants.utils import schema_context

from apps.core.observability.metrics import TASK_DURATION, TASKS, MetricsStore
from tests.workers import probe_tasks
from tests.workers.conftest import (
    CeleryWorker,
    Organisations,
    RedisServer,
    probe_records,
    wait_until,
)

pytestmark = pytest.mark.worker


def test_a_worker_records_task_runs_per_organisation_and_logs_them_as_json(
    monkeypatch: pytest.MonkeyPatch,
    start_worker: Callable[..., CeleryWorker],
    redis_server: RedisServer,
    organisations: Organisations,
) -> None:
    first, second = organisations.make("obs-a"), organisations.make("obs-b")
    queue = f"obs-{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("KESTREL_LOG_FORMAT", "json")
    # Only this worker consumes the test's queue (the session's worker may be running too).
    worker = start_worker(queues=queue, tenant_queues="none")

    run = uuid.uuid4().hex
    with schema_context(first.schema_name):
        sent = probe_tasks.record.apply_async((run, "a1"), queue=queue)
        probe_tasks.record.apply_async((run, "a2"), queue=queue)
        probe_tasks.retry_once.apply_async((run, "a3"), queue=queue)
    with schema_context(second.schema_name):
        probe_tasks.record.apply_async((run, "b1"), queue=queue)
    assert len(probe_records(redis_server, run, 4)) == 4

    shared = MetricsStore(redis_server.url)  # the worker's REDIS_URL
    a, b = first.schema_name, second.schema_name

    def counted() -> dict[str, str]:
        return shared.read()[TASKS]

    wait_until(lambda: counted().get(f"{a}|probe.retry_once|succeeded") == "1", timeout=10)
    tasks = counted()
    assert tasks[f"{a}|probe.record|succeeded"] == "2"
    assert tasks[f"{a}|probe.retry_once|retried"] == "1"
    assert tasks[f"{b}|probe.record|succeeded"] == "1"
    assert f"{b}|probe.retry_once|retried" not in tasks
    durations = shared.read()[TASK_DURATION]
    assert float(durations[f"{a}|probe.record|sum"]) > 0
    assert (
        sum(
            int(value)
            for field, value in durations.items()
            if field.startswith(f"{a}|probe.record|") and not field.endswith("|sum")
        )
        == 2
    )

    lines: list[dict[str, Any]] = []
    for raw in worker.log_since_start().splitlines():
        if raw.startswith("{"):
            lines.append(json.loads(raw))
    succeeded = [
        line
        for line in lines
        if line["logger"] == "celery.app.trace" and sent.id in line["message"]
    ]
    assert succeeded, worker.log_since_start()[-3000:]
    assert succeeded[0]["request_id"] == sent.id
    assert succeeded[0]["tenant"] == a
    assert succeeded[0]["task"] == "probe.record"
