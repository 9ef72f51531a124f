"""The tenant URLs plus the baselines `bench/contacts.py` measures the contacts API against.

Each baseline is the API's own view (same authentication, permissions, throttling, serializer,
visibility rule) with one thing taken away:

- list-offset:      page-number pagination (an exact COUNT(*) and OFFSET), as a typical Django
                    list with Paginator does, instead of the cursor;
- detail-naive:     the record fetched without select_related/prefetch_related (each related
                    list is a query of its own);
- search-icontains: `icontains` over first name, last name and email instead of the
                    trigram/full-text search (no index can answer it, and it finds no typo);
- cf-keytext:       the custom field compared as `custom_fields -> 'tier' = '"gold"'` (?key=tier
                    &value=gold), which the jsonb_path_ops GIN index cannot answer, instead of
                    containment (`@>`).
"""

from __future__ import annotations

from typing import Any

from django.db.models import Q
from django.urls import include, path
from rest_framework import generics, pagination

from apps.contacts import selectors
from apps.contacts.api.views import ContactSerializer
from apps.contacts.models import Contact
from apps.core import visibility
from apps.core.api.pagination import CursorPagination


class OffsetPagination(pagination.PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200


class BaselineList(generics.ListAPIView):
    scope_resource = "contacts"
    serializer_class = ContactSerializer
    pagination_class: type[pagination.BasePagination] | None = CursorPagination

    def base(self) -> Any:
        return selectors.contact_list(user=self.request.user)


class ListOffset(BaselineList):
    pagination_class = OffsetPagination

    def get_queryset(self) -> Any:
        return self.base().order_by("-created_at", "-id")


class SearchIcontains(BaselineList):
    def get_queryset(self) -> Any:
        text = self.request.query_params.get("search", "").strip()
        return self.base().filter(
            Q(first_name__icontains=text) | Q(last_name__icontains=text) | Q(email__icontains=text)
        )


class CustomFieldKeyText(BaselineList):
    def get_queryset(self) -> Any:
        params = self.request.query_params
        return self.base().filter(**{f"custom_fields__{params['key']}": params["value"]})


class DetailNaive(generics.RetrieveAPIView):
    scope_resource = "contacts"
    serializer_class = ContactSerializer

    def get_queryset(self) -> Any:
        return visibility.visible(Contact.objects.all(), self.request.user)


urlpatterns = [
    path("bench/list-offset/", ListOffset.as_view()),
    path("bench/detail-naive/<int:pk>/", DetailNaive.as_view()),
    path("bench/search-icontains/", SearchIcontains.as_view()),
    path("bench/cf-keytext/", CustomFieldKeyText.as_view()),
    path("", include("config.urls_tenant")),
]
