"""Writes on notifications: telling a person about an event, marking what they have read, and
their notification settings.

`notify()` is the one way in. It runs inside the caller's transaction, so a notification (and
the email job that goes with it) exists exactly when the change it reports was saved; a
rolled-back write tells nobody. Emails are not sent here: an `email` job is scheduled
(`tenants.jobs`) and the job machinery delivers it through `apps.notifications.email`, retrying
on failure, so a slow or broken mail server never slows or breaks the write.
"""

from __future__ import annotations

import contextvars
import enum
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from apps.accounts.models import User
from apps.activities.reminders import MAX_MINUTES as MAX_REMINDER_MINUTES
from apps.activities.reminders import MAX_REMINDERS
from apps.audit.services import audit_record
from apps.records.services import actor_label, actor_user

from . import mentions
from .models import Notification, NotificationKind, NotificationSettings
from .selectors import settings_for

logger = logging.getLogger(__name__)

EMAIL_JOB = "email"
# Reminder presets run from "at the time" to one week before.
SETTING_FIELDS = ("email_reminders", "email_assignments", "email_mentions", "default_reminders")
# Notifications that report what someone else did: nobody is told about their own doing.
ABOUT_OTHERS = frozenset({NotificationKind.ASSIGNMENT, NotificationKind.MENTION})
TENANT_URLCONF = "config.urls_tenant"


class NotificationErrorCode(enum.StrEnum):
    REMINDERS_NOT_A_LIST = "reminders_not_a_list"
    REMINDER_INVALID = "reminder_invalid"
    REMINDER_OUT_OF_RANGE = "reminder_out_of_range"
    REMINDER_REPEATED = "reminder_repeated"
    TOO_MANY_REMINDERS = "too_many_reminders"
    SETTING_INVALID = "setting_invalid"
    SETTING_UNKNOWN = "setting_unknown"


_quiet: contextvars.ContextVar[bool] = contextvars.ContextVar("notifications_quiet", default=False)


@contextmanager
def quiet() -> Iterator[None]:
    """Within this block notifications are recorded but no email is scheduled: for seeding demo
    data or back-filling, where a burst of mail about made-up history helps nobody."""
    token = _quiet.set(True)
    try:
        yield
    finally:
        _quiet.reset(token)


def _person(actor: Any) -> User | None:
    user = actor_user(actor)
    return user if user is not None and user.pk is not None else None


def _display(actor: Any) -> str:
    """How the actor is named to others: a person's name, else the key's label."""
    if actor is None:
        return ""
    user = _person(actor)
    if isinstance(actor, User) and user is not None:
        return user.get_full_name()
    return actor_label(actor) or (user.get_full_name() if user is not None else "")


@transaction.atomic
def notify(
    *,
    recipient: User,
    kind: str,
    title: str,
    body: str = "",
    url: str = "",
    actor: Any = None,
    dedupe_key: str | None = None,
) -> Notification | None:
    """Tell `recipient` about an event. Returns None, recording nothing, when the recipient is
    inactive, when an assignment or mention is the recipient's own doing, or when a
    notification with `dedupe_key` exists already (also when another transaction records it at
    the same moment: the unique key decides, inside a savepoint). If the recipient wants email
    for this kind, an email job is scheduled in the same transaction."""
    if kind not in NotificationKind.values:
        raise ValueError(f"Unknown notification kind {kind!r}.")
    if recipient is None or not recipient.is_active:
        return None
    by = _person(actor)
    if kind in ABOUT_OTHERS and by is not None and by.pk == recipient.pk:
        return None
    if dedupe_key is not None and Notification.objects.filter(dedupe_key=dedupe_key).exists():
        return None
    notification = Notification(
        recipient=recipient,
        kind=kind,
        title=" ".join(title.split())[:200],
        body=body.strip(),
        url=url[:500],
        actor=by,
        dedupe_key=dedupe_key,
    )
    try:
        with transaction.atomic():
            notification.save()
    except IntegrityError:
        if dedupe_key is None:
            raise
        return None  # recorded meanwhile by a concurrent transaction
    if not _quiet.get() and settings_for(recipient).wants_email(kind):
        from tenants import jobs

        jobs.schedule(kind=EMAIL_JOB, object_id=notification.pk, due_at=timezone.now())
    return notification


