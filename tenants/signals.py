"""Routing-cache invalidation on tenant/domain changes, and the operators' sign-in audit."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.http import HttpRequest
from django_tenants.utils import get_public_schema_name

from apps.core.ratelimit import client_ip

from .audit import audit_record
from .db import connection
from .models import Domain, Tenant
from .routing import host_table


@receiver([post_save, post_delete], sender=Tenant)
@receiver([post_save, post_delete], sender=Domain)
def _routing_changed(sender: type, **kwargs: Any) -> None:
    # Clear now (this process may read the new row inside the transaction) and again once
    # committed, so no process caches the row from before the commit.
    host_table.invalidate()
    transaction.on_commit(host_table.invalidate)


@receiver(user_logged_in)
def _operator_signed_in(
    sender: type, request: HttpRequest | None, user: Any, **kwargs: Any
) -> None:
    if connection.schema_name == get_public_schema_name():
        audit_record(
            actor=user.email,
            action="operator.signed_in",
            ip_address=client_ip(request) if request else None,
        )


@receiver(user_login_failed)
def _operator_sign_in_failed(
    sender: type, credentials: dict[str, Any], request: HttpRequest | None = None, **kwargs: Any
) -> None:
    if connection.schema_name == get_public_schema_name():
        audit_record(
            actor=str(credentials.get("username", ""))[:254],
            action="operator.sign_in_failed",
            ip_address=client_ip(request) if request else None,
        )
