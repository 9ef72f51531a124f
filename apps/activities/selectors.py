"""Reading activities: every list, calendar, detail and export goes through `activity_list`."""

from __future__ import annotations

import zoneinfo
from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Prefetch, Q, QuerySet
from django.http import Http404
from django.utils import timezone

from apps.accounts.models import Team, User
from apps.core import visibility
from apps.records import querying, registry
from apps.records import search as record_search
from apps.records.models import Tag

from .models import Activity, ActivityType


def activity_list(
    *,
    user: Any,
    search: str = "",
    params: Mapping[str, Any] | None = None,
    related: bool = True,
    eager: bool = False,
) -> QuerySet[Activity]:
    """The activities `user` may see, filtered and ordered by `params`."""
    activities = Activity.objects.defer("search_text")
    if related:
        activities = activities.select_related("owner").prefetch_related(
            Prefetch("tags", queryset=Tag.objects.order_by("name")),
            "contacts",
            "companies",
            "deals",
            "leads",
        )
    activities = visibility.visible(activities, user, eager=eager)
    if search:
        activities = record_search.matching(activities, search)
    if params and "assignee" in params:
        # The API calls the owner the assignee; both names filter the same column.
        renamed: Any = params.copy() if hasattr(params, "copy") else dict(params)
        if hasattr(renamed, "setlist"):
            renamed.setlist("owner", renamed.getlist("assignee"))
            renamed.pop("assignee")
        else:
            renamed["owner"] = renamed.pop("assignee")
        params = renamed
    if params:
        activities = querying.apply(activities, registry.get("activity"), params, user=user)
    return activities


def activity_get(*, user: Any, pk: Any, related: bool = True) -> Activity:
    """One activity `user` may see; 404 (never 403) for anything else. `related=False` reads
    only its own columns (as `activity_list`)."""
    try:
        return activity_list(user=user, related=related).get(pk=int(pk))
    except (Activity.DoesNotExist, ValueError, TypeError, OverflowError):
        raise Http404("No such activity.") from None


# Calendar, "My day" and the iCalendar feed -------------------------------------------------


def calendar_teams(*, user: Any) -> QuerySet[Team]:
    """The teams whose calendars `user` may pick: the ones they belong to or manage (Admins,
    Owners and Read-only users: every team)."""
    teams = Team.objects.order_by("name")
    if getattr(user, "role", None) in visibility.SEE_ALL or getattr(user, "is_superuser", False):
        return teams
    return teams.filter(Q(members=user) | Q(manager=user)).distinct()


def _scope_owners(user: Any, scope: str) -> Any:
    """The assignee condition of a calendar scope, or None for "everyone I may see"."""
    if scope in ("", "mine"):
        return Q(owner_id=user.pk)
    teams = calendar_teams(user=user)
    if scope == "all":
        if getattr(user, "role", None) in visibility.SEE_ALL:
            return None
        raise ValidationError({"scope": "Only Admins see everyone's calendar."})
    if scope == "team":
        chosen = teams
    else:
        try:
            chosen = teams.filter(pk=int(scope))
        except ValueError:
            raise ValidationError({"scope": "Choose mine, team or a team id."}) from None
        if not chosen.exists():
            raise ValidationError({"scope": "No such team."})
    members = User.objects.filter(Q(teams__in=chosen) | Q(managed_teams__in=chosen)).values("pk")
    return Q(owner_id__in=members) | Q(owner_id=user.pk)


# A calendar range holds at most this many events; the page says so when there are more.
CALENDAR_MAX_EVENTS = 5000


def calendar_events(*, user: Any, start: datetime, end: datetime, scope: str = "mine") -> Any:
    """The activities `user` may see that are scheduled in [start, end) (all-day ones that
    began earlier but still run are included), in the chosen scope, with owner names: one
    indexed range query."""
    activities = visibility.visible(Activity.objects.all(), user)
    condition = _scope_owners(user, scope)
    if condition is not None:
        activities = activities.filter(condition)
    return (
        # One range on the (owner, scheduled_at) index; the month before is read too so that
        # a multi-day activity that began then and still runs appears.
        activities.filter(scheduled_at__gte=start - SPAN_BACK, scheduled_at__lt=end)
        .filter(Q(scheduled_at__gte=start) | Q(end_at__gte=start))
        .select_related("owner")
        .only(
            "id",
            "type",
            "subject",
            "start_at",
            "end_at",
            "due_at",
            "all_day",
            "scheduled_at",
            "done",
            "location",
            "owner_id",
            "owner__full_name",
            "owner__email",
        )
        .order_by("scheduled_at", "id")[: CALENDAR_MAX_EVENTS + 1]
    )


