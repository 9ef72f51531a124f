"""Reminders of activities: scheduled in PostgreSQL with the activity, kept in step when it
moves, is reassigned, done or deleted, and delivered exactly once by the dispatcher's task
(run here through its real code path, eagerly)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.core import mail
from django.utils import timezone
from django_tenants.utils import schema_context

from apps.accounts.models import User
from apps.activities import services
from apps.activities.models import Reminder, ReminderStatus
from apps.activities.tasks import deliver_due_reminders
from apps.notifications.models import Notification, NotificationSettings
from tenants import jobs
from tenants.db import connection
from tenants.models import ScheduledJob, Tenant
from tenants.tasks import dispatch_due_jobs

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_dispatch_markers(tenant_a: Tenant) -> None:
    """Markers live in Redis for 10 s; one left by an earlier run must not hold a dispatch."""
    from django.core.cache import caches

    from tenants.tasks import dispatch_marker

    for kind in ("reminder", "email"):
        caches["platform"].delete(dispatch_marker(tenant_a.schema_name, kind))


def _jobs(kind: str = "reminder") -> dict[int, Any]:
    return dict(
        ScheduledJob.objects.filter(schema_name=connection.schema_name, kind=kind).values_list(
            "object_id", "due_at"
        )
    )


def _meeting(actor: User, *, minutes_ahead: int = 60, **kw: Any) -> Any:
    start = timezone.now().replace(microsecond=0) + timedelta(minutes=minutes_ahead)
    return services.activity_create(
        actor=actor,
        type="meeting",
        subject=kw.pop("subject", "Demo with Acme"),
        start_at=start,
        end_at=start + timedelta(minutes=30),
        **kw,
    )


def _fall_due(activity: Any) -> None:
    """Move every pending reminder (and its job) of `activity` a second into the past."""
    past = timezone.now() - timedelta(seconds=1)
    for reminder in activity.reminders.filter(status=ReminderStatus.PENDING):
        Reminder.objects.filter(pk=reminder.pk).update(remind_at=past)
        jobs.schedule(kind="reminder", object_id=reminder.pk, due_at=past)


def test_reminders_are_scheduled_with_the_activity(in_a: Tenant, owner: User) -> None:
    meeting = _meeting(owner, reminders=[15, 0])
    reminders = list(meeting.reminders.all())
    assert [r.minutes_before for r in reminders] == [0, 15]
    assert {r.status for r in reminders} == {ReminderStatus.PENDING}
    assert _jobs() == {
        reminders[0].pk: meeting.start_at,
        reminders[1].pk: meeting.start_at - timedelta(minutes=15),
    }


def test_default_reminders_apply_to_meetings_but_not_notes(in_a: Tenant, owner: User) -> None:
    NotificationSettings.objects.update_or_create(user=owner, defaults={"default_reminders": [30]})
    meeting = _meeting(owner)
    assert [r.minutes_before for r in meeting.reminders.all()] == [30]
    note = services.activity_create(actor=owner, type="note", subject="Called back")
    assert not note.reminders.exists()
    none = _meeting(owner, reminders=[])
    assert not none.reminders.exists()


def test_reminders_need_a_time(in_a: Tenant, owner: User) -> None:
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as caught:
        services.activity_create(actor=owner, type="task", subject="Someday", reminders=[10])
    assert "due or start time" in str(caught.value.message_dict["reminders"])
    with pytest.raises(ValidationError):
        _meeting(owner, reminders=[1, 2, 3, 4, 5, 6])
    with pytest.raises(ValidationError):
        _meeting(owner, reminders=[99_999])


def test_rescheduling_reassigning_and_completing_keep_reminders_in_step(
    in_a: Tenant, owner: User, rep: User
) -> None:
    meeting = _meeting(owner, reminders=[10])
    reminder = meeting.reminders.get()
    later = meeting.start_at + timedelta(hours=2)
    services.activity_reschedule(actor=owner, activity=meeting, start_at=later)
    reminder.refresh_from_db()
    assert reminder.remind_at == later - timedelta(minutes=10)
    assert _jobs() == {reminder.pk: later - timedelta(minutes=10)}

    services.activity_update(actor=owner, activity=meeting, owner=rep)
    reminder.refresh_from_db()
    assert reminder.recipient == rep

    services.activity_complete(actor=owner, activity=meeting)
    reminder.refresh_from_db()
    assert reminder.status == ReminderStatus.CANCELLED
    assert _jobs() == {}

    services.activity_complete(actor=owner, activity=meeting, done=False)
    reminder.refresh_from_db()
    assert reminder.status == ReminderStatus.PENDING
    assert list(_jobs()) == [reminder.pk]

    services.activity_update(actor=owner, activity=meeting, reminders=[60, 10])
    assert sorted(_jobs().values()) == [
        later - timedelta(minutes=60),
        later - timedelta(minutes=10),
    ]

    services.activity_delete(actor=owner, activity=meeting)
    assert _jobs() == {}


def test_a_reminder_whose_moment_has_passed_is_skipped(in_a: Tenant, owner: User) -> None:
    meeting = _meeting(owner, minutes_ahead=5, reminders=[60, 0])
    statuses = dict(meeting.reminders.values_list("minutes_before", "status"))
    assert statuses == {0: ReminderStatus.PENDING, 60: ReminderStatus.SKIPPED}
    assert len(_jobs()) == 1


def test_a_due_reminder_is_delivered_once_as_notification_and_email(
    in_a: Tenant, owner: User
) -> None:
    meeting = _meeting(owner, reminders=[15], location="Room 4")
    _fall_due(meeting)
    mail.outbox.clear()
    # The dispatcher (beat, every second) sends the organisation's delivery task; eagerly here.
    with schema_context("public"):
        assert dispatch_due_jobs() >= 1
    note = Notification.objects.get(recipient=owner, kind="reminder")
    assert note.title == "Meeting starts in 15 minutes: Demo with Acme"
    assert "Room 4" in note.body
    assert note.url == f"/activities/{meeting.pk}/"
    reminder = meeting.reminders.get()
    assert reminder.status == ReminderStatus.SENT and reminder.sent_at is not None
    assert _jobs() == {}
    # The email went out through the email job, sent in the same dispatcher pass or the next.
    with schema_context("public"):
        dispatch_due_jobs()
    assert [m.subject for m in mail.outbox] == [note.title]

    # The same task delivered again (a redelivery, a second beat) changes nothing.
    deliver_due_reminders.apply()
    with schema_context("public"):
        dispatch_due_jobs()
    assert Notification.objects.filter(recipient=owner, kind="reminder").count() == 1
    assert len(mail.outbox) == 1


def test_email_follows_the_recipients_preferences(in_a: Tenant, owner: User) -> None:
    NotificationSettings.objects.update_or_create(user=owner, defaults={"email_reminders": False})
    meeting = _meeting(owner, reminders=[5])
    _fall_due(meeting)
    mail.outbox.clear()
    deliver_due_reminders.apply()
    assert Notification.objects.filter(recipient=owner, kind="reminder").count() == 1
    assert _jobs("email") == {}
    assert mail.outbox == []


def test_a_done_activity_is_not_reminded(in_a: Tenant, owner: User) -> None:
    meeting = _meeting(owner, reminders=[5])
    reminder = meeting.reminders.get()
    _fall_due(meeting)
    # Marked done behind the services' back (e.g. by an import): delivery still checks.
    type(meeting).objects.filter(pk=meeting.pk).update(done=True)
    deliver_due_reminders.apply()
    reminder.refresh_from_db()
    assert reminder.status == ReminderStatus.CANCELLED
    assert not Notification.objects.filter(kind="reminder").exists()


def test_records_handed_over_in_bulk_bring_their_reminders_to_the_new_owner(
    in_a: Tenant, owner: User, rep: User, other_rep: User
) -> None:
    """Someone leaves: an Admin gives all their records to a colleague in one action. The
    colleague is told once, and the leaver's pending reminders now reach the colleague."""
    from apps.accounts.services import user_reassign_records
    from apps.contacts.services import contact_create

    contact_create(actor=owner, first_name="Kept", last_name="Client", owner=rep)
    meeting = _meeting(owner, owner=rep, reminders=[10])
    user_reassign_records(from_user=rep, to_user=other_rep, actor=owner)
    told = Notification.objects.get(recipient=other_rep, kind="assignment")
    assert told.title == "You were given 2 records of Rita Rep"
    assert told.body == "1 activity, 1 contact"

    rep.is_active = False
    rep.save(update_fields=["is_active"])
    _fall_due(meeting)
    deliver_due_reminders.apply()
    reminder = meeting.reminders.get()
    assert reminder.status == ReminderStatus.SENT and reminder.recipient == other_rep
    assert Notification.objects.filter(recipient=other_rep, kind="reminder").count() == 1
    assert not Notification.objects.filter(recipient=rep, kind="reminder").exists()
