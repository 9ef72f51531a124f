from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db.models import Prefetch, QuerySet
from django.http import Http404

from apps.core import visibility
from apps.records import querying, registry
from apps.records import search as record_search
from apps.records.models import Tag

from .models import Company


def company_list(
    *, user: Any, search: str = "", params: Mapping[str, Any] | None = None
) -> QuerySet[Company]:
    """The companies `user` may see, with owners and tags, filtered and ordered by `params`
    (see `apps.records.querying`), in a fixed number of queries whatever the page size."""
    companies = visibility.visible(
        Company.objects.select_related("owner").prefetch_related(
            Prefetch("tags", queryset=Tag.objects.order_by("name"))
        ),
        user,
    )
    if search:
        companies = record_search.matching(companies, search)
    if params:
        companies = querying.apply(companies, registry.get("company"), params, user=user)
    return companies


def company_get(*, user: Any, pk: Any) -> Company:
    """One company `user` may see; 404 (never 403) for anything else, so ids leak nothing."""
    try:
        return company_list(user=user).get(pk=int(pk))
    except (Company.DoesNotExist, ValueError, TypeError, OverflowError):
        raise Http404("No such company.") from None
