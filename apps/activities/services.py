"""Writes on activities and calendar feeds. Each checks the actor may do it (PermissionDenied
otherwise), runs in a transaction, records history and an audit entry.

Times: meetings have `start_at` and `end_at` (an end defaults to 30 minutes after the start);
tasks, calls, notes and emails have `due_at` (or, when booked as a slot, a start and an end).
All-day activities are stored at midnight UTC of their date(s) - the date taken in the
assignee's time zone - so that a date means the same day for everyone who reads it;
`end_at` of an all-day activity is its last day (inclusive). `scheduled_at` is always
`start_at`, else `due_at`, else the moment the activity was made."""

from __future__ import annotations

import hashlib
import secrets
import zoneinfo
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from apps.accounts.models import Team, User
from apps.audit.services import audit_record
from apps.companies.models import Company
from apps.contacts.models import Contact
from apps.core import visibility
from apps.deals.models import Deal
from apps.leads.models import Lead
from apps.notifications.services import assignment_notify, mentions_notify
from apps.records import customfields, search
from apps.records.services import actor_label as _label
from apps.records.services import actor_user as _actor_user
from apps.records.services import default_owner, record_share, tags_resolve

from .models import Activity, ActivityType, CalendarFeed, Outcome
from .reminders import REMINDED_TYPES, anchor, default_minutes, reminders_forget, reminders_sync

# The records an activity links to: keyword -> model.
LINKS: dict[str, type[Any]] = {
    "contacts": Contact,
    "companies": Company,
    "deals": Deal,
    "leads": Lead,
}
TEXT_LIMITS = {"subject": 200, "location": 300, "body": 50_000}
DEFAULT_MEETING = timedelta(minutes=30)


def _tz(user: Any) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(getattr(user, "time_zone", "") or "UTC")
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo("UTC")


def day_start(day: date) -> datetime:
    """How an all-day activity stores `day`: midnight UTC."""
    return datetime.combine(day, time.min, tzinfo=UTC)


def _as_day(value: datetime | date, tz: zoneinfo.ZoneInfo) -> date:
    if isinstance(value, datetime):
        if timezone.is_naive(value):
            return value.date()
        return value.astimezone(tz).date()
    return value


def _aware(value: datetime | date | None, name: str) -> Any:
    """An aware datetime (naive ones are UTC); a date stays a date until the all-day rule
    (`_normalise_times`) decides what it means."""
    if value is None:
        return None
    if not isinstance(value, datetime):
        if isinstance(value, date):
            return value
        raise ValidationError({name: "Give a date and time."})
    if timezone.is_naive(value):
        return timezone.make_aware(value, UTC)
    return value


def _linked(actor: Any, name: str, values: Iterable[Any]) -> list[Any]:
    """The records named by `values` (ids or objects), each visible to the actor."""
    model = LINKS[name]
    ids: list[int] = []
    for value in values:
        pk = getattr(value, "pk", value)
        try:
            ids.append(int(pk))
        except (TypeError, ValueError):
            raise ValidationError({name: f"{pk!r} is not a record id."}) from None
    ids = list(dict.fromkeys(ids))
    if len(ids) > 100:
        raise ValidationError({name: "Link at most 100 records of a kind."})
    found = {r.pk: r for r in visibility.visible(model.objects.all(), actor).filter(pk__in=ids)}
    missing = [str(i) for i in ids if i not in found]
    if missing:
        label = model._meta.verbose_name
        raise ValidationError({name: f"No such {label}: {', '.join(missing)}."})
    return [found[i] for i in ids]


def _check_owner(owner: Any) -> User:
    if not isinstance(owner, User) or not owner.is_active:
        raise ValidationError({"owner": "The assignee must be an active member."})
    return owner


def _clean_text(values: dict[str, Any]) -> None:
    for name, limit in TEXT_LIMITS.items():
        if name in values and values[name] is not None:
            text = str(values[name]).strip()
            if len(text) > limit:
                raise ValidationError({name: f"At most {limit:,} characters."})
            values[name] = text


