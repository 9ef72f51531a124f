"""Writes on what records share: custom field definitions, tags, saved views and notes. Each
checks the actor may do it, runs in a transaction and records an audit entry."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models, transaction
from guardian.shortcuts import assign_perm, remove_perm

from apps.accounts.models import User
from apps.accounts.roles import ADMIN_ROLES, Role
from apps.audit.services import audit_record
from apps.core import visibility
from apps.core.ordering import next_order

from . import customfields, timeline
from .models import CustomField, FieldType, SavedView, Tag, TimelineKind

COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")
SELECT_TYPES = (FieldType.SELECT, FieldType.MULTI_SELECT)


def actor_user(actor: Any) -> User | None:
    key = getattr(actor, "key", None)
    if key is not None:
        return key.created_by
    return actor if isinstance(actor, User) else None


def actor_label(actor: Any) -> str:
    return "" if isinstance(actor, User) else str(actor)


def default_owner(actor: Any) -> User:
    """Who owns a record created without an owner: the acting person (for a key, the person
    who made it), else the organisation's first Owner."""
    user = actor_user(actor)
    if user is not None:
        return user
    owner = User.objects.filter(groups__name="Owner", is_active=True).order_by("pk").first()
    if owner is None:  # pragma: no cover - every organisation has an owner
        raise ValidationError("Name an owner for the record.", code="owner_required")
    return owner


@transaction.atomic
def record_share(
    *, actor: Any, record: Any, level: str, user: User | None = None, team: Any = None
) -> None:
    """Share a record with a user or a team, to view or to edit (replacing an earlier share
    with the same person or team)."""
    if not visibility.can_change(actor, record):
        raise PermissionDenied(f"You may not share this {record._meta.verbose_name}.")
    if level not in ("view", "edit") or (user is None) == (team is None):
        raise ValidationError("Share with one user or one team, to view or to edit.")
    target: Any = user if user is not None else team.group
    app, name = record._meta.app_label, record._meta.model_name
    for codename in (f"view_{name}", f"change_{name}"):
        remove_perm(f"{app}.{codename}", target, record)
    assign_perm(f"{app}.view_{name}", target, record)
    if level == "edit":
        assign_perm(f"{app}.change_{name}", target, record)
    _audit(
        actor,
        "record.shared",
        record,
        **{"with": user.email if user else f"team {team.name}", "level": level},
    )


def _require_admin(actor: Any, what: str) -> None:
    if getattr(actor, "role", None) not in ADMIN_ROLES:
        raise PermissionDenied(f"Only Admins may {what}.")


def _audit(actor: Any, action: str, target: models.Model | None, **detail: Any) -> None:
    audit_record(
        action=action,
        actor=actor_user(actor),
        actor_label=actor_label(actor),
        target=target,
        detail=detail,
    )


# Custom field definitions ---------------------------------------------------------------


def _clean_options(field_type: str, options: Iterable[str] | None) -> list[str]:
    cleaned: list[str] = []
    for option in options or []:
        text = str(option).strip()
        if text and text.lower() not in (o.lower() for o in cleaned):
            cleaned.append(text)
    if field_type in SELECT_TYPES and not cleaned:
        raise ValidationError({"options": "A select field needs at least one option."})
    return cleaned if field_type in SELECT_TYPES else []


def _stored_values(field: CustomField) -> list[Any]:
    from . import registry

    model = registry.get(field.entity).model
    manager = getattr(model, "all_objects", model._default_manager)
    return list(
        manager.filter(custom_fields__has_key=field.key).values_list(
            f"custom_fields__{field.key}", flat=True
        )
    )


