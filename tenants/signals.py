"""Any change to who serves which host invalidates every process's routing table."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from .models import Domain, Tenant
from .routing import host_table


@receiver([post_save, post_delete], sender=Tenant)
@receiver([post_save, post_delete], sender=Domain)
def _routing_changed(sender: type, **kwargs: Any) -> None:
    # Clear now (this process may read the new row inside the transaction) and again once
    # committed, so no process caches the row from before the commit.
    host_table.invalidate()
    transaction.on_commit(host_table.invalidate)
