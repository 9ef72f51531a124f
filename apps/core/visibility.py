"""Who may see and change which record: the one place the rules live.

- Owners, Admins and Read-only users see every record; Read-only never changes anything.
- Everyone else sees what they own and what was shared with them (directly, or with a team
  they belong to); a Manager also sees and changes the records of the teams they manage.
- Sharing grants "view" or "edit" (guardian object permissions). Editing never includes
  deleting: only the owner, their team's manager, Admins and Owners delete.
- All of it within the role's model permissions (Settings → Roles): a role without
  "delete company" deletes no company, whatever it owns.

Every list, detail, search, export, report, kanban and calendar reaches records through
`visible()` so that none of them can disagree.
"""

from __future__ import annotations

from typing import Any, TypeVar

from django.db import models
from django.db.models import Q, QuerySet

from apps.accounts.models import User
from apps.accounts.roles import Role

Record = TypeVar("Record", bound=models.Model)

SEE_ALL = frozenset({Role.OWNER, Role.ADMIN, Role.READONLY})
CHANGE_ALL = frozenset({Role.OWNER, Role.ADMIN})


def _role(user: Any) -> Role | None:
    return getattr(user, "role", None)


def _may(user: Any, action: str, model: type[models.Model]) -> bool:
    """The role's model permission (adjustable by Admins in Settings → Roles); the Owner
    role always has every permission."""
    if _role(user) == Role.OWNER:
        return True
    return bool(user.has_perm(f"{model._meta.app_label}.{action}_{model._meta.model_name}"))


def _perm_models(model: type[models.Model]) -> tuple[Any, Any]:
    user_model = model._meta.get_field(f"{model._meta.model_name}userobjectpermission")
    group_model = model._meta.get_field(f"{model._meta.model_name}groupobjectpermission")
    return user_model.related_model, group_model.related_model


def _shared_ids(model: type[models.Model], user: Any, codenames: list[str]) -> Q:
    user_perms, group_perms = _perm_models(model)
    direct = user_perms.objects.filter(user_id=user.pk, permission__codename__in=codenames)
    via_team = group_perms.objects.filter(group__user=user.pk, permission__codename__in=codenames)
    return Q(pk__in=direct.values("content_object_id")) | Q(
        pk__in=via_team.values("content_object_id")
    )


def _managed_owner_ids(user: Any) -> Any:  # a values("pk") subquery
    return User.objects.filter(teams__manager_id=user.pk).values("pk")


# `eager` visibility reads the shared ids first when there are at most this many.
EAGER_SHARED_MAX = 5000


def visible(queryset: QuerySet[Record], user: Any, *, eager: bool = False) -> QuerySet[Record]:
    """`queryset` narrowed to the records `user` may see (a key acts with its role).

    `eager` (for aggregates over big tables, such as reports) reads the viewer's managed
    members and shared record ids first, so the filter becomes `owner IN (...) OR id IN
    (...)`, which PostgreSQL answers from the owner and primary-key indexes; the same rule,
    where subqueries in an OR would make it read every row."""
    model = queryset.model
    role = _role(user)
    if user is None or not _may(user, "view", model):
        return queryset.none()
    if getattr(user, "is_superuser", False) or role in SEE_ALL:
        return queryset
    if user.pk is None:
        return queryset.none()
    name = model._meta.model_name
    shared = _shared_ids(model, user, [f"view_{name}", f"change_{name}"])
    if eager:
        owners = {user.pk}
        if role == Role.MANAGER:
            owners |= set(_managed_owner_ids(user).values_list("pk", flat=True))
        ids = _shared_id_list(model, user, [f"view_{name}", f"change_{name}"])
        rule = Q(owner_id__in=sorted(owners))
        if ids is None:
            rule |= shared
        elif ids:
            rule |= Q(pk__in=ids)
        return queryset.filter(rule)
    rule = Q(owner_id=user.pk) | shared
    if role == Role.MANAGER:
        rule |= Q(owner_id__in=_managed_owner_ids(user))
    return queryset.filter(rule)


def _shared_id_list(model: type[models.Model], user: Any, codenames: list[str]) -> list[Any] | None:
    """The ids of the records shared with `user` (directly or through a team), or None when
    there are more than EAGER_SHARED_MAX of them."""
    user_perms, group_perms = _perm_models(model)
    direct = user_perms.objects.filter(user_id=user.pk, permission__codename__in=codenames)
    via_team = group_perms.objects.filter(group__user=user.pk, permission__codename__in=codenames)
    ids = set(direct.values_list("content_object_id", flat=True)[: EAGER_SHARED_MAX + 1])
    ids |= set(via_team.values_list("content_object_id", flat=True)[: EAGER_SHARED_MAX + 1])
    return sorted(ids) if len(ids) <= EAGER_SHARED_MAX else None


def _owns_or_manages(user: Any, record: Any) -> bool:
    if record.owner_id == user.pk:
        return True
    return (
        _role(user) == Role.MANAGER
        and User.objects.filter(pk=record.owner_id, teams__manager_id=user.pk).exists()
    )


def can_create(user: Any, model: type[models.Model]) -> bool:
    if _role(user) == Role.READONLY:
        return False
    return _may(user, "add", model)


def can_change(user: Any, record: Any) -> bool:
    role = _role(user)
    if role == Role.READONLY or not _may(user, "change", type(record)):
        return False
    if getattr(user, "is_superuser", False) or role in CHANGE_ALL:
        return True
    if user.pk is None:
        return False
    if _owns_or_manages(user, record):
        return True
    model = type(record)
    return model.objects.filter(
        _shared_ids(model, user, [f"change_{model._meta.model_name}"]), pk=record.pk
    ).exists()


def changeable_ids(user: Any, records: list[Any]) -> set[int]:
    """Which of `records` (all of one model) `user` may change, in at most two queries rather
    than one per record: the rule of `can_change`, for a board's or a calendar's cards."""
    if not records:
        return set()
    model = type(records[0])
    role = _role(user)
    if role == Role.READONLY or not _may(user, "change", model):
        return set()
    ids = [r.pk for r in records]
    if getattr(user, "is_superuser", False) or role in CHANGE_ALL:
        return set(ids)
    if user.pk is None:
        return set()
    owners = {user.pk}
    if role == Role.MANAGER:
        owners |= set(_managed_owner_ids(user).values_list("pk", flat=True))
    mine = {r.pk for r in records if r.owner_id in owners}
    rest = [pk for pk in ids if pk not in mine]
    if rest:
        name = model._meta.model_name
        shared = model._default_manager.filter(
            _shared_ids(model, user, [f"change_{name}"]), pk__in=rest
        ).values_list("pk", flat=True)
        mine |= set(shared)
    return mine


def can_delete(user: Any, record: Any) -> bool:
    role = _role(user)
    if role == Role.READONLY or not _may(user, "delete", type(record)):
        return False
    if getattr(user, "is_superuser", False) or role in CHANGE_ALL:
        return True
    return user.pk is not None and _owns_or_manages(user, record)
