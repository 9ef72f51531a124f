"""The API's writable operations, read from its own OpenAPI schema (the public contract), so a
new resource, action or text field is covered by the hostile-input tests without a list."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Operation:
    method: str  # post, put, patch
    path: str  # /api/v1/contacts/{id}/
    content_types: tuple[str, ...]
    text_fields: tuple[str, ...]  # free text: a string without format or choices
    number_fields: tuple[str, ...]

    @property
    def is_json(self) -> bool:
        return "application/json" in self.content_types

    @property
    def resource(self) -> str:
        return self.path.removeprefix("/api/v1/").split("/")[0]

    @property
    def is_collection_create(self) -> bool:
        return self.method == "post" and self.path.count("/") == 4 and "{" not in self.path

    def url(self, ids: dict[str, int]) -> str:
        """The path with `{id}` set to the id of this resource's record in `ids` (else 0)."""
        return re.sub(r"\{\w+\}", str(ids.get(self.resource, 0)), self.path)


@functools.cache
def schema() -> dict[str, Any]:
    """The schema as an organisation's API serves it (its custom-fields hook reads the
    organisation's tables: outside one, its failed query would abort the test's transaction)."""
    from django_tenants.utils import schema_context
    from drf_spectacular.generators import SchemaGenerator

    from tenants.models import Tenant
    from tests.conftest import ALPHA

    tenant = Tenant.objects.get(slug=ALPHA.slug)
    with schema_context(tenant.schema_name):
        generator = SchemaGenerator(urlconf="config.urls_tenant")
        return dict(generator.get_schema(request=None, public=True))


def _properties(body: dict[str, Any]) -> dict[str, Any]:
    components = schema()["components"]["schemas"]
    json_schema = body.get("application/json", {}).get("schema") or {}
    if "$ref" in json_schema:
        json_schema = components[json_schema["$ref"].rsplit("/", 1)[1]]
    return {
        name: spec
        for name, spec in (json_schema.get("properties") or {}).items()
        if not spec.get("readOnly")
    }


@functools.cache
def operations() -> tuple[Operation, ...]:
    found = []
    for path, methods in schema()["paths"].items():
        for method, operation in methods.items():
            if method not in ("post", "put", "patch"):
                continue
            body = (operation.get("requestBody") or {}).get("content") or {}
            props = _properties(body)
            texts = tuple(
                name
                for name, spec in props.items()
                if spec.get("type") == "string"
                and not {"format", "enum", "$ref", "pattern"} & set(spec)
            )
            numbers = tuple(
                name for name, spec in props.items() if spec.get("type") in ("integer", "number")
            )
            found.append(Operation(method, path, tuple(body), texts, numbers))
    return tuple(found)


def json_operations() -> list[Operation]:
    return [op for op in operations() if op.is_json]


def collection_creates() -> list[Operation]:
    return [op for op in operations() if op.is_collection_create]
