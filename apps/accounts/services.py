"""Writes on accounts. Each function runs in the caller's current schema."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from .models import LoginHandoff, User
from .roles import Role, group_name

HANDOFF_LIFETIME = timedelta(seconds=60)


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@transaction.atomic
def user_create(
    *,
    email: str,
    password: str | None = None,
    password_hash: str | None = None,
    full_name: str = "",
    is_superuser: bool = False,
) -> User:
    """Create a user in the current schema. Pass `password`, or `password_hash` made earlier
    with make_password (so slow hashing can happen outside a caller's transaction); with
    neither, the account cannot sign in until a password is set."""
    user = User(
        email=User.objects.normalize_email(email).lower(),
        full_name=full_name,
        is_superuser=is_superuser,
    )
    if password_hash is not None:
        user.password = password_hash
    else:
        user.set_password(password)  # None gives an unusable password
    user.save()
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


@transaction.atomic
def user_set_role(*, user: User, role: Role | str) -> User:
    """Put `user` in exactly one role group."""
    from django.contrib.auth.models import Group

    role_groups = Group.objects.filter(name__in=[group_name(r) for r in Role])
    user.groups.remove(*role_groups)
    user.groups.add(Group.objects.get(name=group_name(role)))
    return user
