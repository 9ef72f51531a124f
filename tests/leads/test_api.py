"""Leads, lead sources, conversion and web forms through the REST API."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django_tenants.utils import schema_context

from apps.accounts.models import User
from apps.contacts.services import contact_create
from apps.leads.models import Lead, LeadSource, WebForm
from tenants.models import Tenant
from tests.leads.conftest import client_for, make_lead

pytestmark = pytest.mark.django_db
JSON = "application/json"


def post(client: Client, url: str, body: Any) -> Any:
    return client.post(url, body, content_type=JSON)


def patch(client: Client, url: str, body: Any) -> Any:
    return client.patch(url, body, content_type=JSON)


def test_lead_crud_shape_and_filters(owner_client_a: Client, tenant_a: Tenant) -> None:
    with schema_context(tenant_a.schema_name):
        LeadSource.objects.create(name="Website")
    created = post(
        owner_client_a,
        "/api/v1/leads/",
        {
            "first_name": "Jane",
            "last_name": "Doe",
            "email": "Jane@Acme.example",
            "company_name": "Acme",
            "source": "website",
            "utm_source": "google",
            "utm_campaign": "spring",
            "tags": ["hot"],
        },
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["email"] == "jane@acme.example" and body["source"] == "Website"
    assert body["status"] == "new" and body["tags"] == ["hot"]
    assert body["converted_contact"] is None and body["custom_fields"] == {}
    for name in ("utm_medium", "utm_term", "utm_content", "referrer", "landing_page", "owner"):
        assert name in body
    post(owner_client_a, "/api/v1/leads/", {"first_name": "Other", "utm_campaign": "autumn"})
    listed = owner_client_a.get("/api/v1/leads/?utm_campaign=spring").json()
    assert [r["first_name"] for r in listed["results"]] == ["Jane"]
    assert listed["results"][0]["source"] == "Website" and listed["results"][0]["tags"] == ["hot"]
    for query in ("search=jane", "source=Website", "status=new&tag=hot", "ordering=first_name"):
        found = owner_client_a.get(f"/api/v1/leads/?{query}").json()["results"]
        assert "Jane" in [r["first_name"] for r in found], query
    changed = patch(owner_client_a, f"/api/v1/leads/{body['id']}/", {"status": "qualified"})
    assert changed.json()["status"] == "qualified" and changed.json()["source"] == "Website"
    cleared = patch(owner_client_a, f"/api/v1/leads/{body['id']}/", {"source": None})
    assert cleared.json()["source"] is None
    assert owner_client_a.get(f"/api/v1/leads/{body['id']}/timeline/").status_code == 200
    assert owner_client_a.delete(f"/api/v1/leads/{body['id']}/").status_code == 204
    assert owner_client_a.get(f"/api/v1/leads/{body['id']}/").status_code == 404


def test_errors_use_the_envelope(owner_client_a: Client) -> None:
    nameless = post(owner_client_a, "/api/v1/leads/", {"title": "Ghost"})
    assert nameless.status_code == 400
    assert nameless.json()["error"]["field"] == "first_name"
    unknown = post(owner_client_a, "/api/v1/leads/", {"first_name": "X", "source": "Nowhere"})
    assert unknown.json()["error"]["field"] == "source"
    status = post(owner_client_a, "/api/v1/leads/", {"first_name": "X", "status": "won"})
    assert status.json()["error"]["code"] == "validation_error"
    bad_filter = owner_client_a.get("/api/v1/leads/?created_at__gt=yesterday")
    assert bad_filter.status_code == 400
    missing = owner_client_a.get("/api/v1/leads/999999/")
    assert missing.status_code == 404 and "error" in missing.json()


def test_duplicates_answer_409_with_leads_and_contacts(
    owner_client_a: Client, tenant_a: Tenant
) -> None:
    with schema_context(tenant_a.schema_name):
        owner = User.objects.get(email="owner@alpha.test")
        contact = contact_create(actor=owner, first_name="Grace", email="grace@navy.example")
    first = post(owner_client_a, "/api/v1/leads/", {"first_name": "G", "email": "g@x.example"})
    assert first.status_code == 201
    conflict = post(
        owner_client_a, "/api/v1/leads/", {"first_name": "Grace", "email": "GRACE@navy.example"}
    )
    assert conflict.status_code == 409
    error = conflict.json()["error"]
    assert error["code"] == "duplicate_suspected"
    assert error["details"]["contacts"] == [contact.pk]
    assert error["details"]["candidates"] == [contact.pk] and error["details"]["leads"] == []
    again = post(owner_client_a, "/api/v1/leads/", {"first_name": "G2", "email": "g@x.example"})
    assert again.json()["error"]["details"]["leads"] == [first.json()["id"]]
    allowed = post(
        owner_client_a,
        "/api/v1/leads/?allow_duplicate=true",
        {"first_name": "Grace", "email": "grace@navy.example"},
    )
    assert allowed.status_code == 201
    pairs = owner_client_a.get("/api/v1/leads/duplicates/").json()["results"]
    assert pairs == [] or all("reasons" in p for p in pairs)
    bulk = post(
        owner_client_a,
        "/api/v1/leads/bulk/",
        {"items": [{"first_name": "G3", "email": "g@x.example"}]},
    )
    assert bulk.status_code == 400


def test_convert_endpoint(owner_client_a: Client, tenant_a: Tenant) -> None:
    lead = post(
        owner_client_a,
        "/api/v1/leads/",
        {
            "first_name": "Ada",
            "last_name": "King",
            "email": "ada@engines.example",
            "company_name": "Engines",
        },
    ).json()
    bad = post(
        owner_client_a,
        f"/api/v1/leads/{lead['id']}/convert/",
        {"create_deal": True, "deal": {"value": "lots"}},
    )
    assert bad.status_code == 400 and bad.json()["error"]["field"] == "deal.value"
    assert owner_client_a.get(f"/api/v1/leads/{lead['id']}/").json()["status"] == "new"
    done = post(
        owner_client_a,
        f"/api/v1/leads/{lead['id']}/convert/",
        {"create_deal": True, "deal": {"title": "Engines deal", "value": "5000"}},
    )
    assert done.status_code == 200, done.content
    body = done.json()
    assert body["contact"] and body["company"] and body["deal"]
    assert body["lead"]["status"] == "converted"
    assert body["lead"]["converted_contact"] == body["contact"]
    assert body["lead"]["converted_deal"] == body["deal"]
    contact = owner_client_a.get(f"/api/v1/contacts/{body['contact']}/").json()
    assert contact["companies"] == [body["company"]]
    timeline = owner_client_a.get(f"/api/v1/contacts/{body['contact']}/timeline/").json()
    assert any(i["title"].startswith("From lead Ada King") for i in timeline["results"])
    twice = post(owner_client_a, f"/api/v1/leads/{lead['id']}/convert/", {})
    assert twice.status_code == 400 and twice.json()["error"]["field"] == "lead"
    assert "already converted" in twice.json()["error"]["message"]


def test_convert_links_given_records_and_refuses_unknown_ones(
    owner_client_a: Client, tenant_a: Tenant
) -> None:
    with schema_context(tenant_a.schema_name):
        owner = User.objects.get(email="owner@alpha.test")
        contact = contact_create(actor=owner, first_name="Existing")
        lead = make_lead(owner, first_name="Lead", email="lead@example.com")
    missing = post(owner_client_a, f"/api/v1/leads/{lead.pk}/convert/", {"contact": 999999})
    assert missing.status_code == 400 and missing.json()["error"]["field"] == "contact"
    missing = post(owner_client_a, f"/api/v1/leads/{lead.pk}/convert/", {"company": 999999})
    assert missing.json()["error"]["field"] == "company"
    mode = post(owner_client_a, f"/api/v1/leads/{lead.pk}/convert/", {"company_mode": "maybe"})
    assert mode.json()["error"]["field"] == "company_mode"
    linked = post(
        owner_client_a,
        f"/api/v1/leads/{lead.pk}/convert/",
        {"contact": contact.pk, "company_mode": "none", "field_mapping": {}},
    )
    assert linked.json()["contact"] == contact.pk and linked.json()["company"] is None


def test_rep_cannot_see_or_convert_others_leads(tenant_a: Tenant, rep: User, owner: User) -> None:
    theirs = make_lead(owner, first_name="Boss lead")
    mine = make_lead(rep, first_name="Rep lead")
    client = client_for(tenant_a, rep)
    ids = [r["id"] for r in client.get("/api/v1/leads/").json()["results"]]
    assert ids == [mine.pk]
    assert post(client, f"/api/v1/leads/{theirs.pk}/convert/", {}).status_code == 404
    assert patch(client, f"/api/v1/leads/{theirs.pk}/", {"title": "x"}).status_code == 404


def test_readonly_converts_nothing(tenant_a: Tenant, readonly: User, owner: User) -> None:
    lead = make_lead(owner, first_name="Look only")
    client = client_for(tenant_a, readonly)
    refused = post(client, f"/api/v1/leads/{lead.pk}/convert/", {})
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "permission_denied"
    assert post(client, "/api/v1/leads/", {"first_name": "x"}).status_code == 403
    with schema_context(tenant_a.schema_name):
        lead.refresh_from_db()
        assert lead.status == "new" and Lead.objects.count() == 1


def test_lead_sources_api(owner_client_a: Client, tenant_a: Tenant, rep: User) -> None:
    created = post(owner_client_a, "/api/v1/lead-sources/", {"name": "Podcast"})
    assert created.status_code == 201, created.content
    pk = created.json()["id"]
    dupe = post(owner_client_a, "/api/v1/lead-sources/", {"name": "podcast"})
    assert dupe.status_code == 400 and dupe.json()["error"]["field"] == "name"
    renamed = patch(owner_client_a, f"/api/v1/lead-sources/{pk}/", {"name": "Podcasts"})
    assert renamed.json()["name"] == "Podcasts"
    client = client_for(tenant_a, rep)
    assert [s["name"] for s in client.get("/api/v1/lead-sources/").json()] == ["Podcasts"]
    assert post(client, "/api/v1/lead-sources/", {"name": "Mine"}).status_code == 403
    assert owner_client_a.delete(f"/api/v1/lead-sources/{pk}/").status_code == 204


def test_forms_api_is_admin_only_with_nested_fields(
    owner_client_a: Client, tenant_a: Tenant, rep: User, other_rep: User
) -> None:
    body = {
        "name": "Demo request",
        "title": "Book a demo",
        "fields": [
            {"target": "first_name", "required": True},
            {"target": "email", "label": "Work email", "required": True},
        ],
        "assignment": "round_robin",
        "round_robin_users": [rep.pk, other_rep.pk],
        "tags": ["demo"],
    }
    created = post(owner_client_a, "/api/v1/forms/", body)
    assert created.status_code == 201, created.content
    form = created.json()
    assert form["public_id"] and form["hosted_url"].endswith(f"/f/{form['public_id']}/")
    assert [f["target"] for f in form["fields"]] == ["first_name", "email"]
    assert form["fields"][0]["label"] == "First name" and form["tags"] == ["demo"]
    assert set(form["round_robin_users"]) == {rep.pk, other_rep.pk}
    changed = patch(
        owner_client_a,
        f"/api/v1/forms/{form['id']}/",
        {"active": False, "fields": [{"target": "email", "required": True}]},
    )
    assert changed.status_code == 200, changed.content
    assert changed.json()["active"] is False and len(changed.json()["fields"]) == 1
    bad = post(owner_client_a, "/api/v1/forms/", {**body, "fields": [{"target": "password"}]})
    assert bad.status_code == 400 and bad.json()["error"]["field"] == "fields"
    nobody = post(owner_client_a, "/api/v1/forms/", {**body, "round_robin_users": []})
    assert nobody.json()["error"]["field"] == "round_robin_users"
    assert owner_client_a.get("/api/v1/forms/").json()[0]["name"] == "Demo request"
    assert owner_client_a.get("/api/v1/forms/999/").status_code == 404
    client = client_for(tenant_a, rep)
    assert client.get("/api/v1/forms/").status_code == 403
    assert post(client, "/api/v1/forms/", body).status_code == 403
    assert owner_client_a.delete(f"/api/v1/forms/{form['id']}/").status_code == 204
    with schema_context(tenant_a.schema_name):
        assert not WebForm.objects.exists()
        assert Lead.objects.count() == 0


def test_merge_and_undo_through_the_api(owner_client_a: Client, tenant_a: Tenant) -> None:
    with schema_context(tenant_a.schema_name):
        owner = User.objects.get(email="owner@alpha.test")
        survivor = make_lead(owner, first_name="Ann", email="ann@x.example")
        merged = make_lead(owner, first_name="Ann", email="ann@x.example", title="CTO")
    pairs = owner_client_a.get("/api/v1/leads/duplicates/").json()["results"]
    assert {"ids": [survivor.pk, merged.pk], "reasons": ["same email", "same name"]} in pairs
    done = post(
        owner_client_a,
        "/api/v1/leads/merge/",
        {"survivor": survivor.pk, "merged": [merged.pk], "values": {"title": merged.pk}},
    )
    assert done.status_code == 200, done.content
    assert done.json()["survivor"]["title"] == "CTO"
    assert owner_client_a.get(f"/api/v1/leads/{merged.pk}/").status_code == 404
    undo = post(owner_client_a, f"/api/v1/merges/{done.json()['merge_id']}/undo/", {})
    assert undo.status_code == 200, undo.content
    assert owner_client_a.get(f"/api/v1/leads/{merged.pk}/").status_code == 200


def test_schema_describes_lead_custom_fields(owner_client_a: Client, tenant_a: Tenant) -> None:
    from apps.records.services import customfield_create

    with schema_context(tenant_a.schema_name):
        owner = User.objects.get(email="owner@alpha.test")
        customfield_create(actor=owner, entity="lead", label="Budget", type="number")
    schema = owner_client_a.get("/api/v1/schema/?format=json").json()
    lead = schema["components"]["schemas"]["Lead"]["properties"]
    assert lead["custom_fields"]["properties"]["budget"]["type"] == "number"
    assert "/api/v1/leads/{id}/convert/" in schema["paths"]