@transaction.atomic
def customfield_create(
    *,
    actor: Any,
    entity: str,
    label: str,
    type: str,
    key: str = "",
    required: bool = False,
    default: Any = None,
    help_text: str = "",
    options: Iterable[str] | None = None,
    order: int | None = None,
) -> CustomField:
    _require_admin(actor, "define custom fields")
    from django.utils.text import slugify

    label = label.strip()
    if not label:
        raise ValidationError({"label": "A custom field needs a label."})
    key = (key or slugify(label).replace("-", "_"))[:50]
    if not re.fullmatch(r"[a-z][a-z0-9_]*", key):
        raise ValidationError(
            {"key": "Keys start with a letter and hold lower-case letters, digits and _."}
        )
    if type not in FieldType.values:
        raise ValidationError({"type": f"Unknown type {type!r}."})
    if CustomField.objects.filter(entity=entity, key=key).exists():
        raise ValidationError({"key": f"There is already a field with key {key!r}."})
    field = CustomField(
        entity=entity,
        key=key,
        label=label,
        type=type,
        required=required,
        help_text=help_text,
        options=_clean_options(type, options),
    )
    if default not in (None, ""):
        try:
            field.default = customfields.validate_value(field, default)
        except ValidationError as exc:
            raise ValidationError({"default": exc.messages}) from None
    field.order = (
        order if order is not None else next_order(CustomField.objects.filter(entity=entity))
    )
    field.full_clean()
    field.save()
    _audit(actor, "customfield.created", field, key=key, entity=entity, type=type)
    return field


@transaction.atomic
def customfield_update(*, actor: Any, field: CustomField, **changes: Any) -> CustomField:
    """Rename, re-order, archive or change a field. A key never changes (values stay keyed by
    it). A type change is refused, naming the values that would not convert."""
    _require_admin(actor, "change custom fields")
    field = CustomField.objects.select_for_update().get(pk=field.pk)
    new_type = changes.pop("type", None)
    if "key" in changes and changes.pop("key") not in (None, field.key):
        raise ValidationError({"key": "A field's key cannot change; rename its label instead."})
    options = changes.pop("options", None)
    if new_type and new_type != field.type:
        if new_type not in FieldType.values:
            raise ValidationError({"type": f"Unknown type {new_type!r}."})
        probe_options = _clean_options(new_type, options if options is not None else field.options)
        probe = CustomField(label=field.label, type=field.type, options=probe_options)
        problems = customfields.conversion_problems(probe, new_type, _stored_values(field))
        if problems:
            raise ValidationError(
                {
                    "type": (
                        f"Cannot change {field.label} to {FieldType(new_type).label}: "
                        f"{len(problems)} stored value(s) would not convert, e.g. {problems[0]}"
                    )
                }
            )
        field.type = new_type
    if options is not None or new_type:
        field.options = _clean_options(
            field.type, options if options is not None else field.options
        )
        if field.type in SELECT_TYPES:
            in_use = {
                item
                for value in _stored_values(field)
                for item in (value if isinstance(value, list) else [value])
            }
            missing = sorted(str(v) for v in in_use if v not in field.options)
            if missing:
                raise ValidationError(
                    {"options": f"Options still in use cannot be removed: {', '.join(missing)}."}
                )
    for name in ("label", "required", "help_text", "order", "archived"):
        if name in changes and changes[name] is not None:
            setattr(field, name, changes[name])
    if "default" in changes:
        default = changes["default"]
        try:
            field.default = (
                None if default in (None, "") else customfields.validate_value(field, default)
            )
        except ValidationError as exc:
            raise ValidationError({"default": exc.messages}) from None
    field.label = field.label.strip()
    if not field.label:
        raise ValidationError({"label": "A custom field needs a label."})
    field.full_clean()
    field.save()
    _audit(actor, "customfield.changed", field, key=field.key, changes=sorted(changes))
    return field


# Tags -------------------------------------------------------------------------------------


def _clean_tag(name: str, color: str | None) -> tuple[str, str | None]:
    name = re.sub(r"\s+", " ", name).strip()
    if not name:
        raise ValidationError({"name": "A tag needs a name."})
    if len(name) > 50:
        raise ValidationError({"name": "Tag names are limited to 50 characters."})
    if color is not None and not COLOR.match(color):
        raise ValidationError({"color": "Colours are written like #1d4ed8."})
    return name, color


@transaction.atomic
def tag_create(*, actor: Any, name: str, color: str | None = None) -> Tag:
    if getattr(actor, "role", None) == Role.READONLY:
        raise PermissionDenied("Read-only access cannot create tags.")
    name, color = _clean_tag(name, color)
    if Tag.objects.filter(name__iexact=name).exists():
        raise ValidationError({"name": f"There is already a tag {name!r}."})
    tag = Tag.objects.create(name=name, color=color or "#64748b")
    _audit(actor, "tag.created", tag, name=name)
    return tag