def user_today(user: Any, now: datetime | None = None) -> date:
    """Today in the user's time zone."""
    now = now or timezone.now()
    return now.astimezone(_tz(user)).date()


def activity_day(activity: Activity, user: Any) -> date:
    """The day an activity falls on for `user`: an all-day one on its stored date, a timed one
    in the user's time zone."""
    if activity.all_day:
        return activity.scheduled_at.astimezone(UTC).date()
    return activity.scheduled_at.astimezone(_tz(user)).date()


def my_day(*, user: Any, now: datetime | None = None, days: int = 7) -> dict[str, list[Activity]]:
    """The user's own activities: open ones from before today (`overdue`), today's (open and
    done, so a ticked one stays in view), and open ones of the next `days` days (`upcoming`)."""
    today = user_today(user, now)
    tz = _tz(user)
    # A window wide enough for every time zone; the buckets below decide the exact day.
    window_end = datetime.combine(today + timedelta(days=days + 2), time.min, tzinfo=tz)
    window_start = datetime.combine(today - timedelta(days=1), time.min, tzinfo=tz)
    mine = (
        visibility.visible(Activity.objects.all(), user)
        .filter(owner_id=user.pk)
        .select_related("owner")
        .prefetch_related("contacts", "companies", "deals", "leads")
    )
    buckets: dict[str, list[Activity]] = {"overdue": [], "today": [], "upcoming": []}
    recent = mine.filter(
        scheduled_at__gte=window_start - timedelta(days=1), scheduled_at__lt=window_end
    )
    older = mine.filter(done=False, scheduled_at__lt=window_start - timedelta(days=1))
    for activity in [
        *older.order_by("-scheduled_at")[:200][::-1],
        *recent.order_by("scheduled_at", "id"),
    ]:
        day = activity_day(activity, user)
        if day < today:
            if not activity.done:
                buckets["overdue"].append(activity)
        elif day == today:
            buckets["today"].append(activity)
        elif day <= today + timedelta(days=days) and not activity.done:
            buckets["upcoming"].append(activity)
    return buckets


def feed_activities(*, user: Any, now: datetime | None = None) -> QuerySet[Activity]:
    """What a user's iCalendar feed holds: their own activities with a time (meetings, and
    tasks or calls with a due moment or a slot) from 90 days back to 365 days ahead."""
    now = now or timezone.now()
    return (
        visibility.visible(Activity.objects.all(), user)
        .filter(
            owner_id=user.pk,
            scheduled_at__gte=now - timedelta(days=90),
            scheduled_at__lt=now + timedelta(days=365),
        )
        .filter(Q(start_at__isnull=False) | Q(due_at__isnull=False))
        .exclude(type=ActivityType.NOTE)
        .select_related("owner")
        .prefetch_related("contacts", "companies")
        .order_by("scheduled_at", "id")[:5000]
    )


def _tz(user: Any) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(getattr(user, "time_zone", "") or "UTC")
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo("UTC")


def record_open_activities(*, user: Any, record: Any, limit: int = 10) -> list[Activity]:
    """Open activities linked to `record` that `user` may see, overdue first."""
    field = LINK_FIELDS.get(record._meta.model_name)
    if field is None:
        return []
    return list(
        visibility.visible(Activity.objects.all(), user)
        .filter(**{field: record.pk}, done=False)
        .select_related("owner")
        .order_by("scheduled_at", "id")[:limit]
    )


SPAN_BACK = timedelta(days=31)
LINK_FIELDS = {"contact": "contacts", "company": "companies", "deal": "deals", "lead": "leads"}


def changeable_ids(*, user: Any, activities: list[Activity]) -> set[int]:
    """Which of `activities` `user` may change (the calendar's draggable events)."""
    return visibility.changeable_ids(user, activities)
