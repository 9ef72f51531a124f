"""A record's timeline: notes, links, merges and activities from `TimelineEntry`, and field
changes from the record's history table (django-simple-history), newest first."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import models, transaction

from .models import CustomField, TimelineEntry, TimelineKind

PAGE_SIZE = 20
# Other apps add items to timelines (activities linked to a record, a converted lead's
# history): each source is `source(record, entity, kind, limit, user) -> list[Item]`, `user`
# being the viewer (None: everything), so a source shows only what the viewer may see.
_SOURCES: list[Any] = []
HIDDEN = frozenset({"search_text", "updated_at", "created_at", "merged_into"})


@dataclass
class Item:
    kind: str
    at: datetime
    author: Any
    title: str
    body: str = ""
    changes: list[tuple[str, Any, Any]] = field(default_factory=list)
    detail: dict[str, Any] = field(default_factory=dict)


def register_source(source: Any) -> None:
    """Add a source of timeline items (called from an app's `ready()`)."""
    if source not in _SOURCES:
        _SOURCES.append(source)


@transaction.atomic
def entry_add(
    *, entity: str, record_id: int, kind: str, author: Any = None, body: str = "", **detail: Any
) -> TimelineEntry:
    return TimelineEntry.objects.create(
        entity=entity,
        record_id=record_id,
        kind=kind,
        author=author if getattr(author, "pk", None) else None,
        body=body,
        detail=detail,
    )


def _entry_item(entry: TimelineEntry) -> Item:
    titles: dict[str, Any] = {
        TimelineKind.NOTE: "Note",
        TimelineKind.LINK: entry.detail.get("title", "Link changed"),
        TimelineKind.MERGE: entry.detail.get("title", "Merged"),
        TimelineKind.ACTIVITY: entry.detail.get("title", "Activity"),
    }
    return Item(
        kind=entry.kind,
        at=entry.created_at,
        author=entry.author,
        title=str(titles.get(entry.kind, entry.get_kind_display())),
        body=entry.body,
        detail=entry.detail,
    )


def _label(model: type[models.Model], name: str) -> str:
    try:
        return str(getattr(model._meta.get_field(name), "verbose_name", name)).capitalize()
    except Exception:
        return name


def _history_items(
    record: models.Model, entity: str, limit: int, labels: dict[str, str]
) -> list[Item]:
    rows = list(
        record.history.select_related("history_user").order_by("-history_date", "-pk")[  # type: ignore[attr-defined]
            : limit + 1
        ]
    )
    items = []
    # A record type may leave fields to its own timeline source (a deal's stage moves).
    hidden = frozenset(getattr(type(record), "timeline_hidden", ()))
    for index, row in enumerate(rows[:limit]):
        older = rows[index + 1] if index + 1 < len(rows) else None
        if row.history_type == "+" or older is None:
            items.append(
                Item(
                    kind=TimelineKind.CHANGE,
                    at=row.history_date,
                    author=row.history_user,
                    title="Created",
                )
            )
            continue
        changes: list[tuple[str, Any, Any]] = []
        for change in row.diff_against(older).changes:
            if change.field in HIDDEN or change.field in hidden:
                continue
            if change.field == "custom_fields":
                old, new = change.old or {}, change.new or {}
                for key in sorted(set(old) | set(new)):
                    if old.get(key) != new.get(key):
                        changes.append((labels.get(key, key), old.get(key), new.get(key)))
                continue
            changes.append((_label(type(record), change.field), change.old, change.new))
        if changes:
            items.append(
                Item(
                    kind=TimelineKind.CHANGE,
                    at=row.history_date,
                    author=row.history_user,
                    title="Changed",
                    changes=changes,
                )
            )
    return items


def timeline(
    record: models.Model, entity: str, *, kind: str = "", page: int = 1, user: Any = None
) -> tuple[list[Item], bool]:
    """One page of the timeline (and whether there is another), filtered by `kind`, as
    `user` may see it."""
    page = max(1, page)
    wanted = page * PAGE_SIZE + 1
    items: list[Item] = []
    if kind in ("", TimelineKind.CHANGE):
        labels = dict(CustomField.objects.filter(entity=entity).values_list("key", "label"))
        items += _history_items(record, entity, wanted, labels)
    if kind != TimelineKind.CHANGE:
        entries = TimelineEntry.objects.filter(entity=entity, record_id=record.pk)
        if kind:
            entries = entries.filter(kind=kind)
        items += [_entry_item(e) for e in entries.select_related("author")[:wanted]]
    for source in _SOURCES:
        items += source(record, entity, kind, wanted, user)
    items.sort(key=lambda item: item.at, reverse=True)
    start = (page - 1) * PAGE_SIZE
    return items[start : start + PAGE_SIZE], len(items) > start + PAGE_SIZE
