"""The dispatcher (tenants.tasks.dispatch_due_jobs) keeps going when one organisation's
delivery task cannot be sent: the others still get their due work, the failure is logged with
the organisation's schema, and its dispatch marker is cleared so the next run tries again
instead of waiting out the marker's 10 s."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from django.conf import settings
from django.core.cache import caches
from django.test import override_settings
from django.utils import timezone
from django_tenants.utils import schema_context

from apps.accounts.models import User
from apps.activities import services
from apps.activities.models import Reminder, ReminderStatus
from apps.notifications.models import Notification
from tenants import jobs
from tenants.models import Tenant
from tenants.tasks import dispatch_due_jobs, dispatch_marker

pytestmark = pytest.mark.django_db

BROKEN_KIND = "broken"
BROKEN_TASK = "apps.nowhere.tasks.deliver_due_broken"  # does not import


def _due_reminder(tenant: Tenant, subject: str) -> Reminder:
    with schema_context(tenant.schema_name):
        owner = User.objects.get(email=f"owner@{tenant.slug}.test")
        meeting = services.activity_create(
            actor=owner,
            type="meeting",
            subject=subject,
            start_at=timezone.now() + timedelta(hours=1),
            reminders=[0],
        )
        reminder = meeting.reminders.get()
        past = timezone.now() - timedelta(seconds=1)
        Reminder.objects.filter(pk=reminder.pk).update(remind_at=past)
        jobs.schedule(kind="reminder", object_id=reminder.pk, due_at=past)
        return reminder


@pytest.fixture
def no_markers(tenant_a: Tenant, tenant_b: Tenant) -> None:
    """Markers live in Redis for 10 s; one left by an earlier run must not hold a dispatch."""
    for tenant in (tenant_a, tenant_b):
        for kind in ("reminder", "email", BROKEN_KIND):
            caches["platform"].delete(dispatch_marker(tenant.schema_name, kind))


@override_settings(KESTREL_JOB_TASKS={**settings.KESTREL_JOB_TASKS, BROKEN_KIND: BROKEN_TASK})
def test_one_organisations_unsendable_task_holds_up_nobody(
    tenant_a: Tenant, tenant_b: Tenant, no_markers: None, caplog: pytest.LogCaptureFixture
) -> None:
    # Alpha has due work of a kind whose task cannot be sent, and a due reminder; so has Beta.
    with schema_context(tenant_a.schema_name):
        jobs.schedule(kind=BROKEN_KIND, object_id=1, due_at=timezone.now() - timedelta(seconds=1))
    with schema_context(tenant_b.schema_name):
        jobs.schedule(kind=BROKEN_KIND, object_id=2, due_at=timezone.now() - timedelta(seconds=1))
    in_a = _due_reminder(tenant_a, "Alpha renewal call")
    in_b = _due_reminder(tenant_b, "Beta kickoff")

    with caplog.at_level(logging.ERROR, logger="tenants.tasks"), schema_context("public"):
        assert dispatch_due_jobs() >= 2  # both reminders' tasks, whatever the order

    for tenant, reminder, subject in (
        (tenant_a, in_a, "Alpha renewal call"),
        (tenant_b, in_b, "Beta kickoff"),
    ):
        with schema_context(tenant.schema_name):
            assert Reminder.objects.get(pk=reminder.pk).status == ReminderStatus.SENT
            assert list(
                Notification.objects.filter(kind="reminder").values_list("title", flat=True)
            ) == [f"Meeting now: {subject}"]
    failures = [r.getMessage() for r in caplog.records if BROKEN_TASK in r.getMessage()]
    assert sorted(failures) == sorted(
        f"could not send {BROKEN_TASK} to organisation {t.schema_name}"
        for t in (tenant_a, tenant_b)
    )
    # The failed organisations' markers are gone: the next run (a second later) tries again.
    for tenant in (tenant_a, tenant_b):
        assert caches["platform"].get(dispatch_marker(tenant.schema_name, BROKEN_KIND)) is None
    caplog.clear()
    with caplog.at_level(logging.ERROR, logger="tenants.tasks"), schema_context("public"):
        dispatch_due_jobs()
    assert sum(BROKEN_TASK in r.getMessage() for r in caplog.records) == 2
    # The broken work itself is still waiting for a task that can deliver it.
    assert jobs.due_work(now=timezone.now()).count((tenant_a.schema_name, BROKEN_KIND)) == 1