def _recipient_of(actor: Any) -> User:
    user = _person(actor)
    if user is None:
        raise PermissionDenied("Notifications belong to a person; this key belongs to nobody.")
    return user


@transaction.atomic
def notification_mark_read(*, actor: Any, notification: Notification) -> Notification:
    """Mark one of the actor's own notifications read (reading it again changes nothing)."""
    if notification.recipient_id != _recipient_of(actor).pk:
        raise PermissionDenied("This notification is someone else's.")
    if notification.read_at is None:
        notification.read_at = timezone.now()
        notification.save(update_fields=["read_at"])
    return notification


@transaction.atomic
def notification_mark_all_read(*, actor: Any) -> int:
    """Mark every unread notification of the actor read; returns how many there were."""
    user = _recipient_of(actor)
    return Notification.objects.filter(recipient=user, read_at__isnull=True).update(
        read_at=timezone.now()
    )


def _coded(field: str, message: str, code: NotificationErrorCode) -> ValidationError:
    return ValidationError({field: ValidationError(message, code=code)})


def clean_reminders(value: Any) -> list[int]:
    """`value` as a sorted list of distinct whole minutes before, 0..40,320, at most five;
    ValidationError on `default_reminders` naming the problem otherwise."""
    field = "default_reminders"
    if not isinstance(value, list | tuple):
        raise _coded(
            field,
            "Give the reminders as a list of minutes before, e.g. [15, 60].",
            NotificationErrorCode.REMINDERS_NOT_A_LIST,
        )
    minutes: list[int] = []
    for item in value:
        number: int | None = None
        if isinstance(item, int) and not isinstance(item, bool):
            number = item
        elif isinstance(item, str) and item.strip().isdigit():
            number = int(item.strip())
        if number is None:
            raise _coded(
                field,
                f"{item!r} is not a number of minutes; give whole minutes, e.g. 15.",
                NotificationErrorCode.REMINDER_INVALID,
            )
        if not 0 <= number <= MAX_REMINDER_MINUTES:
            raise _coded(
                field,
                f"{number} is out of range: a reminder is 0 to {MAX_REMINDER_MINUTES:,} "
                "minutes (four weeks) before.",
                NotificationErrorCode.REMINDER_OUT_OF_RANGE,
            )
        if number in minutes:
            raise _coded(
                field,
                f"{number} minutes is listed twice; give each reminder once.",
                NotificationErrorCode.REMINDER_REPEATED,
            )
        minutes.append(number)
    if len(minutes) > MAX_REMINDERS:
        raise _coded(
            field,
            f"Choose at most {MAX_REMINDERS} reminders ({len(minutes)} were given).",
            NotificationErrorCode.TOO_MANY_REMINDERS,
        )
    return sorted(minutes)


@transaction.atomic
def notification_settings_update(*, actor: Any, **fields: Any) -> NotificationSettings:
    """Change the actor's own settings: `email_reminders`, `email_assignments`,
    `email_mentions` (booleans) and `default_reminders` (see `clean_reminders`). Fields not
    given keep their values; nothing is saved if any is invalid."""
    user = _recipient_of(actor)
    unknown = sorted(set(fields) - set(SETTING_FIELDS))
    if unknown:
        raise _coded(unknown[0], "There is no such setting.", NotificationErrorCode.SETTING_UNKNOWN)
    values: dict[str, Any] = {}
    for name, value in fields.items():
        if name == "default_reminders":
            values[name] = clean_reminders(value)
        elif isinstance(value, bool):
            values[name] = value
        else:
            raise _coded(name, "Give true or false.", NotificationErrorCode.SETTING_INVALID)
    row, _ = NotificationSettings.objects.select_for_update().get_or_create(user=user)
    for name, value in values.items():
        setattr(row, name, value)
    row.full_clean(exclude=["user"])
    row.save()
    if values:
        audit_record(
            action="notification_settings.changed",
            actor=user,
            actor_label=actor_label(actor),
            target=row,
            detail={"fields": sorted(values)},
        )
    return row


