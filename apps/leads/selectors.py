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
    eager: bool = False,
) -> QuerySet[Lead]:
    """The leads `user` may see, filtered and ordered by `params`."""
    leads = Lead.objects.defer("search_text")
    if related:
        leads = leads.select_related("owner", "source").prefetch_related(
            Prefetch("tags", queryset=Tag.objects.order_by("name"))
        )
    leads = visibility.visible(leads, user, eager=eager)
    if search:
        leads = record_search.matching(leads, search)
    if params:
        leads = querying.apply(leads, registry.get("lead"), params, user=user)
    return leads


def lead_get(*, user: Any, pk: Any) -> Lead:
    """One lead `user` may see; 404 (never 403) for anything else."""
    try:
        return lead_list(user=user).get(pk=int(pk))
    except (Lead.DoesNotExist, ValueError, TypeError, OverflowError):
        raise Http404("No such lead.") from None


def lead_duplicate_pairs(*, user: Any, limit: int = 100) -> list[dict[str, Any]]:
    """Suspected duplicate pairs among the open leads `user` may see: a shared email, a
    shared phone, or the same full name. Pairs someone dismissed are left out."""
    from django.db.models import Count, Value
    from django.db.models.functions import Concat, Lower

    from apps.records.duplicates import dismissed

    from .models import LeadStatus

    leads = lead_list(user=user, related=False).exclude(status=LeadStatus.CONVERTED)
    skip = dismissed("lead")
    pairs: dict[tuple[int, int], set[str]] = {}
    keyed = leads.annotate(full=Lower(Concat("first_name", Value(" "), "last_name")))
    for column, reason in (("email", "same email"), ("phone", "same phone"), ("full", "same name")):
        rows = keyed.exclude(**{column: ""}).exclude(**{column: " "})
        repeated = (
            rows.order_by().values(column).annotate(n=Count("pk")).filter(n__gt=1).values(column)
        )
        groups: dict[str, list[int]] = {}
        for value, pk in (
            rows.filter(**{f"{column}__in": repeated})
            .values_list(column, "pk")
            .order_by(column, "pk")[: limit * 4]
        ):
            groups.setdefault(value, []).append(pk)
        for ids in groups.values():
            for i, a in enumerate(ids):
                for b in ids[i + 1 :]:
                    if (a, b) not in skip:
                        pairs.setdefault((a, b), set()).add(reason)
    chosen = sorted(pairs)[:limit]
    records = {r.pk: r for r in Lead.objects.filter(pk__in={i for p in chosen for i in p})}
    return [
        {"ids": [a, b], "records": [records[a], records[b]], "reasons": sorted(pairs[(a, b)])}
        for a, b in chosen
        if a in records and b in records
    ]
