"""How lists, search, saved views and duplicates see leads."""

from __future__ import annotations

from apps.records import registry
from apps.records.registry import EntitySpec, FieldSpec

from .models import LeadStatus

FIELDS = [
    FieldSpec("first_name", "First name", "first_name"),
    FieldSpec("last_name", "Last name", "last_name"),
    FieldSpec("email", "Email", "email"),
    FieldSpec("phone", "Phone", "phone"),
    FieldSpec("company_name", "Company", "company_name"),
    FieldSpec("title", "Job title", "title"),
    FieldSpec("source", "Source", "source__name"),
    FieldSpec("status", "Status", "status", kind="choice", choices=tuple(LeadStatus.choices)),
    FieldSpec("owner", "Owner", "owner_id", kind="user"),
    FieldSpec(
        "team", "Owner's team", "owner__teams__id", kind="number", sortable=False, filter_only=True
    ),
    FieldSpec("utm_source", "UTM source", "utm_source"),
    FieldSpec("utm_medium", "UTM medium", "utm_medium"),
    FieldSpec("utm_campaign", "UTM campaign", "utm_campaign"),
    FieldSpec("utm_term", "UTM term", "utm_term"),
    FieldSpec("utm_content", "UTM content", "utm_content"),
    FieldSpec(
        "converted_deal", "Converted deal", "converted_deal_id", kind="number", filter_only=True
    ),
    FieldSpec("converted_at", "Converted", "converted_at", kind="datetime", filter_only=True),
    FieldSpec(
        "converted_deal_status",
        "Deal status",
        "converted_deal__status",
        kind="choice",
        sortable=False,
        filter_only=True,
    ),
    FieldSpec("created_at", "Created", "created_at", kind="datetime"),
    FieldSpec("updated_at", "Updated", "updated_at", kind="datetime"),
]


def register() -> None:
    from . import selectors, services
    from .models import Lead

    registry.register(
        EntitySpec(
            key="lead",
            model=Lead,
            label="Lead",
            label_plural="Leads",
            url_namespace="leads",
            fields=FIELDS,
            default_columns=["email", "company_name", "source", "status", "owner"],
            describe=lambda lead: (str(lead), lead.company_name or lead.email),
            selector=lambda user: selectors.lead_list(user=user),
            extra={"merge_undo": services.lead_merge_undo},
        )
    )
