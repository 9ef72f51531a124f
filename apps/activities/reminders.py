"""Reminders of activities: which moments, to whom, and their delivery.

An activity's reminders are offsets (minutes before its start, or its due moment for tasks and
calls). `reminders_sync` keeps the Reminder rows and their scheduled jobs (tenants.jobs) in step
with the activity inside the caller's transaction: re-timed when the activity moves, handed to
the new assignee when it is reassigned, cancelled when it is done, deleted with it.

`reminder_deliver` runs inside the job's transaction (tenants.jobs.deliver_due): the
notification it creates and the reminder's `sent` status commit together or not at all, so a
reminder is delivered once however many times its task runs.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Iterable
from datetime import datetime, time, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from tenants import jobs

from .models import Activity, ActivityType, Reminder, ReminderStatus

JOB_KIND = "reminder"
MAX_MINUTES = 4 * 7 * 24 * 60  # four weeks before
MAX_REMINDERS = 5
# What the web form offers (the API takes any whole number of minutes up to MAX_MINUTES).
PRESETS: list[tuple[int, str]] = [
    (0, "At the time"),
    (5, "5 minutes before"),
    (10, "10 minutes before"),
    (15, "15 minutes before"),
    (30, "30 minutes before"),
    (60, "1 hour before"),
    (120, "2 hours before"),
    (1440, "1 day before"),
    (2880, "2 days before"),
    (10080, "1 week before"),
]
# Types that are about the future and get the assignee's default reminders.
REMINDED_TYPES = {ActivityType.MEETING, ActivityType.CALL, ActivityType.TASK}
# All-day activities are reminded relative to this hour of their day, in the assignee's zone.
ALL_DAY_HOUR = time(9, 0)
# A reminder whose moment passed less than this long ago when saved is still sent.
GRACE = timedelta(minutes=1)


def describe(minutes: int) -> str:
    """'At the time', '45 minutes before', '1 hour before', '3 days before', '2 weeks before'."""
    if minutes == 0:
        return "At the time"
    for size, unit in ((10080, "week"), (1440, "day"), (60, "hour"), (1, "minute")):
        if minutes % size == 0:
            count = minutes // size
            return f"{count} {unit}{'s' if count != 1 else ''} before"
    return f"{minutes} minutes before"  # pragma: no cover - every whole number divides by 1


def clean_minutes(values: Iterable[Any]) -> list[int]:
    """Validate a list of offsets: whole minutes 0..four weeks, at most five, no repeats."""
    cleaned: list[int] = []
    for value in values:
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise ValidationError({"reminders": "Give each reminder as whole minutes before."})
        try:
            minutes = int(value)
        except ValueError:
            raise ValidationError(
                {"reminders": f"{value!r} is not a whole number of minutes."}
            ) from None
        if not 0 <= minutes <= MAX_MINUTES:
            raise ValidationError(
                {"reminders": f"Reminders can be from 0 to {MAX_MINUTES} minutes before."}
            )
        if minutes not in cleaned:
            cleaned.append(minutes)
    if len(cleaned) > MAX_REMINDERS:
        raise ValidationError({"reminders": f"At most {MAX_REMINDERS} reminders per activity."})
    return sorted(cleaned)


def default_minutes(user: Any) -> list[int]:
    from apps.notifications.selectors import settings_for

    return list(settings_for(user).default_reminders)


def _zone(user: Any) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(getattr(user, "time_zone", "") or "UTC")
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo("UTC")


def anchor(activity: Activity) -> datetime | None:
    """The moment reminders count back from: the start, else the due moment. All-day
    activities (stored at midnight UTC of their day) count from 09:00 of that day in the
    assignee's time zone."""
    moment = activity.start_at or activity.due_at
    if moment is None:
        return None
    if activity.all_day:
        day = moment.astimezone(zoneinfo.ZoneInfo("UTC")).date()
        return datetime.combine(day, ALL_DAY_HOUR, tzinfo=_zone(activity.owner))
    return moment


