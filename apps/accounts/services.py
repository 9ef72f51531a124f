"""Writes on accounts. Each function runs in the caller's current schema."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone

from .models import Invitation, LoginHandoff, Team, User
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


INVITATION_LIFETIME = timedelta(days=7)


@dataclass(frozen=True)
class IssuedInvitation:
    invitation: Invitation
    token: str  # only in the email (and shown once to the inviter); never stored


def _admins_left_after(user: User, *, new_role: Role | None) -> int:
    """How many active Owners would remain if `user` changed to `new_role` (None: left)."""
    owners = User.objects.filter(is_active=True, groups__name=group_name(Role.OWNER)).distinct()
    remaining = owners.exclude(pk=user.pk).count()
    return remaining + (1 if new_role == Role.OWNER else 0)


@transaction.atomic
def invitation_create(
    *, email: str, role: Role | str, invited_by: User | None, ip_address: str | None = None
) -> IssuedInvitation:
    """Invite `email` with `role`; refuses addresses that already belong to a member."""
    from apps.audit.services import audit_record

    email = User.objects.normalize_email(email).strip().lower()
    validate_email(email)
    if role not in Role.values:
        raise ValidationError(f'Unknown role "{role}".', code="role_unknown")
    if User.objects.filter(email=email).exists():
        raise ValidationError(
            f"{email} is already a member of this organisation.", code="already_member"
        )
    # A fresh invitation replaces any earlier one still pending for the same address.
    Invitation.objects.filter(
        email=email, accepted_at__isnull=True, revoked_at__isnull=True
    ).update(revoked_at=timezone.now())
    token = secrets.token_urlsafe(32)
    invitation = Invitation.objects.create(
        email=email,
        role=role,
        token_hash=_hash_token(token),
        invited_by=invited_by,
        expires_at=timezone.now() + INVITATION_LIFETIME,
    )
    audit_record(
        action="user.invited",
        actor=invited_by,
        target=invitation,
        detail={"email": email, "role": str(role)},
        ip_address=ip_address,
    )
    return IssuedInvitation(invitation=invitation, token=token)


def invitation_for_token(token: str) -> Invitation | None:
    invitation = Invitation.objects.filter(token_hash=_hash_token(token)).first()
    return invitation if invitation is not None and invitation.is_pending else None


@transaction.atomic
def invitation_accept(*, token: str, full_name: str, password: str) -> User:
    """Create the invitee's account with the invited role. Works once."""
    from apps.audit.services import audit_record

    invitation = (
        Invitation.objects.select_for_update().filter(token_hash=_hash_token(token)).first()
    )
    if invitation is None or not invitation.is_pending:
        raise ValidationError(
            "This invitation has expired or was already used.", code="invitation_invalid"
        )
    if User.objects.filter(email=invitation.email).exists():
        raise ValidationError(f"{invitation.email} is already a member.", code="already_member")
    user = user_create(email=invitation.email, password=password, full_name=full_name)
    user_set_role(user=user, role=invitation.role)
    invitation.accepted_at = timezone.now()
    invitation.save(update_fields=["accepted_at"])
    audit_record(
        action="user.joined",
        actor=user,
        target=user,
        detail={"role": invitation.role, "invited_by": invitation.invited_by_id},
    )
    return user


@transaction.atomic
def invitation_revoke(*, invitation: Invitation, actor: User | None) -> None:
    from apps.audit.services import audit_record

    if invitation.revoked_at is None and invitation.accepted_at is None:
        invitation.revoked_at = timezone.now()
        invitation.save(update_fields=["revoked_at"])
        audit_record(
            action="user.invitation_revoked",
            actor=actor,
            target=invitation,
            detail={"email": invitation.email},
        )


@transaction.atomic
def user_change_role(
    *, user: User, role: Role | str, actor: User | None, ip_address: str | None = None
) -> User:
    """Change a member's role; the organisation always keeps at least one active Owner."""
    from apps.audit.services import audit_record

    old = user.role
    if role not in Role.values:
        raise ValidationError(f'Unknown role "{role}".', code="role_unknown")
    if (
        old == Role.OWNER
        and role != Role.OWNER
        and _admins_left_after(user, new_role=Role(role)) == 0
    ):
        raise ValidationError(
            "The organisation needs at least one Owner; make someone else Owner first.",
            code="last_owner",
        )
    user_set_role(user=user, role=role)
    audit_record(
        action="user.role_changed",
        actor=actor,
        target=user,
        detail={"email": user.email, "from": str(old) if old else None, "to": str(role)},
        ip_address=ip_address,
    )
    return user


@transaction.atomic
def user_set_active(
    *, user: User, active: bool, actor: User | None, ip_address: str | None = None
) -> User:
    """Deactivate (they can no longer sign in; their records stay) or reactivate a member."""
    from apps.audit.services import audit_record

    if not active and actor is not None and user.pk == actor.pk:
        raise ValidationError("You cannot deactivate yourself.", code="self_deactivation")
    if not active and user.role == Role.OWNER and _admins_left_after(user, new_role=None) == 0:
        raise ValidationError("The last active Owner cannot be deactivated.", code="last_owner")
    user.is_active = active
    user.save(update_fields=["is_active"])
    audit_record(
        action="user.reactivated" if active else "user.deactivated",
        actor=actor,
        target=user,
        detail={"email": user.email},
        ip_address=ip_address,
    )
    return user


