"""Merging records into a survivor, and undoing it for 30 days.

Merged records are not deleted: they are hidden (`merged_into` set) and everything that hung
off them (related rows, tags, timeline entries, shares) moves to the survivor. The `Merge` row
remembers exactly what moved and the survivor's values before, so undo puts everything back.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models, transaction
from django.utils import timezone

from apps.core import visibility
from apps.reports.cache import reports_changed

from . import timeline
from .models import Merge, TimelineEntry, TimelineKind
from .services import _audit, actor_user

UNDO_WINDOW = timedelta(days=30)
MAX_MERGED = 10


@dataclass(frozen=True)
class Related:
    """Rows of `model` pointing at the record through `fk`; a row whose `unique_with` value
    the survivor already has stays where it is (nothing is lost: the survivor has it)."""

    model: type[models.Model]
    fk: str
    unique_with: str | None = None
    primary_flag: str | None = None


def sales_links(entity: str) -> list[Related]:
    """The deals, activities and converted leads pointing at a contact, company or lead:
    they follow it into the survivor of a merge."""
    from apps.activities.models import Activity
    from apps.deals.models import Deal
    from apps.leads.models import Lead

    plural = {"contact": "contacts", "company": "companies", "lead": "leads"}[entity]
    links = [Related(getattr(Activity, plural).through, entity, unique_with="activity")]
    if entity != "lead":
        links += [
            Related(getattr(Deal, plural).through, entity, unique_with="deal"),
            Related(Lead, f"converted_{entity}"),
        ]
    return links


@dataclass
class MergeSpec:
    entity: str
    model: type[models.Model]
    fields: list[str]
    related: list[Related] = field(default_factory=list)
    refresh: Any = None  # survivor -> None: recompute derived columns (search text, ...)


def _perm_models(model: type[models.Model]) -> list[type[models.Model]]:
    name = model._meta.model_name
    return [
        model._meta.get_field(f"{name}{kind}objectpermission").related_model  # type: ignore[misc]
        for kind in ("user", "group")
    ]


def _value(record: Any, name: str) -> Any:
    value = getattr(record, f"{name}_id", None) if hasattr(record, f"{name}_id") else None
    return value if value is not None else getattr(record, name)


@transaction.atomic
def merge(
    *,
    actor: Any,
    spec: MergeSpec,
    survivor: Any,
    merged: list[Any],
    values: dict[str, int] | None = None,
) -> Merge:
    """Merge `merged` into `survivor`. `values` picks, per field (or `cf_<key>`), the id of
    the record whose value wins; the survivor's own value wins otherwise, and an empty survivor
    custom field takes the first merged record's value."""
    values = values or {}
    merged = [m for m in merged if m.pk != survivor.pk]
    if not merged:
        raise ValidationError({"merged": "Choose at least one other record to merge."})
    if len(merged) > MAX_MERGED:
        raise ValidationError({"merged": f"Merge at most {MAX_MERGED} records at once."})
    if not visibility.can_change(actor, survivor):
        raise PermissionDenied("You may not change the record that survives the merge.")
    for record in merged:
        if not visibility.can_delete(actor, record):
            raise PermissionDenied(f"You may not merge away {record}: it needs delete access.")
    by_id = {r.pk: r for r in [survivor, *merged]}
    for name, source in values.items():
        if name not in spec.fields and not name.startswith("cf_"):
            raise ValidationError({"values": f"{name!r} is not a field that can be merged."})
        if source not in by_id:
            raise ValidationError({"values": f"{name}: {source} is not one of the records merged."})

    before = {name: _value(survivor, name) for name in spec.fields}
    before["custom_fields"] = dict(survivor.custom_fields)
    for name, source in values.items():
        if name.startswith("cf_"):
            key = name[3:]
            winner = by_id[source].custom_fields
            if key in winner:
                survivor.custom_fields[key] = winner[key]
            else:
                survivor.custom_fields.pop(key, None)
        else:
            setattr(survivor, name, getattr(by_id[source], name))
    for record in merged:
        for key, value in record.custom_fields.items():
            if f"cf_{key}" not in values:
                survivor.custom_fields.setdefault(key, value)

    merged_ids = [r.pk for r in merged]
    moved: dict[str, Any] = {}
    for rel in spec.related:
        label = rel.model._meta.label_lower
        rows = rel.model._default_manager.filter(**{f"{rel.fk}__in": merged_ids})
        if rel.unique_with:
            taken = rel.model._default_manager.filter(**{rel.fk: survivor.pk}).values(
                rel.unique_with
            )
            rows = rows.exclude(**{f"{rel.unique_with}__in": taken})
        pairs = list(rows.values_list("pk", f"{rel.fk}_id"))
        primaries: list[int] = []
        if rel.primary_flag:
            primaries = list(
                rel.model._default_manager.filter(
                    pk__in=[p for p, _ in pairs], **{rel.primary_flag: True}
                ).values_list("pk", flat=True)
            )
            rel.model._default_manager.filter(pk__in=primaries).update(**{rel.primary_flag: False})
        rel.model._default_manager.filter(pk__in=[p for p, _ in pairs]).update(
            **{f"{rel.fk}_id": survivor.pk}
        )
        moved[label] = {"rows": pairs, "primaries": primaries}

    tags_before = set(survivor.tags.values_list("pk", flat=True))
    incoming = set(
        spec.model._base_manager.filter(pk__in=merged_ids).values_list("tags", flat=True)
    ) - {None}
    added_tags = sorted(incoming - tags_before)
    survivor.tags.add(*added_tags)

    entries = list(
        TimelineEntry.objects.filter(entity=spec.entity, record_id__in=merged_ids).values_list(
            "pk", "record_id"
        )
    )
    TimelineEntry.objects.filter(pk__in=[p for p, _ in entries]).update(record_id=survivor.pk)

    shares = []
    for perm_model in _perm_models(spec.model):
        who = "user_id" if "user" in str(perm_model._meta.model_name) else "group_id"
        taken_shares = set(
            perm_model._default_manager.filter(content_object_id=survivor.pk).values_list(
                who, "permission_id"
            )
        )
        for pk, owner_id, permission_id, record_id in perm_model._default_manager.filter(
            content_object_id__in=merged_ids
        ).values_list("pk", who, "permission_id", "content_object_id"):
            if (owner_id, permission_id) in taken_shares:
                continue
            perm_model._default_manager.filter(pk=pk).update(content_object_id=survivor.pk)
            shares.append([perm_model._meta.label_lower, pk, record_id])

    spec.model._base_manager.filter(pk__in=merged_ids).update(merged_into=survivor.pk)
    if spec.refresh:
        spec.refresh(survivor)
    survivor._history_user = actor_user(actor)
    survivor.save()
    record = Merge.objects.create(
        entity=spec.entity,
        survivor_id=survivor.pk,
        merged_ids=merged_ids,
        actor=actor_user(actor),
        snapshot={
            "before": {k: v for k, v in before.items()},
            "moved": moved,
            "tags_added": added_tags,
            "timeline": entries,
            "shares": shares,
            "names": [str(r) for r in merged],
        },
    )
    timeline.entry_add(
        entity=spec.entity,
        record_id=survivor.pk,
        kind=TimelineKind.MERGE,
        author=actor_user(actor),
        title=f"Merged {', '.join(str(r) for r in merged)} into this record",
        merge_id=record.pk,
        merged_ids=merged_ids,
    )
    _audit(actor, f"{spec.entity}.merged", survivor, merged_ids=merged_ids, merge_id=record.pk)
    reports_changed()  # queryset updates send no signals
    return record


