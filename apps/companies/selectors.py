from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import Http404

from apps.core import visibility

from .models import Company


def company_list(*, user: Any, search: str = "") -> QuerySet[Company]:
    """The companies `user` may see, with their owners, in a fixed number of queries."""
    companies = visibility.visible(Company.objects.select_related("owner"), user)
    if search:
        companies = companies.filter(name__icontains=search)
    return companies


def company_get(*, user: Any, pk: Any) -> Company:
    """One company `user` may see; 404 (never 403) for anything else, so ids leak nothing."""
    try:
        return company_list(user=user).get(pk=int(pk))
    except (Company.DoesNotExist, ValueError, TypeError):
        raise Http404("No such company.") from None