# Assignments ------------------------------------------------------------------------------

RECORD_NOUNS = {
    "contact": "a contact",
    "company": "a company",
    "deal": "a deal",
    "lead": "a lead",
}
ACTIVITY_NOUNS = {
    "task": "a task",
    "note": "a note",
    "meeting": "a meeting",
    "call": "a call",
    "email": "an email",
}


def _noun(record: Any) -> str:
    name = record._meta.model_name
    if name == "activity":
        return ACTIVITY_NOUNS.get(getattr(record, "type", ""), "an activity")
    return RECORD_NOUNS.get(name, f"a {record._meta.verbose_name}")


def record_path(record: Any) -> str:
    """The record's detail page on the organisation's host ("" if it has none)."""
    try:
        return reverse(f"{record._meta.app_label}:detail", args=[record.pk], urlconf=TENANT_URLCONF)
    except NoReverseMatch:
        return ""


def assignment_notify(
    *, record: Any, actor: Any, previous_owner_id: int | None = None
) -> Notification | None:
    """Tell a record's owner it was assigned to them: call after creating a record (leave
    `previous_owner_id` out) or after saving a change (pass the owner it had before; nothing
    happens if the owner stayed). Nobody is told about assigning to themselves. Runs in the
    caller's transaction."""
    owner_id = getattr(record, "owner_id", None)
    if owner_id is None or owner_id == previous_owner_id:
        return None
    who = _display(actor)
    form = getattr(record, "web_form", None) if actor is None else None
    if who:
        body = f"Assigned to you by {who}."
    elif form is not None:
        body = f"Assigned to you in turn from the web form “{form.name}”."
    else:
        body = "Assigned to you automatically."
    return notify(
        recipient=record.owner,
        kind=NotificationKind.ASSIGNMENT,
        title=f"You were assigned {_noun(record)}: {record}",
        body=body,
        url=record_path(record),
        actor=actor,
    )


# Mentions ---------------------------------------------------------------------------------


def _snippet(text: str, limit: int = 280) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def mentions_notify(*, activity: Any, actor: Any) -> list[Notification]:
    """Tell each active person `@`-mentioned in the activity's body (by `@Full Name` or by the
    part of their email before the @) who may see the activity. Once per activity and person:
    editing the body again tells only those newly mentioned. Runs in the caller's
    transaction."""
    who = _display(actor) or "Someone"
    return _mentions(
        record=activity,
        text=activity.body or "",
        actor=actor,
        title=f"{who} mentioned you in {_noun(activity)}: {activity.subject}",
        key=f"activity:{activity.pk}",
    )


def note_mentions_notify(*, record: Any, note_id: int, body: str, actor: Any) -> list[Notification]:
    """The same for a note added to a record's timeline: each mentioned person who may see
    the record is told once, with a link to the record."""
    who = _display(actor) or "Someone"
    return _mentions(
        record=record,
        text=body,
        actor=actor,
        title=f"{who} mentioned you in a note on {_noun(record)}: {record}",
        key=f"note:{note_id}",
    )


def _mentions(*, record: Any, text: str, actor: Any, title: str, key: str) -> list[Notification]:
    from apps.core import visibility

    found = mentions.mentioned_users(text)
    if not found:
        return []
    model = type(record)
    made: list[Notification] = []
    for user in found:
        if not visibility.visible(model.objects.filter(pk=record.pk), user).exists():
            continue
        notification = notify(
            recipient=user,
            kind=NotificationKind.MENTION,
            title=title,
            body=_snippet(text),
            url=record_path(record),
            actor=actor,
            dedupe_key=f"mention:{key}:user:{user.pk}",
        )
        if notification is not None:
            made.append(notification)
    return made
