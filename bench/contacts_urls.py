"""The tenant URLs plus the baselines `bench/contacts.py` measures the contacts API against.

Each baseline is the API's own viewset (same authentication, permissions, throttling, reading
of related rows, serializer, visibility rule), taking the same query parameters, with one
thing taken away:

- contacts-offset:    page-number pagination (an exact COUNT(*) and OFFSET), as a typical
                      Django list with Paginator does, instead of the cursor;
- contacts-naive:     the record fetched without select_related/prefetch_related (each
                      related list is read by a query of its own);
- contacts-icontains: `search=` answered by `icontains` over first name, last name and email
                      instead of the typo-tolerant search (no index can answer it, and it finds
                      no typo);
- contacts-keytext:   `cf_<key>=<value>` answered by `custom_fields -> '<key>' = '"<value>"'`,
                      which the jsonb_path_ops GIN index cannot answer, instead of containment
                      (`@>`).
"""

from __future__ import annotations

from typing import Any

from django.db.models import Q
from django.urls import include, path
from rest_framework import pagination

from apps.contacts.api.views import ContactViewSet
from apps.contacts.models import Contact
from apps.core import visibility


class OffsetPagination(pagination.PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200


class ListOffset(ContactViewSet):
    pagination_class = OffsetPagination  # type: ignore[assignment]


class DetailNaive(ContactViewSet):
    def fetch(self, pk: Any) -> Contact:
        return visibility.visible(Contact.objects.all(), self.request.user).get(pk=int(pk))


def _without(params: Any, names: list[str]) -> Any:
    rest = params.copy()
    for name in names:
        rest.pop(name, None)
    return rest


class SearchIcontains(ContactViewSet):
    def select(self, params: Any = None, *, related: bool = True) -> Any:
        text = str(params.get("search", "")).strip()
        found = super().select(_without(params, ["search"]), related=related)
        return found.filter(
            Q(first_name__icontains=text) | Q(last_name__icontains=text) | Q(email__icontains=text)
        )


class CustomFieldKeyText(ContactViewSet):
    def select(self, params: Any = None, *, related: bool = True) -> Any:
        names = [name for name in params if name.startswith("cf_")]
        found = super().select(_without(params, names), related=related)
        return found.filter(**{f"custom_fields__{name[3:]}": params[name] for name in names})


urlpatterns = [
    path("bench/contacts-offset/", ListOffset.as_view({"get": "list"})),
    path("bench/contacts-naive/<int:pk>/", DetailNaive.as_view({"get": "retrieve"})),
    path("bench/contacts-icontains/", SearchIcontains.as_view({"get": "list"})),
    path("bench/contacts-keytext/", CustomFieldKeyText.as_view({"get": "list"})),
    path("", include("config.urls_tenant")),
]