@transaction.atomic
def tag_update(*, actor: Any, tag: Tag, name: str | None = None, color: str | None = None) -> Tag:
    _require_admin(actor, "rename or recolour tags")
    new_name, color = _clean_tag(name if name is not None else tag.name, color)
    if Tag.objects.filter(name__iexact=new_name).exclude(pk=tag.pk).exists():
        raise ValidationError({"name": f"There is already a tag {new_name!r}."})
    tag.name = new_name
    if color:
        tag.color = color
    tag.save()
    _audit(actor, "tag.changed", tag, name=tag.name)
    return tag


@transaction.atomic
def tag_delete(*, actor: Any, tag: Tag) -> None:
    _require_admin(actor, "delete tags")
    _audit(actor, "tag.deleted", tag, name=tag.name)
    tag.delete()


def tags_resolve(*, actor: Any, names: Iterable[str], create: bool = True) -> list[Tag]:
    """Tags by name (case-insensitive), created on the fly when `create` and allowed."""
    tags = []
    for raw in names:
        name, _ = _clean_tag(str(raw), None)
        tag = Tag.objects.filter(name__iexact=name).first()
        if tag is None:
            if not create:
                raise ValidationError({"tags": f"There is no tag {name!r}."})
            tag = tag_create(actor=actor, name=name)
        tags.append(tag)
    return tags


@transaction.atomic
def tags_bulk_change(
    *, actor: Any, records: Iterable[Any], add: Iterable[str] = (), remove: Iterable[str] = ()
) -> int:
    """Add and remove tags on many records at once; every record must be changeable by the
    actor, or nothing changes. Returns how many records were touched."""
    records = list(records)
    for record in records:
        if not visibility.can_change(actor, record):
            raise PermissionDenied(f"You may not change {record}.")
    to_add = tags_resolve(actor=actor, names=add)
    to_remove = tags_resolve(actor=actor, names=remove, create=False) if remove else []
    for record in records:
        if to_add:
            record.tags.add(*to_add)
        if to_remove:
            record.tags.remove(*to_remove)
    if records:
        _audit(
            actor,
            "tags.bulk_changed",
            None,
            model=records[0]._meta.label_lower,
            ids=[r.pk for r in records],
            added=[t.name for t in to_add],
            removed=[t.name for t in to_remove],
        )
    return len(records)


# Saved views ------------------------------------------------------------------------------


@transaction.atomic
def savedview_create(
    *, actor: Any, entity: str, name: str, query: str, columns: list[str], shared: bool = False
) -> SavedView:
    user = actor_user(actor)
    if user is None:
        raise PermissionDenied("Saved views belong to a person.")
    name = name.strip()
    if not name:
        raise ValidationError({"name": "Name the view."})
    query = "&".join(
        part
        for part in query.lstrip("?").split("&")
        if part and not part.startswith(("page=", "cursor="))
    )
    return SavedView.objects.create(
        entity=entity,
        name=name[:100],
        owner=user,
        shared=shared,
        query=query[:2000],
        columns=columns,
    )


@transaction.atomic
def savedview_delete(*, actor: Any, view: SavedView) -> None:
    user = actor_user(actor)
    if user is None or (
        view.owner_id != user.pk and getattr(actor, "role", None) not in ADMIN_ROLES
    ):
        raise PermissionDenied("Only the view's owner or an Admin may delete it.")
    view.delete()


# Notes ------------------------------------------------------------------------------------


@transaction.atomic
def note_add(*, actor: Any, entity: str, record: Any, body: str) -> Any:
    if not visibility.can_change(actor, record):
        raise PermissionDenied("You may not add notes to this record.")
    body = body.strip()
    if not body:
        raise ValidationError({"body": "A note cannot be empty."})
    if len(body) > 20_000:
        raise ValidationError({"body": "Notes are limited to 20,000 characters."})
    entry = timeline.entry_add(
        entity=entity,
        record_id=record.pk,
        kind=TimelineKind.NOTE,
        author=actor_user(actor),
        body=body,
    )
    _audit(actor, "note.added", record)
    from apps.notifications.services import note_mentions_notify

    note_mentions_notify(record=record, note_id=entry.pk, body=body, actor=actor)
    return entry
