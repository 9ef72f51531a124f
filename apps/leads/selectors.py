"""Reading leads: every list, detail and export goes through `lead_list`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db.models import Prefetch, QuerySet
from django.http import Http404

from apps.core import visibility
from apps.records import querying, registry
from apps.records import search as record_search
from apps.records.models import Tag

from .models import Lead


def lead_list(
    *,
    user: Any,
    search: str = "",
    params: Mapping[str, Any] | None = None,
    related: bool = True,
) -> QuerySet[Lead]:
    """The leads `user` may see, filtered and ordered by `params`."""
    leads = Lead.objects.defer("search_text")
    if related:
        leads = leads.select_related("owner", "source").prefetch_related(
            Prefetch("tags", queryset=Tag.objects.order_by("name"))
        )
    leads = visibility.visible(leads, user)
    if search:
        leads = record_search.matching(leads, search)
    if params:
        leads = querying.apply(leads, registry.get("lead"), params, user=user)
    return leads


def lead_get(*, user: Any, pk: Any) -> Lead:
    """One deal `user` may see; 404 (never 403) for anything else."""
    try:
        return lead_list(user=user).get(pk=int(pk))
    except (Lead.DoesNotExist, ValueError, TypeError, OverflowError):
        raise Http404("No such deal.") from None