def _normalise_times(activity: Activity) -> None:
    """Apply the rules of the module docstring to `activity`'s time fields."""
    tz = _tz(activity.owner) if activity.owner_id else zoneinfo.ZoneInfo("UTC")
    if not activity.all_day:
        for name in ("due_at", "start_at", "end_at"):
            value = getattr(activity, name)
            if value is not None and not isinstance(value, datetime):
                setattr(activity, name, day_start(value))
    if activity.end_at is not None and activity.start_at is None:
        raise ValidationError({"start_at": "An activity with an end needs a start."})
    if activity.type == ActivityType.MEETING and activity.start_at is None:
        raise ValidationError({"start_at": "A meeting needs a start."})
    if activity.all_day:
        if activity.start_at is not None:
            activity.start_at = day_start(_as_day(activity.start_at, tz))
            end_day = _as_day(activity.end_at, tz) if activity.end_at else None
            activity.end_at = day_start(end_day) if end_day else activity.start_at
            if activity.end_at < activity.start_at:
                raise ValidationError({"end_at": "The last day cannot be before the first."})
        if activity.due_at is not None:
            activity.due_at = day_start(_as_day(activity.due_at, tz))
    elif activity.start_at is not None:
        if activity.end_at is None and activity.type == ActivityType.MEETING:
            activity.end_at = activity.start_at + DEFAULT_MEETING
        if activity.end_at is not None and activity.end_at <= activity.start_at:
            raise ValidationError({"end_at": "The end must be after the start."})
    activity.scheduled_at = (
        activity.start_at or activity.due_at or activity.scheduled_at or timezone.now()
    )


def _refresh_search_text(activity: Activity) -> None:
    activity.search_text = search.document(
        activity.subject, activity.location, (activity.body or "")[:2000]
    )


def _set_links(actor: Any, activity: Activity, links: dict[str, list[Any]]) -> None:
    for name, records in links.items():
        getattr(activity, name).set(records)


def _audit(actor: Any, action: str, activity: Activity, **detail: Any) -> None:
    audit_record(
        action=action,
        actor=_actor_user(actor),
        actor_label=_label(actor),
        target=activity,
        detail=detail or None,
    )


def _check_outcome(outcome: str) -> str:
    outcome = (outcome or "").strip()
    if outcome not in Outcome.values:
        raise ValidationError({"outcome": f"Unknown outcome {outcome!r}."})
    return outcome


@transaction.atomic
def activity_create(
    *,
    actor: Any,
    type: str,
    subject: str,
    owner: User | None = None,
    body: str = "",
    due_at: datetime | date | None = None,
    start_at: datetime | date | None = None,
    end_at: datetime | date | None = None,
    all_day: bool = False,
    done: bool = False,
    outcome: str = "",
    location: str = "",
    contacts: Iterable[Any] | None = None,
    companies: Iterable[Any] | None = None,
    deals: Iterable[Any] | None = None,
    leads: Iterable[Any] | None = None,
    tags: Iterable[str] | None = None,
    custom_fields: dict[str, Any] | None = None,
    allow_duplicate: bool = True,
    reminders: Iterable[int] | None = None,
) -> Activity:
    """Create an activity assigned to `owner` (default: the actor). Every linked record must
    be visible to the actor, else ValidationError naming the field. `reminders` are minutes
    before its start or due moment; None gives meetings, calls and tasks the assignee's
    default reminders."""
    if not visibility.can_create(actor, Activity):
        raise PermissionDenied("Read-only access cannot create activities.")
    if type not in ActivityType.values:
        raise ValidationError({"type": f"Unknown activity type {type!r}."})
    values: dict[str, Any] = {"subject": subject, "body": body, "location": location}
    _clean_text(values)
    if not values["subject"]:
        raise ValidationError({"subject": "Give the activity a subject."})
    activity = Activity(
        type=type,
        owner=_check_owner(owner) if owner is not None else default_owner(actor),
        created_by=_actor_user(actor),
        due_at=_aware(due_at, "due_at"),
        start_at=_aware(start_at, "start_at"),
        end_at=_aware(end_at, "end_at"),
        all_day=bool(all_day),
        done=bool(done),
        done_at=timezone.now() if done else None,
        outcome=_check_outcome(outcome),
        **values,
    )
    _normalise_times(activity)
    try:
        activity.custom_fields = customfields.clean_values("activity", custom_fields, creating=True)
    except ValidationError as exc:
        raise customfields.keyed_errors(exc) from None
    links = {
        name: _linked(actor, name, given)
        for name, given in (
            ("contacts", contacts),
            ("companies", companies),
            ("deals", deals),
            ("leads", leads),
        )
        if given
    }
    _refresh_search_text(activity)
    activity.full_clean(exclude=["owner", "created_by"])
    activity._history_user = _actor_user(actor)  # type: ignore[attr-defined]
    activity.save()
    # A new activity has no links or reminders yet: add the links (`set` would first read
    # the none there are), and let the reminders skip reading theirs.
    for name, records in links.items():
        getattr(activity, name).add(*records)
    if tags:
        activity.tags.set(tags_resolve(actor=actor, names=tags))
    assignment_notify(record=activity, actor=actor)
    mentions_notify(activity=activity, actor=actor)
    if reminders is None:
        wanted = (
            default_minutes(activity.owner)
            if activity.type in REMINDED_TYPES and not activity.done and anchor(activity)
            else []
        )
    else:
        wanted = list(reminders)
    reminders_sync(activity=activity, minutes=wanted, created=True)
    _audit(actor, "activity.created", activity, type=activity.type)
    return activity


