"""Reads shared by every part of the product."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.core.paginator import Paginator
from django.db.models import QuerySet

from .models import FailedTask

FAILED_TASK_STATUSES = ("unresolved", "resolved")


def failed_task_list(*, status: str = "") -> QuerySet[FailedTask]:
    """Background work that failed for good in the current schema, newest first: an
    organisation's own in its schema, the platform's in the public schema. `status` is
    "unresolved", "resolved" or "" for both. Callers allow only an organisation's Owners and
    Admins (or operators, in the console); nothing is hidden from them."""
    tasks = FailedTask.objects.order_by("-created_at", "-id")
    if status == "unresolved":
        tasks = tasks.filter(resolved_at__isnull=True)
    elif status == "resolved":
        tasks = tasks.filter(resolved_at__isnull=False)
    return tasks


FAILED_TASK_PAGE_SIZE = 25


def failed_task_page(*, params: Mapping[str, str], resolve_url: str) -> dict[str, Any]:
    """What a failed-tasks page shows (the organisation's settings page and the operator
    console's): one page of `failed_task_list` filtered by `params["status"]`, the unresolved
    count, and the URL name that marks one resolved."""
    status = params.get("status", "")
    status = status if status in FAILED_TASK_STATUSES else ""
    return {
        "page": Paginator(failed_task_list(status=status), FAILED_TASK_PAGE_SIZE).get_page(
            params.get("page")
        ),
        "status": status,
        "unresolved": failed_task_list(status="unresolved").count(),
        "resolve_url": resolve_url,
    }
