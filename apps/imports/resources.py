"""django-import-export resources for every record type, built from the same import fields
and widgets the importer uses, so a file exported here (CSV, XLSX or JSON through tablib)
imports back with its columns matched automatically: labels are the field labels, owners
are emails, tags are names, custom fields are one column each.

The importer reads through these widgets but writes in bulk (see engine.py); the resources
are for small, formatted exports and round trips, e.g. a sample file for a record type."""

from __future__ import annotations

from typing import Any

from import_export import fields as ie_fields
from import_export import resources

from . import fields as f


class CustomValue(ie_fields.Field):
    """One custom field's value, read from the record's `custom_fields`."""

    def __init__(self, key: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.key = key

    def get_value(self, instance: Any) -> Any:
        return (instance.custom_fields or {}).get(self.key)


def _export_value(value: Any) -> Any:
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return value


class RecordResource(resources.ModelResource):
    """Exports the import fields of one record type; `dehydrate` turns owners, tags and
    custom values into the text the importer reads back."""

    spec: f.Spec

    def export_field(self, field: ie_fields.Field, instance: Any, **kwargs: Any) -> Any:
        if isinstance(field, CustomValue):
            return _export_value(field.get_value(instance))
        if field.attribute == "owner":
            return instance.owner.email if instance.owner_id else ""
        if field.attribute == "tags":
            return ", ".join(sorted(t.name for t in instance.tags.all()))
        value = getattr(instance, field.attribute or "", None)
        return "" if value is None else value


def resource_for(entity: str, *, locale: str = "en") -> RecordResource:
    """A resource with one column per column, key, owner, tags and custom field of `entity`
    (links to other records are left out: they are written by the importer only)."""
    spec = f.spec_for(entity, locale=locale)
    declared: dict[str, ie_fields.Field] = {}
    for item in spec.fields:
        if item.kind == f.LINK:
            continue
        if item.kind == f.CUSTOM:
            declared[item.name] = CustomValue(item.name[3:], column_name=item.label)
        elif item.kind == f.TAGS:
            declared[item.name] = ie_fields.Field(attribute="tags", column_name=item.label)
        elif item.name == "owner":
            declared[item.name] = ie_fields.Field(attribute="owner", column_name=item.label)
        else:
            attribute = "pk" if item.name == "id" else item.name
            declared[item.name] = ie_fields.Field(
                attribute=attribute, column_name=item.label, widget=item.widget
            )

    class Meta:
        model = spec.model
        fields = tuple(declared)
        export_order = tuple(declared)

    resource_class = type(
        f"{spec.model.__name__}Resource", (RecordResource,), {"Meta": Meta, **declared}
    )
    resource = resource_class()
    resource.spec = spec
    return resource
