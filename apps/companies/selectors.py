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
    *,
    user: Any,
    search: str = "",
    params: Mapping[str, Any] | None = None,
    related: bool = True,
) -> QuerySet[Company]:
    """The companies `user` may see, with owners and tags, filtered and ordered by `params`
    (see `apps.records.querying`), in a fixed number of queries whatever the page size."""
    companies = Company.objects.defer("search_text")
    if related:
        companies = companies.select_related("owner").prefetch_related(
            Prefetch("tags", queryset=Tag.objects.order_by("name"))
        )
    companies = visibility.visible(companies, user)
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


def company_duplicate_pairs(*, user: Any, limit: int = 100) -> list[dict[str, Any]]:
    """Suspected duplicate pairs among companies `user` may see: the same domain or the same
    name (case-insensitive). Pairs someone dismissed are left out."""
    from django.db.models import Count
    from django.db.models.functions import Lower

    from apps.records.duplicates import dismissed

    visible = company_list(user=user)
    skip = dismissed("company")
    pairs: dict[tuple[int, int], set[str]] = {}
    for expression, reason in ((Lower("domain"), "same domain"), (Lower("name"), "same name")):
        keyed = visible.annotate(key=expression).exclude(key="")
        repeated = (
            Company.objects.annotate(key=expression)
            .exclude(key="")
            .values("key")
            .annotate(n=Count("pk"))
            .filter(n__gt=1)
            .values("key")
        )
        groups: dict[str, list[int]] = {}
        for key, pk in (
            keyed.filter(key__in=repeated)
            .values_list("key", "pk")
            .order_by("key", "pk")[: limit * 4]
        ):
            groups.setdefault(key, []).append(pk)
        for ids in groups.values():
            for i, a in enumerate(ids):
                for b in ids[i + 1 :]:
                    if (a, b) not in skip:
                        pairs.setdefault((a, b), set()).add(reason)
    chosen = sorted(pairs)[:limit]
    records = {c.pk: c for c in Company.objects.filter(pk__in={i for p in chosen for i in p})}
    return [
        {"ids": [a, b], "records": [records[a], records[b]], "reasons": sorted(pairs[(a, b)])}
        for a, b in chosen
        if a in records and b in records
    ]