def reminders_sync(
    *, activity: Activity, minutes: list[int] | None, created: bool = False
) -> list[Reminder]:
    """Make the activity's reminders match `minutes` (None keeps the current offsets) and
    its current time, assignee and done state. Call inside the transaction that saved it;
    `created`: the activity was just created, so it has no reminders to read yet."""
    existing = {} if created else {r.minutes_before: r for r in activity.reminders.all()}
    wanted = sorted(existing) if minutes is None else clean_minutes(minutes)
    moment = anchor(activity)
    if minutes and moment is None:
        raise ValidationError(
            {"reminders": "Give the activity a due or start time to be reminded of it."}
        )
    gone = [r for m, r in existing.items() if m not in wanted]
    if gone:
        jobs.unschedule_many(kind=JOB_KIND, object_ids=[r.pk for r in gone])
        Reminder.objects.filter(pk__in=[r.pk for r in gone]).delete()
    now = timezone.now()
    kept: list[Reminder] = []
    for offset in wanted:
        reminder = existing.get(offset) or Reminder(activity=activity, minutes_before=offset)
        at = moment - timedelta(minutes=offset) if moment is not None else None
        if at is None or activity.done:
            status = ReminderStatus.CANCELLED
        elif (
            reminder.status == ReminderStatus.SENT
            and reminder.remind_at == at
            and reminder.recipient_id == activity.owner_id
        ):
            status = ReminderStatus.SENT  # already delivered for this very moment
        elif at >= now - GRACE:
            status = ReminderStatus.PENDING
        else:
            status = ReminderStatus.SKIPPED
        reminder.remind_at = at or reminder.remind_at or now
        reminder.recipient_id = activity.owner_id
        reminder.status = status
        if status != ReminderStatus.SENT:
            reminder.sent_at = None
        reminder.save()
        if status == ReminderStatus.PENDING:
            jobs.schedule(kind=JOB_KIND, object_id=reminder.pk, due_at=reminder.remind_at)
        else:
            jobs.unschedule(kind=JOB_KIND, object_id=reminder.pk)
        kept.append(reminder)
    return kept


def reminders_forget(*, activity: Activity) -> None:
    """Before an activity is deleted: its reminders' jobs go too."""
    jobs.unschedule_many(
        kind=JOB_KIND, object_ids=list(activity.reminders.values_list("pk", flat=True))
    )


def _title(activity: Activity, reminder: Reminder) -> str:
    kind = activity.get_type_display()
    if reminder.minutes_before == 0:
        when = "now" if activity.type == ActivityType.MEETING else "due now"
        return f"{kind} {when}: {activity.subject}"[:200]
    lead = describe(reminder.minutes_before).removesuffix(" before")
    verb = "starts" if activity.start_at else "is due"
    return f"{kind} {verb} in {lead}: {activity.subject}"[:200]


def _body(activity: Activity, reminder: Reminder) -> str:
    zone = _zone(reminder.recipient)
    moment = activity.start_at or activity.due_at
    parts = []
    if moment is not None:
        local = moment.astimezone(zone)
        if activity.all_day:
            parts.append(f"All day on {local:%A %-d %B}")
        else:
            parts.append(f"{local:%A %-d %B, %H:%M} ({zone.key})")
    if activity.location:
        parts.append(activity.location)
    return " · ".join(parts)


def reminder_deliver(reminder_id: int) -> None:
    """Deliver one due reminder: an in-app notification, and an email per the recipient's
    preferences (scheduled by `notify` in this same transaction)."""
    from apps.notifications.services import notify

    reminder = (
        Reminder.objects.select_for_update(of=("self",))
        .select_related("activity__owner")
        .filter(pk=reminder_id)
        .first()
    )
    if reminder is None or reminder.status != ReminderStatus.PENDING:
        return
    activity = reminder.activity
    if activity.done:
        reminder.status = ReminderStatus.CANCELLED
        reminder.save(update_fields=["status"])
        return
    # Whoever holds the activity now: records handed over in bulk (someone leaving) change
    # owners without passing through the activity services.
    reminder.recipient = activity.owner
    notify(
        recipient=reminder.recipient,
        kind="reminder",
        title=_title(activity, reminder),
        body=_body(activity, reminder),
        url=reverse("activities:detail", args=[activity.pk]),
        dedupe_key=f"reminder:{reminder.pk}:{reminder.remind_at.isoformat()}",
    )
    reminder.status = ReminderStatus.SENT
    reminder.sent_at = timezone.now()
    reminder.save(update_fields=["status", "sent_at", "recipient"])
