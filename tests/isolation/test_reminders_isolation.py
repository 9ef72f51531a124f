"""Reminders stay in their organisation: organisation B's delivery task never takes A's due
work, a reminder is delivered in A's schema to A's person only, and A's scheduled jobs carry
ids and times but nothing B could read A's data by."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.cache import caches
from django.utils import timezone
from django_tenants.utils import schema_context

from apps.accounts.models import User
from apps.activities import services
from apps.activities.models import Reminder, ReminderStatus
from apps.activities.tasks import deliver_due_reminders
from apps.notifications.models import Notification
from tenants import jobs
from tenants.models import ScheduledJob, Tenant
from tenants.tasks import dispatch_due_jobs, dispatch_marker

pytestmark = pytest.mark.django_db


def _due_meeting(tenant: Tenant, subject: str) -> Reminder:
    with schema_context(tenant.schema_name):
        owner = User.objects.get(email=f"owner@{tenant.slug}.test")
        start = timezone.now() + timedelta(hours=1)
        meeting = services.activity_create(
            actor=owner, type="meeting", subject=subject, start_at=start, reminders=[0]
        )
        reminder = meeting.reminders.get()
        past = timezone.now() - timedelta(seconds=1)
        Reminder.objects.filter(pk=reminder.pk).update(remind_at=past)
        jobs.schedule(kind="reminder", object_id=reminder.pk, due_at=past)
        for kind in ("reminder", "email"):
            caches["platform"].delete(dispatch_marker(tenant.schema_name, kind))
        return reminder


def test_b_delivering_its_reminders_leaves_as_due_work_alone(
    tenant_a: Tenant, tenant_b: Tenant
) -> None:
    secret = _due_meeting(tenant_a, "Alpha board meeting")
    with schema_context(tenant_b.schema_name):
        assert deliver_due_reminders.apply().get() == 0
        assert not Notification.objects.filter(title__contains="Alpha").exists()
    with schema_context(tenant_a.schema_name):
        assert Reminder.objects.get(pk=secret.pk).status == ReminderStatus.PENDING
    job = ScheduledJob.objects.get(schema_name=tenant_a.schema_name, object_id=secret.pk)
    # The shared schedule names the schema and ids only: no subject, person or text.
    assert "Alpha" not in str(
        {f.name: getattr(job, f.name) for f in ScheduledJob._meta.concrete_fields}
    )


def test_the_dispatcher_delivers_each_organisations_reminder_in_its_own_schema(
    tenant_a: Tenant, tenant_b: Tenant
) -> None:
    in_a = _due_meeting(tenant_a, "Alpha pricing call")
    in_b = _due_meeting(tenant_b, "Beta hiring call")
    with schema_context("public"):
        assert dispatch_due_jobs() >= 2
    for tenant, reminder, mine, theirs in (
        (tenant_a, in_a, "Alpha pricing call", "Beta"),
        (tenant_b, in_b, "Beta hiring call", "Alpha"),
    ):
        with schema_context(tenant.schema_name):
            assert Reminder.objects.get(pk=reminder.pk).status == ReminderStatus.SENT
            titles = list(
                Notification.objects.filter(kind="reminder").values_list("title", flat=True)
            )
            assert titles == [f"Meeting now: {mine}"]
            assert not any(theirs in t for t in titles)
            assert Notification.objects.get(kind="reminder").recipient.email == (
                f"owner@{tenant.slug}.test"
            )
