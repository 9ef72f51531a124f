"""Reads shared by every part of the product."""

from __future__ import annotations

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
