"""The five roles. Each is a group in the organisation's schema; a user's role is the group
they belong to (the highest, if several)."""

from __future__ import annotations

from django.db import models


class Role(models.TextChoices):
    OWNER = "owner", "Owner"
    ADMIN = "admin", "Admin"
    MANAGER = "manager", "Manager"
    REP = "rep", "Sales rep"
    READONLY = "readonly", "Read-only"


# Highest first: a user in several role groups acts with the highest.
ROLE_ORDER: tuple[Role, ...] = (Role.OWNER, Role.ADMIN, Role.MANAGER, Role.REP, Role.READONLY)
ADMIN_ROLES = frozenset({Role.OWNER, Role.ADMIN})


def group_name(role: Role | str) -> str:
    """Groups are named by the role's label, as Admins see them."""
    return str(Role(role).label)


def role_of_groups(group_names: set[str]) -> Role | None:
    for role in ROLE_ORDER:
        if group_name(role) in group_names:
            return role
    return None


# Apps whose model permissions Admins adjust per role in Settings → Roles; each CRM app
# adds its label here as it arrives.
ROLE_MANAGED_APPS: tuple[str, ...] = (
    "accounts",
    "apikeys",
    "audit",
    "companies",
    "contacts",
    "deals",
    "leads",
    "activities",
)
