"""After a write through the ORM to what reports read commits, the organisation's cached
reports are stale (see cache.py)."""

from __future__ import annotations

from typing import Any

from django.db import connection
from django.db.models.signals import m2m_changed, post_delete, post_save


def _changed(sender: Any, **kwargs: Any) -> None:
    if getattr(connection, "schema_name", "public") == "public":
        return
    if kwargs.get("update_fields") and set(kwargs["update_fields"]) <= {"last_login"}:
        return  # a sign-in changes no figure
    from .cache import reports_changed

    reports_changed()


def connect() -> None:
    from django.contrib.auth.models import Group

    from apps.accounts.models import Team, User
    from apps.activities.models import (
        Activity,
        ActivityGroupObjectPermission,
        ActivityUserObjectPermission,
    )
    from apps.deals.models import (
        Deal,
        DealGroupObjectPermission,
        DealStageChange,
        DealUserObjectPermission,
        LostReason,
        Pipeline,
        Stage,
    )
    from apps.leads.models import (
        Lead,
        LeadGroupObjectPermission,
        LeadSource,
        LeadUserObjectPermission,
    )

    from .models import ExchangeRate, ReportingSettings

    for model in (
        Deal,
        DealStageChange,
        Stage,
        Pipeline,
        LostReason,
        Lead,
        LeadSource,
        Activity,
        Team,
        User,
        # Shares change what a viewer's reports count.
        DealUserObjectPermission,
        DealGroupObjectPermission,
        LeadUserObjectPermission,
        LeadGroupObjectPermission,
        ActivityUserObjectPermission,
        ActivityGroupObjectPermission,
        ExchangeRate,
        ReportingSettings,
    ):
        post_save.connect(_changed, sender=model, dispatch_uid=f"reports-{model.__name__}-save")
        post_delete.connect(_changed, sender=model, dispatch_uid=f"reports-{model.__name__}-del")
    m2m_changed.connect(_changed, sender=Team.members.through, dispatch_uid="reports-team-members")
    m2m_changed.connect(_changed, sender=User.groups.through, dispatch_uid="reports-user-groups")
    # A role's permissions (Settings -> Roles) decide whether its members see deals at all.
    m2m_changed.connect(
        _changed, sender=Group.permissions.through, dispatch_uid="reports-role-permissions"
    )
    m2m_changed.connect(
        _changed, sender=User.user_permissions.through, dispatch_uid="reports-user-permissions"
    )
