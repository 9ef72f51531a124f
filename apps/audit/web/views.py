from __future__ import annotations

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from apps.accounts.web.decorators import admin_required

from ..selectors import audit_actions, audit_entry_list


@admin_required
def entry_list(request: HttpRequest) -> HttpResponse:
    action = request.GET.get("action", "")
    search = request.GET.get("q", "").strip()
    page = Paginator(audit_entry_list(action=action, search=search), 50).get_page(
        request.GET.get("page")
    )
    return render(
        request,
        "audit/list.html",
        {
            "page": page,
            "action": action,
            "search": search,
            "actions": audit_actions(),
        },
    )
