"""The platform's audit trail of actions on organisations."""

from __future__ import annotations

from typing import Any

from .models import AuditEvent


def audit_record(
    *,
    actor: str,
    action: str,
    tenant_slug: str = "",
    detail: dict[str, Any] | None = None,
    ip_address: str | None = None,
) -> AuditEvent:
    """Append one event. Call it inside the transaction of the change it describes, so an
    action is logged if and only if it happened."""
    return AuditEvent.objects.create(
        actor=actor or "system",
        action=action,
        tenant_slug=tenant_slug,
        detail=detail or {},
        ip_address=ip_address,
    )
