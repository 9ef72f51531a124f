from __future__ import annotations

from django.db.models import Q, QuerySet

from .models import AuditEntry


def audit_entry_list(*, action: str = "", search: str = "") -> QuerySet[AuditEntry]:
    """The organisation's audit log, newest first. Only Admins and Owners may call this
    (the views check); entries are never hidden from them."""
    entries = AuditEntry.objects.select_related("actor")
    if action:
        entries = entries.filter(action=action)
    if search:
        entries = entries.filter(Q(actor_label__icontains=search) | Q(target_id=search))
    return entries


def audit_actions() -> list[str]:
    return list(AuditEntry.objects.order_by().values_list("action", flat=True).distinct())
