"""Activities on the timelines of the records they link to."""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from django.utils import timezone

from apps.core import visibility
from apps.records.models import TimelineKind
from apps.records.timeline import Item

from .models import Activity

LINK_FIELDS = {"contact": "contacts", "company": "companies", "deal": "deals", "lead": "leads"}


def describe_when(activity: Activity) -> str:
    if activity.all_day:
        return activity.scheduled_at.strftime("%Y-%m-%d") + " (all day)"
    when = timezone.localtime(activity.scheduled_at).strftime("%Y-%m-%d %H:%M")
    if activity.end_at and activity.start_at:
        when += " to " + timezone.localtime(activity.end_at).strftime("%H:%M")
    return when


def activity_items(record: Any, entity: str, kind: str, limit: int, user: Any = None) -> list[Item]:
    """A timeline source: the activities linked to `record` that `user` may see, as timeline
    items. A past or done activity sits at its time; a planned one at the moment it was
    planned."""
    field = LINK_FIELDS.get(entity)
    if field is None or kind not in ("", TimelineKind.ACTIVITY):
        return []
    now = timezone.now()
    activities = Activity.objects.all()
    if user is not None:
        activities = visibility.visible(activities, user)
    rows = (
        activities.filter(**{field: record.pk})
        .select_related("owner")
        .defer("search_text", "custom_fields")
        .order_by("-scheduled_at", "-id")[:limit]
    )
    items = []
    for activity in rows:
        parts = [describe_when(activity)]
        if activity.done:
            parts.append("Done")
            if activity.outcome:
                parts.append(f"Outcome: {activity.get_outcome_display()}")
        elif activity.is_overdue:
            parts.append("Overdue")
        if activity.location:
            parts.append(activity.location)
        items.append(
            Item(
                kind=TimelineKind.ACTIVITY,
                at=activity.scheduled_at if activity.scheduled_at <= now else activity.created_at,
                author=activity.owner,
                title=f"{activity.get_type_display()}: {activity.subject}",
                body=" · ".join(parts),
                detail={
                    "activity_id": activity.pk,
                    "url": reverse("activities:detail", args=[activity.pk]),
                    "type": activity.type,
                    "when": activity.scheduled_at.isoformat(),
                    "done": activity.done,
                    "outcome": activity.outcome,
                },
            )
        )
    return items
