"""How lists, search, saved views and merges see companies."""

from __future__ import annotations

from apps.records import registry
from apps.records.registry import EntitySpec, FieldSpec

from .models import CompanySize

FIELDS = [
    FieldSpec("name", "Name", "name"),
    FieldSpec("domain", "Domain", "domain"),
    FieldSpec("industry", "Industry", "industry"),
    FieldSpec("size", "Size", "size", kind="choice", choices=tuple(CompanySize.choices)),
    FieldSpec("phone", "Phone", "phone"),
    FieldSpec("owner", "Owner", "owner_id", kind="user"),
    FieldSpec("city", "City", "city"),
    FieldSpec("region", "State / region", "region"),
    FieldSpec("country", "Country", "country"),
    FieldSpec("created_at", "Created", "created_at", kind="datetime"),
    FieldSpec("updated_at", "Updated", "updated_at", kind="datetime"),
]


def register() -> None:
    from . import selectors, services
    from .models import Company

    registry.register(
        EntitySpec(
            key="company",
            model=Company,
            label="Company",
            label_plural="Companies",
            url_namespace="companies",
            fields=FIELDS,
            default_columns=["domain", "industry", "size", "owner"],
            describe=lambda c: (c.name, c.domain or c.industry),
            selector=lambda user: selectors.company_list(user=user),
            extra={"merge_undo": services.company_merge_undo},
        )
    )
