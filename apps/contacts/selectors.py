from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db.models import Prefetch, QuerySet
from django.http import Http404

from apps.core import visibility
from apps.records import querying, registry
from apps.records import search as record_search
from apps.records.models import Tag

from .models import Contact, ContactCompany


def contact_list(
    *,
    user: Any,
    search: str = "",
    params: Mapping[str, Any] | None = None,
    related: bool = True,
) -> QuerySet[Contact]:
    """The contacts `user` may see, with owners, tags and company links, filtered and ordered
    by `params` (see `apps.records.querying`), in a fixed number of queries per page."""
    # `related=False` (the API's lists) reads only the contacts' own columns; the caller
    # reads their related rows in bulk.
    contacts = Contact.objects.defer("search_text")
    if related:
        contacts = contacts.select_related("owner").prefetch_related(
            Prefetch("tags", queryset=Tag.objects.order_by("name")),
            Prefetch(
                "company_links",
                queryset=ContactCompany.objects.select_related("company").filter(
                    company__merged_into__isnull=True
                ),
            ),
            "emails",
            "phones",
        )
    contacts = visibility.visible(contacts, user)
    if search:
        contacts = record_search.matching(contacts, search)
    if params:
        contacts = querying.apply(contacts, registry.get("contact"), params, user=user)
    return contacts


def contact_get(*, user: Any, pk: Any, related: bool = True) -> Contact:
    """One contact `user` may see; 404 (never 403) for anything else. `related=False` reads
    only its own columns (as `contact_list`)."""
    try:
        return contact_list(user=user, related=related).get(pk=int(pk))
    except (Contact.DoesNotExist, ValueError, TypeError, OverflowError):
        raise Http404("No such contact.") from None


def contact_duplicate_pairs(*, user: Any, limit: int = 100) -> list[dict[str, Any]]:
    """Suspected duplicate pairs among contacts `user` may see: a shared email, a shared
    phone, or the same full name. Pairs someone dismissed are left out."""
    from django.db.models import Count, Value
    from django.db.models.functions import Concat, Lower

    from apps.records.duplicates import dismissed

    from .models import ContactEmail, ContactPhone

    visible_ids = contact_list(user=user).values("pk")
    skip = dismissed("contact")
    pairs: dict[tuple[int, int], set[str]] = {}

    def add(rows: Any, reason: str) -> None:
        for a, b in rows:
            key = (min(a, b), max(a, b))
            if key not in skip:
                pairs.setdefault(key, set()).add(reason)

    for model, column, reason in (
        (ContactEmail, "email", "same email"),
        (ContactPhone, "number", "same phone"),
    ):
        rows = (
            model.objects.filter(contact_id__in=visible_ids, contact__merged_into__isnull=True)
            .filter(
                **{
                    f"{column}__in": model.objects.values(column)
                    .annotate(n=Count("pk"))
                    .filter(n__gt=1)
                    .values(column)
                }
            )
            .values_list(column, "contact_id")
            .order_by(column, "contact_id")[: limit * 4]
        )
        groups: dict[str, list[int]] = {}
        for value, contact_id in rows:
            groups.setdefault(value, []).append(contact_id)
        add(
            [(a, b) for ids in groups.values() for i, a in enumerate(ids) for b in ids[i + 1 :]],
            reason,
        )
    named = (
        Contact.objects.filter(pk__in=visible_ids)
        .exclude(first_name="", last_name="")
        .annotate(full=Lower(Concat("first_name", Value(" "), "last_name")))
    )
    repeated = named.values("full").annotate(n=Count("pk")).filter(n__gt=1).values("full")
    groups_by_name: dict[str, list[int]] = {}
    for full, pk in (
        named.filter(full__in=repeated)
        .values_list("full", "pk")
        .order_by("full", "pk")[: limit * 4]
    ):
        groups_by_name.setdefault(full, []).append(pk)
    add(
        [
            (a, b)
            for ids in groups_by_name.values()
            for i, a in enumerate(ids)
            for b in ids[i + 1 :]
        ],
        "same name",
    )
    chosen = sorted(pairs)[:limit]
    records = {c.pk: c for c in Contact.objects.filter(pk__in={i for p in chosen for i in p})}
    return [
        {"ids": [a, b], "records": [records[a], records[b]], "reasons": sorted(pairs[(a, b)])}
        for a, b in chosen
        if a in records and b in records
    ]
