"""Writes on companies. Each checks the actor may do it (PermissionDenied otherwise), runs in
a transaction and records an audit entry."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from guardian.shortcuts import assign_perm, remove_perm

from apps.accounts.models import Team, User
from apps.audit.services import audit_record
from apps.core import visibility

from .models import Company


def _actor_user(actor: Any) -> User | None:
    key = getattr(actor, "key", None)
    if key is not None:
        return key.created_by
    return actor if isinstance(actor, User) else None


def _label(actor: Any) -> str:
    """Users appear by email (as everywhere in the log); API keys by name and prefix."""
    return "" if isinstance(actor, User) else str(actor)


def _default_owner(actor: Any) -> User:
    user = _actor_user(actor)
    if user is not None:
        return user
    owner = User.objects.filter(groups__name="Owner", is_active=True).order_by("pk").first()
    if owner is None:
        raise ValidationError("Name an owner for the record.", code="owner_required")
    return owner


@transaction.atomic
def company_create(
    *, actor: Any, name: str, domain: str = "", owner: User | None = None
) -> Company:
    if not visibility.can_create(actor, Company):
        raise PermissionDenied("Read-only access cannot create records.")
    name = name.strip()
    if not name:
        raise ValidationError({"name": "A company needs a name."})
    if owner is not None and not owner.is_active:
        raise ValidationError({"owner": "The owner must be an active member."})
    company = Company.objects.create(
        name=name, domain=domain.strip().lower(), owner=owner or _default_owner(actor)
    )
    audit_record(
        action="company.created",
        actor=_actor_user(actor),
        target=company,
        actor_label=_label(actor),
    )
    return company


@transaction.atomic
def company_update(*, actor: Any, company: Company, **fields: Any) -> Company:
    if not visibility.can_change(actor, company):
        raise PermissionDenied("You may not change this company.")
    changed = []
    for field in ("name", "domain", "owner"):
        if field in fields and fields[field] is not None:
            setattr(company, field, fields[field])
            changed.append(field)
    company.full_clean()
    company.save(update_fields=[*changed, "updated_at"])
    audit_record(
        action="company.changed",
        actor=_actor_user(actor),
        target=company,
        actor_label=_label(actor),
        detail={"fields": changed},
    )
    return company


@transaction.atomic
def company_delete(*, actor: Any, company: Company) -> None:
    if not visibility.can_delete(actor, company):
        raise PermissionDenied("Only the owner, their manager or an Admin may delete this.")
    audit_record(
        action="company.deleted",
        actor=_actor_user(actor),
        target=company,
        actor_label=_label(actor),
        detail={"name": company.name},
    )
    company.delete()


@transaction.atomic
def company_share(
    *, actor: Any, company: Company, level: str, user: User | None = None, team: Team | None = None
) -> None:
    """Share with a user or a team, to view or to edit (replacing an earlier share)."""
    if not visibility.can_change(actor, company):
        raise PermissionDenied("You may not share this company.")
    if level not in ("view", "edit") or (user is None) == (team is None):
        raise ValidationError("Share with one user or one team, to view or to edit.")
    target: Any = user if user is not None else team.group  # type: ignore[union-attr]
    for codename in ("view_company", "change_company"):
        remove_perm(f"companies.{codename}", target, company)
    assign_perm("companies.view_company", target, company)
    if level == "edit":
        assign_perm("companies.change_company", target, company)
    audit_record(
        action="record.shared",
        actor=_actor_user(actor),
        target=company,
        actor_label=_label(actor),
        detail={
            "with": user.email if user else f"team {team.name}",  # type: ignore[union-attr]
            "level": level,
        },
    )
