"""CSV export of any list: the same selector, filters and ordering as the list, streamed so
memory stays flat, with spreadsheet formulas neutralised and the export audit-logged."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from typing import Any

from django.http import StreamingHttpResponse
from django.utils import timezone
from django_tenants.utils import schema_context

from apps.audit.services import audit_record
from tenants.db import connection

from . import customfields, registry
from .services import actor_label, actor_user

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: Any) -> str:
    """A cell a spreadsheet will never run as a formula (OWASP CSV injection advice)."""
    if value is None:
        return ""
    if isinstance(value, list):
        value = ", ".join(str(v) for v in value)
    text = str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


class _Echo:
    def write(self, value: str) -> str:
        return value


def _columns(entity: registry.EntitySpec) -> list[tuple[str, str]]:
    columns = [("id", "ID")]
    columns += [(f.name, f.label) for f in entity.fields if f.name not in ("company_id",)]
    columns += [("tags", "Tags")]
    columns += [(f"cf_{f.key}", f.label) for f in customfields.definitions(entity.key)]
    return columns


def _value(record: Any, name: str) -> Any:
    if name == "id":
        return record.pk
    if name.startswith("cf_"):
        return record.custom_fields.get(name[3:])
    if name == "tags":
        return [t.name for t in record.tags.all()]
    if name == "owner":
        return record.owner.email
    if name == "company":
        return [link.company.name for link in record.company_links.all()]
    value = getattr(record, name, "")
    return value.isoformat() if hasattr(value, "isoformat") else value


def export_csv(*, actor: Any, entity_key: str, queryset: Any, query: str) -> StreamingHttpResponse:
    entity = registry.get(entity_key)
    columns = _columns(entity)
    audit_record(
        action=f"{entity_key}.exported",
        actor=actor_user(actor),
        actor_label=actor_label(actor),
        detail={"filters": query[:500], "format": "csv"},
    )
    writer = csv.writer(_Echo())
    # The rows are read while the response streams, after the request's tenant middleware
    # has switched the connection back to the public schema: read them in this schema.
    schema = connection.schema_name

    def rows() -> Iterator[str]:
        yield "\ufeff" + writer.writerow([label for _, label in columns])
        with schema_context(schema):
            for record in queryset.iterator(chunk_size=2000):
                yield writer.writerow([neutralise(_value(record, name)) for name, _ in columns])

    stamp = timezone.now().strftime("%Y%m%d-%H%M")
    response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = (
        f'attachment; filename="{entity.label_plural.lower()}-{stamp}.csv"'
    )
    return response
