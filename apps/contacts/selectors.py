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
    *, user: Any, search: str = "", params: Mapping[str, Any] | None = None
) -> QuerySet[Contact]:
    """The contacts `user` may see, with owners, tags and company links, filtered and ordered
    by `params` (see `apps.records.querying`), in a fixed number of queries per page."""
    contacts = visibility.visible(
        Contact.objects.select_related("owner").prefetch_related(
            Prefetch("tags", queryset=Tag.objects.order_by("name")),
            Prefetch(
                "company_links",
                queryset=ContactCompany.objects.select_related("company").filter(
                    company__merged_into__isnull=True
                ),
            ),
            "emails",
            "phones",
        ),
        user,
    )
    if search:
        contacts = record_search.matching(contacts, search)
    if params:
        contacts = querying.apply(contacts, registry.get("contact"), params, user=user)
    return contacts


def contact_get(*, user: Any, pk: Any) -> Contact:
    """One contact `user` may see; 404 (never 403) for anything else."""
    try:
        return contact_list(user=user).get(pk=int(pk))
    except (Contact.DoesNotExist, ValueError, TypeError, OverflowError):
        raise Http404("No such contact.") from None
