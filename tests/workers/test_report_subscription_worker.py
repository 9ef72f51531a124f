"""A report subscription through the real machinery: beat's dispatcher finds its due job,
sends the delivery task to the organisation's reports queue, a real worker builds the report
and its PDF as the subscriber, sends it, records the run and schedules the next one."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from django.utils import timezone
from django_tenants.utils import schema_context

from apps.accounts.models import User
from apps.deals.services import deal_create, pipeline_default
from apps.reports import subscriptions as subs
from apps.reports.models import RunStatus, Subscription
from tenants.models import ScheduledJob
from tests.workers.conftest import CeleryBeat, CeleryWorker, Organisations, wait_until

pytestmark = pytest.mark.worker


def test_beat_and_a_worker_send_a_due_subscription(
    celery_worker: CeleryWorker,
    organisations: Organisations,
    start_beat: Callable[..., CeleryBeat],
) -> None:
    org = organisations.make("reports")
    with schema_context(org.schema_name):
        owner = User.objects.get(email=f"owner@{org.slug}.test")
        pipeline_default()
        deal_create(actor=owner, title="Worker deal", value="321", owner=owner)
        sub = subs.subscribe(actor=owner, report="pipeline-by-stage", cadence="daily")
        ScheduledJob.objects.filter(kind=subs.KIND, object_id=sub.pk).update(
            due_at=timezone.now() - timedelta(seconds=1)
        )

    start_beat("tenants-dispatch-due-jobs")

    def sent() -> bool:
        with schema_context(org.schema_name):
            return Subscription.objects.filter(pk=sub.pk, last_status=RunStatus.SENT).exists()

    wait_until(sent, timeout=60)
    with schema_context(org.schema_name):
        sub.refresh_from_db()
    assert sub.last_error == "" and sub.next_run_at is not None
    assert sub.next_run_at > timezone.now()
    job = ScheduledJob.objects.get(schema_name=org.schema_name, kind=subs.KIND, object_id=sub.pk)
    assert job.due_at == sub.next_run_at and job.attempts == 0
