"""How lists, search and saved views see activities."""

from __future__ import annotations

from apps.records import registry
from apps.records.registry import EntitySpec, FieldSpec

from .models import ActivityType, Outcome

FIELDS = [
    FieldSpec("subject", "Subject", "subject"),
    FieldSpec("type", "Type", "type", kind="choice", choices=tuple(ActivityType.choices)),
    FieldSpec("due_at", "Due", "due_at", kind="datetime"),
    FieldSpec("start_at", "Starts", "start_at", kind="datetime"),
    FieldSpec("end_at", "Ends", "end_at", kind="datetime"),
    FieldSpec("scheduled_at", "When", "scheduled_at", kind="datetime"),
    FieldSpec("done", "Done", "done", kind="boolean"),
    FieldSpec("outcome", "Outcome", "outcome", kind="choice", choices=tuple(Outcome.choices)),
    FieldSpec("owner", "Assignee", "owner_id", kind="user"),
    FieldSpec(
        "team",
        "Assignee's team",
        "owner__teams__id",
        kind="number",
        sortable=False,
        filter_only=True,
    ),
    FieldSpec("done_at", "Done at", "done_at", kind="datetime", filter_only=True),
    FieldSpec("location", "Location", "location"),
    FieldSpec("contact_id", "Contact id", "contacts__id", kind="number", sortable=False),
    FieldSpec("company_id", "Company id", "companies__id", kind="number", sortable=False),
    FieldSpec("deal_id", "Deal id", "deals__id", kind="number", sortable=False),
    FieldSpec("lead_id", "Lead id", "leads__id", kind="number", sortable=False),
    FieldSpec("created_at", "Created", "created_at", kind="datetime"),
    FieldSpec("updated_at", "Updated", "updated_at", kind="datetime"),
]


def register() -> None:
    from . import selectors
    from .models import Activity

    registry.register(
        EntitySpec(
            key="activity",
            model=Activity,
            label="Activity",
            label_plural="Activities",
            url_namespace="activities",
            fields=FIELDS,
            default_columns=["type", "scheduled_at", "owner", "done"],
            describe=lambda a: (a.subject, a.get_type_display()),
            selector=lambda user: selectors.activity_list(user=user),
        )
    )