@transaction.atomic
def team_create(*, name: str, manager: User | None, actor: User | None) -> Team:
    from apps.audit.services import audit_record

    name = name.strip()
    if not name:
        raise ValidationError("The team needs a name.", code="name_required")
    if Team.objects.filter(name__iexact=name).exists():
        raise ValidationError(f'There is already a team called "{name}".', code="team_exists")
    from django.contrib.auth.models import Group

    team = Team.objects.create(name=name, manager=manager)
    team.group = Group.objects.create(name=f"team:{team.pk}")
    team.save(update_fields=["group"])
    if manager is not None:
        team.members.add(manager)
        team.group.user_set.add(manager)
    audit_record(
        action="team.created",
        actor=actor,
        target=team,
        detail={"name": name, "manager": manager.email if manager else None},
    )
    return team


@transaction.atomic
def team_update(
    *, team: Team, manager: User | None, members: list[User], actor: User | None
) -> Team:
    """Set the team's manager and members (the manager is always a member)."""
    from apps.audit.services import audit_record

    before = {m.email for m in team.members.all()}
    wanted = {*members, *([manager] if manager else [])}
    team.manager = manager
    team.save(update_fields=["manager"])
    team.members.set(wanted)
    if team.group is not None:
        team.group.user_set.set(wanted)
    after = {m.email for m in wanted}
    audit_record(
        action="team.changed",
        actor=actor,
        target=team,
        detail={
            "manager": manager.email if manager else None,
            "added": sorted(after - before),
            "removed": sorted(before - after),
        },
    )
    return team


@transaction.atomic
def team_delete(*, team: Team, actor: User | None) -> None:
    from apps.audit.services import audit_record

    audit_record(action="team.deleted", actor=actor, target=team, detail={"name": team.name})
    group = team.group
    team.delete()
    if group is not None:
        group.delete()  # and with it every share made with the team


@transaction.atomic
def role_set_permissions(
    *, role: Role | str, permission_ids: set[int], actor: User | None, ip_address: str | None = None
) -> None:
    """Replace the role's model permissions within the adjustable apps. The Owner role always
    holds every permission and cannot be changed."""
    from django.contrib.auth.models import Group, Permission

    from apps.audit.services import audit_record

    from .roles import ROLE_MANAGED_APPS

    if role == Role.OWNER:
        raise ValidationError("The Owner role always has every permission.", code="owner_fixed")
    group = Group.objects.get(name=group_name(role))
    managed = Permission.objects.filter(content_type__app_label__in=ROLE_MANAGED_APPS)
    before = set(group.permissions.filter(pk__in=managed).values_list("codename", flat=True))
    wanted = managed.filter(pk__in=permission_ids)
    group.permissions.remove(*managed.exclude(pk__in=permission_ids))
    group.permissions.add(*wanted)
    after = set(wanted.values_list("codename", flat=True))
    if before != after:
        audit_record(
            action="role.permissions_changed",
            actor=actor,
            detail={
                "role": str(role),
                "added": sorted(after - before),
                "removed": sorted(before - after),
            },
            ip_address=ip_address,
        )


@transaction.atomic
def user_reassign_records(
    *, from_user: User, to_user: User, actor: User | None, ip_address: str | None = None
) -> dict[str, int]:
    """Give every record `from_user` owns to `to_user` in one action (e.g. when someone
    leaves). Returns how many of each type moved."""
    from django.apps import apps as django_apps

    from apps.audit.services import audit_record

    if from_user.pk == to_user.pk:
        raise ValidationError("Choose someone else to receive the records.", code="same_user")
    if not to_user.is_active:
        raise ValidationError(
            f"{to_user} is deactivated; choose an active member.", code="inactive_target"
        )
    moved: dict[str, int] = {}
    for model in django_apps.get_models():
        names = {f.name for f in model._meta.fields}
        if "history_id" in names:  # history tables record who owned it then; never rewritten
            continue
        owner = next((f for f in model._meta.fields if f.name == "owner"), None)
        if (
            owner is not None
            and owner.related_model is User
            and model._meta.label_lower != ("records.savedview")
        ):
            # The base manager also moves records hidden by a merge that may yet be undone.
            count = model._base_manager.filter(owner=from_user).update(owner=to_user)
            if count:
                moved[model._meta.label_lower] = count
    audit_record(
        action="user.records_reassigned",
        actor=actor,
        target=from_user,
        detail={"from": from_user.email, "to": to_user.email, "moved": moved},
        ip_address=ip_address,
    )
    if moved:
        from apps.notifications.services import notify

        total = sum(moved.values())
        labels = {
            label: (meta.verbose_name, meta.verbose_name_plural)
            for label, meta in ((label, django_apps.get_model(label)._meta) for label in moved)
        }
        kinds = ", ".join(
            f"{count} {labels[label][0] if count == 1 else labels[label][1]}"
            for label, count in sorted(moved.items())
        )
        notify(
            recipient=to_user,
            kind="assignment",
            title=f"You were given {total} records of {from_user.get_full_name()}",
            body=kinds,
            actor=actor,
        )
    return moved
