"""Issuing, checking and revoking API keys. Every change is audit-logged."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from apps.accounts.models import User
from apps.accounts.roles import Role
from apps.audit.services import audit_record

from .models import ApiKey
from .scopes import parse_scopes

KEY_PREFIX = "kst"
# Recording every use would turn each API read into a write; once a minute is plenty.
LAST_USED_RESOLUTION = timedelta(minutes=1)


@dataclass(frozen=True)
class IssuedKey:
    key: ApiKey
    secret: str  # the full key, shown once; never stored


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@transaction.atomic
def api_key_create(
    *,
    name: str,
    role: Role | str = Role.ADMIN,
    scopes: list[str] | str = (),  # type: ignore[assignment]
    expires_at: datetime | None = None,
    created_by: User | None = None,
    ip_address: str | None = None,
) -> IssuedKey:
    """Issue a key. The returned secret is the only copy; the database keeps its hash."""
    from django.core.exceptions import ValidationError

    name = name.strip()
    if not name:
        raise ValidationError(
            "Give the key a name, e.g. the system that will use it.", code="name_required"
        )
    if role not in Role.values:
        raise ValidationError(
            f'Unknown role "{role}"; use one of {", ".join(Role.values)}.', code="role_unknown"
        )
    if expires_at is not None and expires_at <= timezone.now():
        raise ValidationError("The expiry must be in the future.", code="expiry_past")
    prefix = secrets.token_hex(4)
    secret = secrets.token_urlsafe(32)
    key = ApiKey.objects.create(
        name=name,
        prefix=prefix,
        secret_hash=_hash(secret),
        role=role,
        scopes=parse_scopes(scopes),
        expires_at=expires_at,
        created_by=created_by,
    )
    audit_record(
        action="api_key.created",
        actor=created_by,
        actor_label="" if created_by else "cli",
        target=key,
        detail={"name": name, "role": str(role), "scopes": key.scopes, "prefix": prefix},
        ip_address=ip_address,
    )
    return IssuedKey(key=key, secret=f"{KEY_PREFIX}_{prefix}_{secret}")


@transaction.atomic
def api_key_revoke(*, key: ApiKey, actor: User | None, ip_address: str | None = None) -> ApiKey:
    """Refused from its very next request on."""
    if key.revoked_at is None:
        key.revoked_at = timezone.now()
        key.save(update_fields=["revoked_at"])
        audit_record(
            action="api_key.revoked",
            actor=actor,
            target=key,
            detail={"name": key.name, "prefix": key.prefix},
            ip_address=ip_address,
        )
    return key


def api_key_authenticate(*, token: str) -> ApiKey | None:
    """The active key `token` names in the current schema, or None. Constant-time compare;
    records the use at most once a minute."""
    parts = token.split("_", 2)  # the secret itself may contain "_"
    if len(parts) != 3 or parts[0] != KEY_PREFIX:
        return None
    key = ApiKey.objects.filter(prefix=parts[1]).select_related("created_by").first()
    if key is None or not hmac.compare_digest(key.secret_hash, _hash(parts[2])):
        return None
    if not key.is_active:
        return None
    now = timezone.now()
    if key.last_used_at is None or now - key.last_used_at >= LAST_USED_RESOLUTION:
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
        key.last_used_at = now
    return key
