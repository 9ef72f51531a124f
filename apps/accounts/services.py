"""Writes on accounts. Each function runs in the caller's current schema."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from .models import LoginHandoff, User

HANDOFF_LIFETIME = timedelta(seconds=60)


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@transaction.atomic
def user_create(
    *, email: str, password: str | None, full_name: str = "", is_superuser: bool = False
) -> User:
    """Create a user in the current schema. A None password leaves the account unusable
    until a password is set (e.g. through a reset link)."""
    user = User.objects.create_user(
        email=email, password=password, full_name=full_name, is_superuser=is_superuser
    )
    if password is None:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    return user


@transaction.atomic
def login_handoff_create(*, user: User) -> str:
    """Return a fresh one-time token for `user`; only its hash is kept."""
    token = secrets.token_urlsafe(32)
    LoginHandoff.objects.create(
        token_hash=_hash_token(token), user=user, expires_at=timezone.now() + HANDOFF_LIFETIME
    )
    return token


@transaction.atomic
def login_handoff_redeem(*, token: str) -> User | None:
    """Consume a hand-off token. Returns its user, or None if the token is unknown, expired
    or already used; a token can succeed at most once, even under concurrent requests."""
    handoff = (
        LoginHandoff.objects.select_for_update()
        .select_related("user")
        .filter(token_hash=_hash_token(token), used_at__isnull=True)
        .first()
    )
    if handoff is None or handoff.expires_at < timezone.now() or not handoff.user.is_active:
        return None
    handoff.used_at = timezone.now()
    handoff.save(update_fields=["used_at"])
    return handoff.user
