"""Contacts, companies, tags, custom fields, saved views and merges stay in their
organisation: the same ids in another schema are other rows, and nothing of tenant A can be
read, changed, merged or undone from tenant B."""

from __future__ import annotations

import pytest
from django.test import Client
from django_tenants.utils import schema_context

from apps.accounts.models import User
from apps.contacts.models import Contact
from apps.contacts.services import contact_create, contact_merge
from apps.records.models import CustomField, SavedView, Tag
from apps.records.search import global_search
from apps.records.services import customfield_create, savedview_create
from tenants.models import Tenant

pytestmark = pytest.mark.django_db
JSON = "application/json"


def _owner(tenant: Tenant) -> User:
    return User.objects.get(email=f"owner@{tenant.slug}.test")


def test_records_definitions_and_search_stay_in_their_schema(
    tenant_a: Tenant, tenant_b: Tenant
) -> None:
    with schema_context(tenant_a.schema_name):
        owner = _owner(tenant_a)
        customfield_create(actor=owner, entity="contact", label="Secret tier", type="text")
        contact_create(
            actor=owner,
            first_name="Isolde",
            last_name="Private",
            tags=["alpha-only"],
            custom_fields={"secret_tier": "platinum"},
        )
        savedview_create(
            actor=owner, entity="contact", name="A's view", query="", columns=[], shared=True
        )
        assert global_search(owner, "isolde")
    with schema_context(tenant_b.schema_name):
        owner_b = _owner(tenant_b)
        assert not Contact.objects.filter(first_name="Isolde").exists()
        assert not CustomField.objects.filter(key="secret_tier").exists()
        assert not Tag.objects.filter(name="alpha-only").exists()
        assert not SavedView.objects.exists()
        assert global_search(owner_b, "isolde") == []
        # Tenant B's own custom field with the same key is its own definition.
        customfield_create(actor=owner_b, entity="contact", label="Secret tier", type="number")
        made = contact_create(actor=owner_b, first_name="Bea", custom_fields={"secret_tier": "3"})
        assert made.custom_fields == {"secret_tier": 3}


def test_api_and_web_of_another_tenant_refuse_every_id(
    owner_client_a: Client, owner_client_b: Client
) -> None:
    a = owner_client_a.post(
        "/api/v1/contacts/", {"first_name": "Only", "last_name": "Alpha"}, content_type=JSON
    ).json()
    a2 = owner_client_a.post(
        "/api/v1/contacts/?allow_duplicate=true",
        {"first_name": "Only", "last_name": "Alpha"},
        content_type=JSON,
    ).json()
    company = owner_client_a.post(
        "/api/v1/companies/", {"name": "Alpha Only Ltd"}, content_type=JSON
    ).json()
    merged = owner_client_a.post(
        "/api/v1/contacts/merge/", {"survivor": a["id"], "merged": [a2["id"]]}, content_type=JSON
    ).json()
    b = owner_client_b
    for path in (
        f"/api/v1/contacts/{a['id']}/",
        f"/api/v1/companies/{company['id']}/",
        f"/api/v1/contacts/{a['id']}/timeline/",
        f"/contacts/{a['id']}/",
        f"/companies/{company['id']}/",
        f"/api/v1/merges/{merged['merge_id']}/",
    ):
        assert b.get(path).status_code == 404, path
    assert (
        b.post(f"/api/v1/merges/{merged['merge_id']}/undo/", {}, content_type=JSON).status_code
        == 404
    )
    assert b.post(f"/merges/{merged['merge_id']}/undo/").status_code == 404
    link = b.post(
        "/api/v1/contact-links/", {"contact": a["id"], "company": company["id"]}, content_type=JSON
    )
    # Ids in a body are bad values of their field (400 naming it), never a hint of existence.
    assert link.status_code == 400 and link.json()["error"]["field"] == "contact"
    assert (
        b.post(f"/api/v1/contacts/{a['id']}/notes/", {"body": "x"}, content_type=JSON).status_code
        == 404
    )
    bulk = b.patch("/api/v1/contacts/bulk/", [{"id": a["id"], "title": "pwned"}], content_type=JSON)
    assert bulk.status_code == 400
    assert b.get("/api/v1/contacts/?search=alpha").json()["results"] == []
    assert b.get("/api/v1/contacts/duplicates/").json()["results"] == []
    assert owner_client_a.get(f"/api/v1/contacts/{a['id']}/").json()["title"] == ""


def test_merging_across_tenants_is_impossible_even_in_code(
    tenant_a: Tenant, tenant_b: Tenant
) -> None:
    with schema_context(tenant_a.schema_name):
        mine = contact_create(actor=_owner(tenant_a), first_name="Mine")
    with schema_context(tenant_b.schema_name):
        theirs = contact_create(actor=_owner(tenant_b), first_name="Theirs")
        # Tenant A's row does not exist in tenant B's schema: merging it moves nothing there.
        with pytest.raises(Contact.DoesNotExist):
            Contact.objects.get(pk=mine.pk, first_name="Mine")
        contact_merge(actor=_owner(tenant_b), survivor=theirs, merged=[Contact(pk=mine.pk)])
    with schema_context(tenant_a.schema_name):
        assert Contact.objects.get(pk=mine.pk).merged_into_id is None
