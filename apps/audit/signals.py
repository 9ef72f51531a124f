"""Sign-ins and failed sign-ins inside an organisation go to its own audit log."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.dispatch import receiver
from django.http import HttpRequest
from django_tenants.utils import get_public_schema_name

from apps.core.ratelimit import client_ip
from tenants.db import connection

from .services import audit_record


def _in_tenant() -> bool:
    return connection.schema_name != get_public_schema_name()


@receiver(user_logged_in)
def _signed_in(sender: type, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    if _in_tenant():
        audit_record(
            action="user.signed_in", actor=user, ip_address=client_ip(request) if request else None
        )


@receiver(user_login_failed)
def _sign_in_failed(
    sender: type, credentials: dict[str, Any], request: HttpRequest | None = None, **kwargs: Any
) -> None:
    if _in_tenant():
        audit_record(
            action="user.sign_in_failed",
            actor_label=str(credentials.get("username", ""))[:254] or "unknown",
            ip_address=client_ip(request) if request else None,
        )
