"""Fixtures for leads: people of each role in organisation A, lead sources and a web form."""

from __future__ import annotations

from typing import Any

import pytest

from apps.leads.models import Lead, LeadSource, WebForm
from apps.leads.services import lead_create
from apps.leads.webforms import webform_create
from tenants.models import Tenant
from tests.members import client_for, in_a, member, other_rep, owner, readonly, rep

__all__ = ["client_for", "in_a", "member", "other_rep", "owner", "readonly", "rep"]


@pytest.fixture
def website(in_a: Tenant) -> LeadSource:
    return LeadSource.objects.create(name="Website", order=1)


def make_lead(actor: Any, **fields: Any) -> Lead:
    fields.setdefault("allow_duplicate", True)
    return lead_create(actor=actor, **fields)


def make_form(actor: Any, **values: Any) -> WebForm:
    values.setdefault(
        "fields",
        [
            {"target": "first_name", "label": "First name", "required": True},
            {"target": "last_name", "label": "Last name"},
            {"target": "email", "label": "Work email", "required": True},
            {"target": "company_name", "label": "Company"},
        ],
    )
    return webform_create(actor=actor, name=values.pop("name", "Contact us"), **values)
