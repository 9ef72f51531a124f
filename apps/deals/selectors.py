"""Reading deals: every list, board, detail and export goes through `deal_list`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db.models import Prefetch, QuerySet
from django.http import Http404

from apps.core import visibility
from apps.records import querying, registry
from apps.records import search as record_search
from apps.records.models import Tag

from .models import Deal


def deal_list(
    *,
    user: Any,
    search: str = "",
    params: Mapping[str, Any] | None = None,
    related: bool = True,
) -> QuerySet[Deal]:
    """The deals `user` may see, filtered and ordered by `params`."""
    deals = Deal.objects.defer("search_text").select_related("stage", "pipeline")
    if related:
        deals = deals.select_related("owner", "lost_reason").prefetch_related(
            Prefetch("tags", queryset=Tag.objects.order_by("name")), "contacts", "companies"
        )
    deals = visibility.visible(deals, user)
    if search:
        deals = record_search.matching(deals, search)
    if params:
        deals = querying.apply(deals, registry.get("deal"), params, user=user)
    return deals


def deal_get(*, user: Any, pk: Any) -> Deal:
    """One deal `user` may see; 404 (never 403) for anything else."""
    try:
        return deal_list(user=user).get(pk=int(pk))
    except (Deal.DoesNotExist, ValueError, TypeError, OverflowError):
        raise Http404("No such deal.") from None
