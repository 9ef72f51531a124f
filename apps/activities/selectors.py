"""Reading activities: every list, calendar, detail and export goes through `activity_list`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db.models import Prefetch, QuerySet
from django.http import Http404

from apps.core import visibility
from apps.records import querying, registry
from apps.records import search as record_search
from apps.records.models import Tag

from .models import Activity


def activity_list(
    *,
    user: Any,
    search: str = "",
    params: Mapping[str, Any] | None = None,
    related: bool = True,
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
    activities = visibility.visible(activities, user)
    if search:
        activities = record_search.matching(activities, search)
    if params:
        activities = querying.apply(activities, registry.get("activity"), params, user=user)
    return activities


def activity_get(*, user: Any, pk: Any) -> Activity:
    """One deal `user` may see; 404 (never 403) for anything else."""
    try:
        return activity_list(user=user).get(pk=int(pk))
    except (Activity.DoesNotExist, ValueError, TypeError, OverflowError):
        raise Http404("No such deal.") from None
