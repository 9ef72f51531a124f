"""Reads of notifications. A person only ever reaches their own: every query here is narrowed
to `recipient=user`, so web, API and the bell cannot disagree or leak another's."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import Http404

from .models import Notification, NotificationSettings


def notification_list(*, user: Any, unread: bool = False) -> QuerySet[Notification]:
    """The user's notifications, newest first (optionally only unread ones). Anyone who is not
    a saved user (e.g. an API key that belongs to nobody) has none."""
    if user is None or getattr(user, "pk", None) is None:
        return Notification.objects.none()
    found = Notification.objects.filter(recipient_id=user.pk).select_related("actor")
    if unread:
        found = found.filter(read_at__isnull=True)
    return found.order_by("-created_at", "-id")


def notification_get(*, user: Any, pk: Any) -> Notification:
    """One of the user's own notifications; Http404 for any other (someone else's looks
    exactly like one that does not exist)."""
    try:
        return notification_list(user=user).get(pk=int(pk))
    except (Notification.DoesNotExist, TypeError, ValueError):
        raise Http404("No such notification.") from None


def unread_count(*, user: Any) -> int:
    return notification_list(user=user, unread=True).count()


def settings_for(user: Any) -> NotificationSettings:
    """The user's saved settings, else an unsaved row holding every default."""
    found = NotificationSettings.objects.filter(user_id=user.pk).first()
    return found if found is not None else NotificationSettings(user_id=user.pk)