def _merge_for_update(merge_id: Any) -> Merge:
    try:
        return Merge.objects.select_for_update().get(pk=int(merge_id))
    except (Merge.DoesNotExist, ValueError, TypeError):
        raise ValidationError("No such merge.", code="not_found") from None


@transaction.atomic
def undo(*, actor: Any, spec: MergeSpec, merge_record: Merge) -> Any:
    """Put everything back as it was before the merge; the survivor keeps later edits to
    fields the merge did not touch."""
    record = _merge_for_update(merge_record.pk)
    if record.undone_at is not None:
        raise ValidationError("This merge was already undone.", code="already_undone")
    if timezone.now() - record.created_at > UNDO_WINDOW:
        raise ValidationError(
            "Merges can be undone for 30 days; this one is older.", code="expired"
        )
    survivor: Any = spec.model._default_manager.get(pk=record.survivor_id)
    if not visibility.can_change(actor, survivor):
        raise PermissionDenied("You may not change the record that survived the merge.")
    snap = record.snapshot
    for name, value in snap["before"].items():
        if name == "custom_fields":
            survivor.custom_fields = value
        elif hasattr(survivor, f"{name}_id"):
            setattr(survivor, f"{name}_id", value)
        else:
            setattr(survivor, name, value)
    for rel in spec.related:
        info = snap["moved"].get(rel.model._meta.label_lower, {"rows": [], "primaries": []})
        for pk, original in info["rows"]:
            rel.model._default_manager.filter(pk=pk).update(**{f"{rel.fk}_id": original})
        if rel.primary_flag and info["primaries"]:
            rel.model._default_manager.filter(pk__in=info["primaries"]).update(
                **{rel.primary_flag: True}
            )
    survivor.tags.remove(*snap["tags_added"])
    for pk, original in snap["timeline"]:
        TimelineEntry.objects.filter(pk=pk).update(record_id=original)
    perm_models = {m._meta.label_lower: m for m in _perm_models(spec.model)}
    for label, pk, original in snap["shares"]:
        perm_models[label]._default_manager.filter(pk=pk).update(content_object_id=original)
    restored = spec.model._base_manager.filter(pk__in=record.merged_ids, merged_into=survivor.pk)
    restored.update(merged_into=None)
    if spec.refresh:
        spec.refresh(survivor)
    survivor._history_user = actor_user(actor)
    survivor.save()
    record.undone_at = timezone.now()
    record.save(update_fields=["undone_at"])
    timeline.entry_add(
        entity=spec.entity,
        record_id=survivor.pk,
        kind=TimelineKind.MERGE,
        author=actor_user(actor),
        title=f"Undid the merge of {', '.join(snap.get('names', []))}",
        merge_id=record.pk,
    )
    _audit(actor, f"{spec.entity}.merge_undone", survivor, merge_id=record.pk)
    reports_changed()
    return survivor


def purge_expired_merges(*, now: Any = None) -> int:
    """Delete records merged away by merges older than the undo window (in the current
    schema). The merge row stays as history; it can no longer be undone."""
    from . import registry

    now = now or timezone.now()
    removed = 0
    for merge_record in Merge.objects.filter(
        undone_at=None, created_at__lt=now - UNDO_WINDOW
    ).exclude(snapshot__has_key="purged"):
        model = registry.get(merge_record.entity).model
        with transaction.atomic():
            removed += (
                model._base_manager.filter(
                    pk__in=merge_record.merged_ids, merged_into=merge_record.survivor_id
                )
                .delete()[1]
                .get(model._meta.label, 0)
            )
            merge_record.snapshot = {**merge_record.snapshot, "purged": True}
            merge_record.save(update_fields=["snapshot"])
    return removed
