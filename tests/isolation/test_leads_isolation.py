"""Leads, lead sources and web forms stay in their organisation: tenant B cannot see,
change or convert tenant A's leads, and A's public form is not served on B's host."""

from __future__ import annotations

import pytest
from django.test import Client
from django_tenants.utils import schema_context

from apps.accounts.models import User
from apps.leads.conversion import lead_convert
from apps.leads.models import Lead, LeadSource, WebForm
from apps.leads.services import lead_create
from apps.leads.webforms import webform_create
from apps.records.search import global_search
from tenants.models import Tenant

pytestmark = pytest.mark.django_db
JSON = "application/json"


def _owner(tenant: Tenant) -> User:
    return User.objects.get(email=f"owner@{tenant.slug}.test")


def _a_lead_and_form(tenant_a: Tenant) -> tuple[Lead, WebForm]:
    with schema_context(tenant_a.schema_name):
        owner = _owner(tenant_a)
        LeadSource.objects.create(name="Alpha secret source")
        lead = lead_create(
            actor=owner, first_name="Isolde", last_name="Lead", email="isolde@alpha.example"
        )
        form = webform_create(
            actor=owner,
            name="Alpha form",
            fields=[{"target": "email", "label": "Email", "required": True}],
        )
        assert global_search(owner, "isolde")
    return lead, form


def test_orm_and_search_stay_in_their_schema(tenant_a: Tenant, tenant_b: Tenant) -> None:
    lead, form = _a_lead_and_form(tenant_a)
    with schema_context(tenant_b.schema_name):
        owner_b = _owner(tenant_b)
        assert not Lead.objects.filter(first_name="Isolde").exists()
        assert not LeadSource.objects.filter(name="Alpha secret source").exists()
        assert not WebForm.objects.filter(public_id=form.public_id).exists()
        assert not any(g for g in global_search(owner_b, "isolde"))
        # The same id in B's schema is B's own row (or none), never A's lead.
        assert not Lead.objects.filter(pk=lead.pk, first_name="Isolde").exists()


def test_web_and_api_of_another_tenant_refuse_every_id(
    tenant_a: Tenant, owner_client_b: Client
) -> None:
    lead, form = _a_lead_and_form(tenant_a)
    for url in (
        f"/leads/{lead.pk}/",
        f"/leads/{lead.pk}/edit/",
        f"/leads/{lead.pk}/convert/",
        f"/settings/web-forms/{form.pk}/",
        f"/api/v1/leads/{lead.pk}/",
        f"/api/v1/forms/{form.pk}/",
    ):
        assert owner_client_b.get(url).status_code == 404, url
    converted = owner_client_b.post(f"/api/v1/leads/{lead.pk}/convert/", {}, content_type=JSON)
    assert converted.status_code == 404
    assert owner_client_b.post(f"/leads/{lead.pk}/convert/", {}).status_code == 404
    changed = owner_client_b.patch(
        f"/api/v1/leads/{lead.pk}/", {"first_name": "Stolen"}, content_type=JSON
    )
    assert changed.status_code == 404
    assert owner_client_b.delete(f"/api/v1/leads/{lead.pk}/").status_code == 404
    listed = owner_client_b.get("/api/v1/leads/?search=isolde").json()["results"]
    assert listed == []
    assert owner_client_b.get("/api/v1/forms/").json() == []
    sources = [s["name"] for s in owner_client_b.get("/api/v1/lead-sources/").json()]
    assert "Alpha secret source" not in sources
    with schema_context(tenant_a.schema_name):
        kept = Lead.objects.get(pk=lead.pk)
        assert kept.first_name == "Isolde" and kept.status == "new"


def test_public_form_is_only_served_on_its_own_host(tenant_a: Tenant, tenant_b: Tenant) -> None:
    _, form = _a_lead_and_form(tenant_a)
    on_b = Client(HTTP_HOST=f"{tenant_b.slug}.localhost", REMOTE_ADDR="2001:db8::b")
    assert on_b.get(f"/f/{form.public_id}/").status_code == 404
    sent = on_b.post(f"/f/{form.public_id}/", {"email": "x@example.com"})
    assert sent.status_code == 404
    on_a = Client(HTTP_HOST=f"{tenant_a.slug}.localhost", REMOTE_ADDR="2001:db8::a")
    assert on_a.get(f"/f/{form.public_id}/").status_code == 200
    with schema_context(tenant_b.schema_name):
        assert not Lead.objects.exists()


def test_conversion_in_b_cannot_reach_a_records(tenant_a: Tenant, tenant_b: Tenant) -> None:
    lead, _ = _a_lead_and_form(tenant_a)
    with schema_context(tenant_b.schema_name):
        owner_b = _owner(tenant_b)
        mine = lead_create(actor=owner_b, first_name="Bea", email="bea@beta.example")
        result = lead_convert(actor=owner_b, lead=mine)
        assert result.contact.first_name == "Bea"
    with schema_context(tenant_a.schema_name):
        assert Lead.objects.get(pk=lead.pk).status == "new"
