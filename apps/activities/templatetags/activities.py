"""`{% record_activities record %}`: a record's open activities on its detail page."""

from __future__ import annotations

from typing import Any

from django import template
from django.utils import timezone

from apps.activities import selectors
from apps.activities.models import Activity
from apps.core import visibility

register = template.Library()


@register.inclusion_tag("activities/_record_activities.html", takes_context=True)
def record_activities(context: Any, record: Any) -> dict[str, Any]:
    request = context.get("request")
    user = getattr(request, "user", None)
    name = record._meta.model_name
    if user is None or not user.is_authenticated:
        return {"record": record, "overdue": [], "upcoming": [], "can_add": False}
    activities = selectors.record_open_activities(user=user, record=record)
    now = timezone.now()
    return {
        "record": record,
        "link_param": name,
        "overdue": [a for a in activities if a.is_overdue],
        "upcoming": [a for a in activities if not a.is_overdue],
        "now": now,
        "can_add": visibility.can_create(user, Activity),
    }
