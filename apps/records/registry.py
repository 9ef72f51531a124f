"""The record types lists, search, saved views, duplicates and merges know about. Each app
registers its entity in `AppConfig.ready()`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.db import models


@dataclass(frozen=True)
class FieldSpec:
    """A built-in field a list can show, filter (`name`, `name__contains`, ...) and sort."""

    name: str
    label: str
    path: str
    kind: str = "text"  # text, number, date, datetime, boolean, user, choice
    sortable: bool = True
    choices: tuple[tuple[str, str], ...] = ()
    # Only a filter (reports link to lists with it), never a column of lists and exports.
    filter_only: bool = False


@dataclass
class EntitySpec:
    key: str
    model: type[models.Model]
    label: str
    label_plural: str
    url_namespace: str
    fields: list[FieldSpec]
    default_columns: list[str]
    # Rows of one record for the search dropdown: (title, subtitle).
    describe: Any = None
    # user -> the records that user may see (the app's list selector).
    selector: Any = None
    extra: dict[str, Any] = field(default_factory=dict)

    def field(self, name: str) -> FieldSpec | None:
        return next((f for f in self.fields if f.name == name), None)


_ENTITIES: dict[str, EntitySpec] = {}


def register(spec: EntitySpec) -> None:
    _ENTITIES[spec.key] = spec


def get(key: str) -> EntitySpec:
    return _ENTITIES[key]


def all_entities() -> list[EntitySpec]:
    return list(_ENTITIES.values())
