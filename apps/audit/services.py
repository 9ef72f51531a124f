"""Writing the organisation's audit log. Call inside the transaction of the change it
records, so an entry exists if and only if the change happened."""

from __future__ import annotations

from typing import Any

from django.db import models

from apps.accounts.models import User

from .models import AuditEntry


def audit_record(
    *,
    action: str,
    actor: User | None = None,
    actor_label: str = "",
    target: models.Model | None = None,
    detail: dict[str, Any] | None = None,
    ip_address: str | None = None,
) -> AuditEntry:
    return AuditEntry.objects.create(
        action=action,
        actor=actor if actor is not None and actor.pk else None,
        actor_label=actor_label or (actor.email if actor is not None else "system"),
        target_type=target._meta.label_lower if target is not None else "",
        target_id=str(target.pk) if target is not None else "",
        detail=detail or {},
        ip_address=ip_address,
    )
