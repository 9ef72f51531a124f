"""Real beat and a real worker deliver an organisation's due scheduled work: the dispatcher
(public schema, every second) sends the delivery task to that organisation's own queue, the
worker runs it in that organisation's schema, and the job is gone once done."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import timedelta

import pytest
from django.utils import timezone
from django_tenants.utils import schema_context

from tenants import jobs
from tenants.models import ScheduledJob
from tenants.queues import queue_name
from tests.workers.conftest import (
    CeleryBeat,
    CeleryWorker,
    Organisations,
    RedisServer,
    probe_records,
    wait_until,
)
from tests.workers.probe_tasks import PROBE_JOBS_RUN

pytestmark = pytest.mark.worker


def test_beat_dispatches_due_work_to_the_organisations_queue_and_it_runs_once_there(
    celery_worker: CeleryWorker,
    redis_server: RedisServer,
    organisations: Organisations,
    start_beat: Callable[..., CeleryBeat],
) -> None:
    first, second = organisations.make("due"), organisations.make("later")
    due_id, later_id = random.randrange(10**9), random.randrange(10**9)
    with schema_context(first.schema_name):
        jobs.schedule(kind="probe", object_id=due_id, due_at=timezone.now())
    with schema_context(second.schema_name):
        jobs.schedule(kind="probe", object_id=later_id, due_at=timezone.now() + timedelta(hours=1))

    start_beat("tenants-dispatch-due-jobs")
    wait_until(
        lambda: (
            not ScheduledJob.objects.filter(
                schema_name=first.schema_name, object_id=due_id
            ).exists()
        ),
        timeout=15,
    )

    records = [
        r for r in probe_records(redis_server, PROBE_JOBS_RUN, 1) if r["label"] == str(due_id)
    ]
    assert [(r["schema"], r["queue"]) for r in records] == [
        (first.schema_name, queue_name(first.schema_name, "reminders"))
    ]
    # Not yet due: still waiting, never delivered.
    assert ScheduledJob.objects.filter(schema_name=second.schema_name, object_id=later_id).exists()
    assert str(later_id) not in {
        r["label"] for r in probe_records(redis_server, PROBE_JOBS_RUN, 0, timeout=0)
    }