@transaction.atomic
def activity_update(
    *,
    actor: Any,
    activity: Activity,
    contacts: Iterable[Any] | None = None,
    companies: Iterable[Any] | None = None,
    deals: Iterable[Any] | None = None,
    leads: Iterable[Any] | None = None,
    tags: Iterable[str] | None = None,
    custom_fields: dict[str, Any] | None = None,
    allow_duplicate: bool = True,
    reminders: Iterable[int] | None = None,
    **fields: Any,
) -> Activity:
    """Change fields (only those given; pass None to leave one alone, except the time
    fields, where None clears them when named). Link and tag lists replace the old ones;
    custom fields merge into the stored ones."""
    if not visibility.can_change(actor, activity):
        raise PermissionDenied("You may not change this activity.")
    previous_owner, previous_body = activity.owner_id, activity.body
    allowed = {
        "type",
        "subject",
        "body",
        "location",
        "owner",
        "due_at",
        "start_at",
        "end_at",
        "all_day",
        "done",
        "outcome",
    }
    unknown = set(fields) - allowed
    if unknown:
        raise ValidationError({sorted(unknown)[0]: "Unknown field."})
    times = {k: fields.pop(k) for k in ("due_at", "start_at", "end_at") if k in fields}
    values = {k: v for k, v in fields.items() if v is not None}
    _clean_text(values)
    if "subject" in values and not values["subject"]:
        raise ValidationError({"subject": "Give the activity a subject."})
    if "type" in values and values["type"] not in ActivityType.values:
        raise ValidationError({"type": f"Unknown activity type {values['type']!r}."})
    if "owner" in values:
        _check_owner(values["owner"])
    if "outcome" in values:
        values["outcome"] = _check_outcome(values["outcome"])
    if "done" in values:
        values["done"] = bool(values["done"])
        if values["done"] and not activity.done:
            activity.done_at = timezone.now()
        elif not values["done"]:
            activity.done_at = None
    for name, value in values.items():
        setattr(activity, name, value)
    for name, value in times.items():
        setattr(activity, name, _aware(value, name))
    _normalise_times(activity)
    if custom_fields is not None:
        try:
            activity.custom_fields = customfields.clean_values(
                "activity", custom_fields, existing=activity.custom_fields
            )
        except ValidationError as exc:
            raise customfields.keyed_errors(exc) from None
    links = {
        name: _linked(actor, name, given)
        for name, given in (
            ("contacts", contacts),
            ("companies", companies),
            ("deals", deals),
            ("leads", leads),
        )
        if given is not None
    }
    _refresh_search_text(activity)
    activity.full_clean(exclude=["owner", "created_by"])
    activity._history_user = _actor_user(actor)  # type: ignore[attr-defined]
    activity.save()
    _set_links(actor, activity, links)
    if tags is not None:
        activity.tags.set(tags_resolve(actor=actor, names=tags))
    assignment_notify(record=activity, actor=actor, previous_owner_id=previous_owner)
    if activity.body != previous_body:
        mentions_notify(activity=activity, actor=actor)
    reminders_sync(activity=activity, minutes=None if reminders is None else list(reminders))
    changed = sorted(
        [
            *values,
            *times,
            *links,
            *(
                n
                for n, v in (
                    ("tags", tags),
                    ("custom_fields", custom_fields),
                    ("reminders", reminders),
                )
                if v is not None
            ),
        ]
    )
    _audit(actor, "activity.changed", activity, fields=changed)
    return activity


