"""How lists, search and saved views see deals."""

from __future__ import annotations

from apps.records import registry
from apps.records.registry import EntitySpec, FieldSpec

from .models import DealStatus

FIELDS = [
    FieldSpec("title", "Title", "title"),
    FieldSpec("value", "Value", "value", kind="number"),
    FieldSpec("currency", "Currency", "currency"),
    FieldSpec("pipeline", "Pipeline", "pipeline_id", kind="number"),
    FieldSpec("stage", "Stage", "stage_id", kind="number"),
    FieldSpec("status", "Status", "status", kind="choice", choices=tuple(DealStatus.choices)),
    FieldSpec("probability", "Probability", "probability", kind="number"),
    FieldSpec("expected_close", "Expected close", "expected_close", kind="date"),
    FieldSpec("owner", "Owner", "owner_id", kind="user"),
    FieldSpec(
        "team", "Owner's team", "owner__teams__id", kind="number", sortable=False, filter_only=True
    ),
    FieldSpec("lost_reason", "Lost reason", "lost_reason_id", kind="number", filter_only=True),
    FieldSpec("contact_id", "Contact id", "contacts__id", kind="number", sortable=False),
    FieldSpec("company_id", "Company id", "companies__id", kind="number", sortable=False),
    FieldSpec("won_at", "Won", "won_at", kind="datetime"),
    FieldSpec("lost_at", "Lost", "lost_at", kind="datetime"),
    FieldSpec("created_at", "Created", "created_at", kind="datetime"),
    FieldSpec("updated_at", "Updated", "updated_at", kind="datetime"),
]


def register() -> None:
    from . import selectors
    from .models import Deal

    registry.register(
        EntitySpec(
            key="deal",
            model=Deal,
            label="Deal",
            label_plural="Deals",
            url_namespace="deals",
            fields=FIELDS,
            default_columns=["value", "stage", "expected_close", "owner", "status"],
            describe=lambda d: (d.title, f"{d.value} {d.currency}"),
            selector=lambda user: selectors.deal_list(user=user),
        )
    )
