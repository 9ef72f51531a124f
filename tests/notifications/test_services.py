"""notify(), read state and settings: what a person is told, once, and what they choose."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from apps.accounts.models import User
from apps.apikeys.api.authentication import ApiKeyPrincipal
from apps.apikeys.services import api_key_create
from apps.notifications import services
from apps.notifications.models import Notification, NotificationSettings
from apps.notifications.selectors import notification_list, settings_for, unread_count
from tenants.db import connection
from tenants.models import ScheduledJob, Tenant

pytestmark = pytest.mark.django_db


def _email_jobs(notification: Notification | None) -> list[ScheduledJob]:
    assert notification is not None
    return list(
        ScheduledJob.objects.filter(
            schema_name=connection.schema_name, kind="email", object_id=notification.pk
        )
    )


def test_notify_records_and_schedules_the_email_now(owner: User, rep: User) -> None:
    made = services.notify(
        recipient=rep,
        kind="assignment",
        title="You were assigned a deal: Globex",
        body="Assigned to you by Olive.",
        url="/deals/1/",
        actor=owner,
    )
    assert made is not None and made.pk
    assert (made.recipient, made.actor, made.read_at, made.emailed_at) == (rep, owner, None, None)
    jobs = _email_jobs(made)
    assert len(jobs) == 1 and jobs[0].attempts == 0
    assert unread_count(user=rep) == 1 and unread_count(user=owner) == 0


def test_no_email_job_for_a_kind_the_recipient_turned_off(rep: User) -> None:
    services.notification_settings_update(actor=rep, email_mentions=False)
    mention = services.notify(recipient=rep, kind="mention", title="You were mentioned")
    reminder = services.notify(recipient=rep, kind="reminder", title="Call Ann")
    assert _email_jobs(mention) == []
    assert len(_email_jobs(reminder)) == 1


def test_quiet_records_but_schedules_no_email(rep: User) -> None:
    with services.quiet():
        made = services.notify(recipient=rep, kind="reminder", title="Demo reminder")
    assert made is not None and _email_jobs(made) == []


def test_a_rolled_back_write_leaves_neither_notification_nor_job(rep: User) -> None:
    made: list[int] = []
    with pytest.raises(RuntimeError), transaction.atomic():
        notification = services.notify(recipient=rep, kind="reminder", title="Never happened")
        assert notification is not None and _email_jobs(notification)
        made.append(notification.pk)
        raise RuntimeError("the caller's write failed")
    assert not Notification.objects.filter(title="Never happened").exists()
    assert not ScheduledJob.objects.filter(kind="email", object_id__in=made).exists()


def test_same_dedupe_key_notifies_once(rep: User) -> None:
    first = services.notify(recipient=rep, kind="reminder", title="Call", dedupe_key="r:1:u")
    second = services.notify(recipient=rep, kind="reminder", title="Call", dedupe_key="r:1:u")
    assert first is not None and second is None
    assert Notification.objects.filter(dedupe_key="r:1:u").count() == 1


def test_nobody_is_told_of_their_own_assignment_or_mention(rep: User, owner: User) -> None:
    assert services.notify(recipient=rep, kind="assignment", title="x", actor=rep) is None
    assert services.notify(recipient=rep, kind="mention", title="x", actor=rep) is None
    # ...also not when acting through a key of their own
    key = api_key_create(name="rep's key", role="rep", created_by=rep).key
    assert (
        services.notify(recipient=rep, kind="assignment", title="x", actor=ApiKeyPrincipal(key))
        is None
    )
    # A reminder of one's own activity is still a reminder.
    assert services.notify(recipient=rep, kind="reminder", title="x", actor=rep) is not None
    assert services.notify(recipient=rep, kind="assignment", title="y", actor=owner) is not None


def test_inactive_people_are_not_notified(rep: User) -> None:
    rep.is_active = False
    rep.save(update_fields=["is_active"])
    assert services.notify(recipient=rep, kind="reminder", title="Call") is None
    assert not Notification.objects.filter(recipient=rep).exists()


def test_unknown_kind_is_a_programming_error(rep: User) -> None:
    with pytest.raises(ValueError, match="Unknown notification kind"):
        services.notify(recipient=rep, kind="gossip", title="x")


def test_mark_read_and_mark_all_read_touch_only_the_actors_own(rep: User, other_rep: User) -> None:
    mine = [services.notify(recipient=rep, kind="reminder", title=f"R{i}") for i in range(3)]
    theirs = services.notify(recipient=other_rep, kind="reminder", title="Theirs")
    assert mine[0] is not None and theirs is not None
    services.notification_mark_read(actor=rep, notification=mine[0])
    first_read = Notification.objects.get(pk=mine[0].pk).read_at
    assert first_read is not None
    services.notification_mark_read(actor=rep, notification=mine[0])  # again: unchanged
    assert Notification.objects.get(pk=mine[0].pk).read_at == first_read
    with pytest.raises(PermissionDenied):
        services.notification_mark_read(actor=rep, notification=theirs)
    assert services.notification_mark_all_read(actor=rep) == 2
    assert unread_count(user=rep) == 0
    assert unread_count(user=other_rep) == 1
    assert services.notification_mark_all_read(actor=rep) == 0


def test_a_key_without_a_person_has_no_notifications(in_a: Tenant) -> None:
    key = api_key_create(name="cli key", role="admin").key
    principal = ApiKeyPrincipal(key)
    assert list(notification_list(user=principal)) == []
    with pytest.raises(PermissionDenied, match="belongs to nobody"):
        services.notification_mark_all_read(actor=principal)


def test_settings_default_until_saved(rep: User) -> None:
    row = settings_for(rep)
    assert row.pk is None
    assert (row.email_reminders, row.email_assignments, row.email_mentions) == (True, True, True)
    assert row.default_reminders == [15]
    saved = services.notification_settings_update(
        actor=rep, email_assignments=False, default_reminders=[60, 0, 10]
    )
    assert saved.pk and settings_for(rep).pk == saved.pk
    assert settings_for(rep).default_reminders == [0, 10, 60]
    assert settings_for(rep).email_assignments is False
    assert settings_for(rep).email_reminders is True  # untouched


@pytest.mark.parametrize(
    ("value", "code", "words"),
    [
        (15, "reminders_not_a_list", "list of minutes"),
        (["soon"], "reminder_invalid", "'soon' is not a number of minutes"),
        ([1.5], "reminder_invalid", "not a number of minutes"),
        ([True], "reminder_invalid", "not a number of minutes"),
        ([-5], "reminder_out_of_range", "-5 is out of range"),
        ([40_321], "reminder_out_of_range", "40,320"),
        ([15, 15], "reminder_repeated", "15 minutes is listed twice"),
        ([0, 5, 10, 15, 30, 60], "too_many_reminders", "at most 5"),
    ],
)
def test_default_reminders_are_checked(rep: User, value: Any, code: str, words: str) -> None:
    services.notification_settings_update(actor=rep, default_reminders=[30])
    with pytest.raises(ValidationError) as caught:
        services.notification_settings_update(
            actor=rep, email_mentions=False, default_reminders=value
        )
    error = caught.value.error_dict["default_reminders"][0]
    assert error.code == code
    assert words in error.messages[0]
    # nothing of the refused change was saved
    row = NotificationSettings.objects.get(user=rep)
    assert (row.default_reminders, row.email_mentions) == ([30], True)


def test_bounds_and_empty_list_are_allowed(rep: User) -> None:
    row = services.notification_settings_update(actor=rep, default_reminders=[40_320, 0])
    assert row.default_reminders == [0, 40_320]
    row = services.notification_settings_update(actor=rep, default_reminders=[])
    assert row.default_reminders == []


def test_unknown_or_non_boolean_settings_are_refused(rep: User) -> None:
    with pytest.raises(ValidationError) as caught:
        services.notification_settings_update(actor=rep, email_everything=True)
    assert "email_everything" in caught.value.error_dict
    with pytest.raises(ValidationError) as caught:
        services.notification_settings_update(actor=rep, email_mentions="yes please")
    assert caught.value.error_dict["email_mentions"][0].messages == ["Give true or false."]
