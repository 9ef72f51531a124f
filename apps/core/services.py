"""Writes shared by every part of the product."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from tenants.db import connection

from .models import FailedTask


def _locked(failed_task: FailedTask) -> FailedTask:
    # Two Admins pressing "Mark resolved" at once: the second finds it resolved and logs nothing.
    return FailedTask.objects.select_for_update().get(pk=failed_task.pk)


@transaction.atomic
def failed_task_resolve(
    *, failed_task: FailedTask, actor: Any, ip_address: str | None = None
) -> FailedTask:
    """Mark an organisation's failed background work as dealt with, and say so in its audit
    log (once: resolving a resolved row changes nothing). `actor` is a member or an API key
    principal; the caller has checked that they are an Owner or Admin."""
    from apps.accounts.models import User
    from apps.audit.services import audit_record

    if connection.schema_name == settings.PUBLIC_SCHEMA_NAME:
        raise RuntimeError("An organisation's failed task is resolved in its own schema.")
    task = _locked(failed_task)
    if task.resolved_at is not None:
        return task
    key = getattr(actor, "key", None)
    user = actor if isinstance(actor, User) else getattr(key, "created_by", None)
    label = actor.email if isinstance(actor, User) else str(actor)
    task.resolved_at = timezone.now()
    task.resolved_by = label[:254]
    task.save(update_fields=["resolved_at", "resolved_by"])
    audit_record(
        action="failed_task.resolved",
        actor=user,
        actor_label=label,
        target=task,
        detail={"task": task.task_name, "error": task.error[:120]},
        ip_address=ip_address,
    )
    return task


@transaction.atomic
def platform_failed_task_resolve(
    *, failed_task: FailedTask, actor: str, ip_address: str | None = None
) -> FailedTask:
    """The same for the platform's own background work (public schema), recorded in the
    operators' audit trail."""
    from tenants.audit import audit_record

    if connection.schema_name != settings.PUBLIC_SCHEMA_NAME:
        raise RuntimeError("Platform failed tasks live in the public schema.")
    task = _locked(failed_task)
    if task.resolved_at is not None:
        return task
    task.resolved_at = timezone.now()
    task.resolved_by = actor[:254]
    task.save(update_fields=["resolved_at", "resolved_by"])
    audit_record(
        actor=actor,
        action="failed_task.resolved",
        detail={"id": task.pk, "task": task.task_name, "error": task.error[:120]},
        ip_address=ip_address,
    )
    return task
