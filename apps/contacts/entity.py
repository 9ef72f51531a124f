"""How lists, search, saved views and merges see contacts."""

from __future__ import annotations

from apps.records import registry
from apps.records.registry import EntitySpec, FieldSpec

from .models import LifecycleStage

FIELDS = [
    FieldSpec("first_name", "First name", "first_name"),
    FieldSpec("last_name", "Last name", "last_name"),
    FieldSpec("email", "Email", "email"),
    FieldSpec("phone", "Phone", "phone"),
    FieldSpec("title", "Job title", "title"),
    FieldSpec("owner", "Owner", "owner_id", kind="user"),
    FieldSpec("company", "Company", "companies__name", sortable=False),
    FieldSpec("company_id", "Company id", "companies__id", kind="number", sortable=False),
    FieldSpec("city", "City", "city"),
    FieldSpec("region", "State / region", "region"),
    FieldSpec("country", "Country", "country"),
    FieldSpec("source", "Source", "source"),
    FieldSpec(
        "lifecycle_stage",
        "Lifecycle stage",
        "lifecycle_stage",
        kind="choice",
        choices=tuple(LifecycleStage.choices),
    ),
    FieldSpec("created_at", "Created", "created_at", kind="datetime"),
    FieldSpec("updated_at", "Updated", "updated_at", kind="datetime"),
]


def register() -> None:
    from . import selectors, services
    from .models import Contact

    registry.register(
        EntitySpec(
            key="contact",
            model=Contact,
            label="Contact",
            label_plural="Contacts",
            url_namespace="contacts",
            fields=FIELDS,
            default_columns=["email", "phone", "title", "owner", "lifecycle_stage"],
            describe=lambda c: (str(c), c.email or c.title),
            selector=lambda user: selectors.contact_list(user=user),
            extra={"merge_undo": services.contact_merge_undo},
        )
    )