@transaction.atomic
def activity_delete(*, actor: Any, activity: Activity) -> None:
    if not visibility.can_delete(actor, activity):
        raise PermissionDenied("Only the assignee, their manager or an Admin may delete this.")
    _audit(actor, "activity.deleted", activity, subject=activity.subject)
    activity._history_user = _actor_user(actor)  # type: ignore[attr-defined]
    reminders_forget(activity=activity)
    activity.delete()


@transaction.atomic
def activity_complete(
    *, actor: Any, activity: Activity, done: bool = True, outcome: str = ""
) -> Activity:
    """Mark done (with an optional outcome) or open again."""
    if not visibility.can_change(actor, activity):
        raise PermissionDenied("You may not change this activity.")
    activity.outcome = _check_outcome(outcome) if done else ""
    if done and not activity.done:
        activity.done_at = timezone.now()
    if not done:
        activity.done_at = None
    activity.done = done
    activity._history_user = _actor_user(actor)  # type: ignore[attr-defined]
    activity.save()
    reminders_sync(activity=activity, minutes=None)
    _audit(actor, "activity.completed" if done else "activity.reopened", activity)
    return activity


@transaction.atomic
def activity_reschedule(
    *,
    actor: Any,
    activity: Activity,
    start_at: datetime | date,
    end_at: datetime | date | None = None,
    all_day: bool | None = None,
) -> Activity:
    """Move an activity (the calendar's drag and resize). A timed activity keeps its length
    unless an end is given; a task with only a due moment gets the new moment as its due."""
    if not visibility.can_change(actor, activity):
        raise PermissionDenied("You may not change this activity.")
    start = _aware(start_at, "start_at")
    end = _aware(end_at, "end_at")
    if start is None:
        raise ValidationError({"start_at": "Give the new start."})
    was_all_day = activity.all_day
    if all_day is not None:
        activity.all_day = bool(all_day)
    if not activity.all_day:
        start = start if isinstance(start, datetime) else day_start(start)
        end = end if end is None or isinstance(end, datetime) else day_start(end)
    if activity.start_at is not None or activity.type == ActivityType.MEETING:
        length = (
            activity.end_at - activity.start_at
            if activity.end_at and activity.start_at and not was_all_day
            else DEFAULT_MEETING
        )
        activity.start_at = start
        if end is not None:
            activity.end_at = end
        elif activity.all_day:
            activity.end_at = None
        else:
            activity.end_at = start + max(length, timedelta(minutes=5))
    else:
        activity.due_at = start
    _normalise_times(activity)
    activity._history_user = _actor_user(actor)  # type: ignore[attr-defined]
    activity.save()
    reminders_sync(activity=activity, minutes=None)
    _audit(
        actor,
        "activity.rescheduled",
        activity,
        start_at=activity.scheduled_at.isoformat(),
        all_day=activity.all_day,
    )
    return activity


def activity_share(
    *,
    actor: Any,
    activity: Activity,
    level: str,
    user: User | None = None,
    team: Team | None = None,
) -> None:
    """Share with a user or a team, to view or to edit (replacing an earlier share)."""
    record_share(actor=actor, record=activity, level=level, user=user, team=team)


# Calendar feeds ----------------------------------------------------------------------------


def feed_token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@transaction.atomic
def calendar_feed_create(*, actor: Any) -> tuple[CalendarFeed, str]:
    """A new private feed for the actor (replacing any old one, whose URL stops working at
    once). Returns the feed and its token, which is shown now and never stored."""
    user = _actor_user(actor)
    if not isinstance(actor, User) or user is None:
        raise PermissionDenied("Calendar feeds belong to a person.")
    CalendarFeed.objects.filter(user=user).delete()
    token = secrets.token_urlsafe(32)
    feed = CalendarFeed.objects.create(
        user=user, token_hash=feed_token_hash(token), prefix=token[:8]
    )
    audit_record(action="calendar_feed.created", actor=user, target=feed)
    return feed, token


@transaction.atomic
def calendar_feed_revoke(*, actor: Any) -> bool:
    """Revoke the actor's feed; True if there was one."""
    user = _actor_user(actor)
    if user is None:
        return False
    deleted, _ = CalendarFeed.objects.filter(user=user).delete()
    if deleted:
        audit_record(action="calendar_feed.revoked", actor=user, detail={"user": user.pk})
    return bool(deleted)
