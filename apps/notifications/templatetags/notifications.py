"""`{% notification_bell %}`: the header's bell with the signed-in person's unread count."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django import template
from django.utils import timezone
from django.utils.timesince import timesince

from ..selectors import unread_count

register = template.Library()


@register.inclusion_tag("notifications/_bell.html", takes_context=True)
def notification_bell(context: dict[str, Any]) -> dict[str, Any]:
    request = context.get("request")
    user = getattr(request, "user", None)
    unread = unread_count(user=user) if user is not None and user.is_authenticated else 0
    return {"unread": unread}


@register.filter
def ago(moment: datetime) -> str:
    """ "just now" for the last minute, else "3 minutes ago", "2 days ago", ..."""
    if timezone.now() - moment < timedelta(minutes=1):
        return "just now"
    return f"{timesince(moment)} ago"
