"""A user's activities as an iCalendar feed (RFC 5545), for Google Calendar, Outlook and
Apple Calendar subscriptions."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from django.urls import reverse
from django.utils import timezone
from icalendar import Calendar, Event

from .models import Activity, ActivityType

TASK_LENGTH = timedelta(minutes=15)


def feed_calendar(*, user: Any, activities: Iterable[Activity], base_url: str, host: str) -> bytes:
    """The feed's bytes. UIDs are stable (`activity-<id>@<host>`), so an edited activity
    updates the subscriber's copy instead of adding one; all-day ones are DATE values."""
    calendar = Calendar()
    calendar.add("prodid", "-//Kestrel CRM//Activities//EN")
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("x-wr-calname", f"Kestrel · {user.get_full_name()}")
    calendar.add("x-published-ttl", "PT15M")
    base = base_url.rstrip("/")
    now = timezone.now()
    for activity in activities:
        event = Event()
        event.add("uid", f"activity-{activity.pk}@{host}")
        event.add("dtstamp", activity.updated_at or now)
        event.add("created", activity.created_at or now)
        event.add("last-modified", activity.updated_at or now)
        prefix = "" if activity.type == ActivityType.MEETING else f"{activity.get_type_display()}: "
        event.add("summary", f"{'✓ ' if activity.done else ''}{prefix}{activity.subject}")
        if activity.all_day:
            first = activity.scheduled_at.date()
            last = (activity.end_at or activity.scheduled_at).date()
            event.add("dtstart", first)
            event.add("dtend", last + timedelta(days=1))
        else:
            start = activity.start_at or activity.due_at or activity.scheduled_at
            end = activity.end_at if activity.start_at and activity.end_at else start + TASK_LENGTH
            event.add("dtstart", start)
            event.add("dtend", end)
        url = base + reverse("activities:detail", args=[activity.pk])
        event.add("url", url)
        event.add("description", "\n\n".join(p for p in (activity.body, url) if p))
        if activity.location:
            event.add("location", activity.location)
        event.add("status", "CANCELLED" if activity.outcome == "cancelled" else "CONFIRMED")
        event.add("transp", "OPAQUE" if activity.type == ActivityType.MEETING else "TRANSPARENT")
        calendar.add_component(event)
    return bytes(calendar.to_ical())
