"""The leads pages and the Convert page, through Django's test client."""

from __future__ import annotations

import pytest
from django.test import Client
from django_tenants.utils import schema_context

from apps.accounts.models import User
from apps.companies.services import company_create
from apps.contacts.models import Contact
from apps.contacts.services import contact_create
from apps.leads.models import Lead, LeadSource
from apps.records.services import customfield_create
from tenants.models import Tenant
from tests.leads.conftest import client_for, make_lead

pytestmark = pytest.mark.django_db


def _pk(response: object) -> int:
    return int(response["Location"].rstrip("/").split("/")[-1])  # type: ignore[index]


def test_create_list_detail_and_edit(owner_client_a: Client, tenant_a: Tenant) -> None:
    with schema_context(tenant_a.schema_name):
        source = LeadSource.objects.create(name="Event")
    empty = owner_client_a.get("/leads/").content.decode()
    assert "New lead" in empty
    created = owner_client_a.post(
        "/leads/new/",
        {
            "first_name": "Jane",
            "last_name": "Doe",
            "email": "jane@acme.example",
            "company_name": "Acme",
            "source": source.pk,
            "status": "new",
            "utm_campaign": "spring-sale",
            "referrer": "https://news.example/post",
            "landing_page": "https://acme.example/",
            "tags": "hot",
        },
    )
    assert created.status_code == 302, created.content.decode()[:3000]
    pk = _pk(created)
    listed = owner_client_a.get("/leads/?utm_campaign=spring-sale").content.decode()
    assert "Jane Doe" in listed and "Event" in listed
    detail = owner_client_a.get(f"/leads/{pk}/").content.decode()
    for text in ("spring-sale", "https://news.example/post", "https://acme.example/", "Convert"):
        assert text in detail
    edit = owner_client_a.get(f"/leads/{pk}/edit/").content.decode()
    assert 'value="jane@acme.example"' in edit
    saved = owner_client_a.post(
        f"/leads/{pk}/edit/",
        {"first_name": "Jane", "last_name": "Doe", "status": "qualified", "email": "bad"},
    )
    assert saved.status_code == 200 and "not an email address" in saved.content.decode()
    saved = owner_client_a.post(
        f"/leads/{pk}/edit/", {"first_name": "Jane", "last_name": "Doe", "status": "qualified"}
    )
    assert saved.status_code == 302
    found = owner_client_a.get("/search/?q=jane").content.decode()
    assert f"/leads/{pk}/" in found


def test_duplicate_warning_links_the_contact(owner_client_a: Client, tenant_a: Tenant) -> None:
    with schema_context(tenant_a.schema_name):
        owner = User.objects.get(email="owner@alpha.test")
        contact = contact_create(actor=owner, first_name="Grace", email="grace@navy.example")
    data = {"first_name": "Grace", "email": "grace@navy.example", "status": "new"}
    warned = owner_client_a.post("/leads/new/", data).content.decode()
    assert "looks like a duplicate" in warned
    assert f'href="/contacts/{contact.pk}/"' in warned and "(contact)" in warned
    saved = owner_client_a.post("/leads/new/", {**data, "allow_duplicate": "1"})
    assert saved.status_code == 302


def test_convert_page_creates_contact_company_and_deal(
    owner_client_a: Client, tenant_a: Tenant
) -> None:
    with schema_context(tenant_a.schema_name):
        owner = User.objects.get(email="owner@alpha.test")
        customfield_create(actor=owner, entity="lead", label="Budget", type="number")
        customfield_create(actor=owner, entity="deal", label="Budget", type="number")
        lead = make_lead(
            owner,
            first_name="Ada",
            last_name="King",
            email="ada@engines.example",
            company_name="Engines",
            custom_fields={"budget": 700},
        )
    page = owner_client_a.get(f"/leads/{lead.pk}/convert/").content.decode()
    assert "Create a new contact: Ada King" in page
    assert "Create a new company: Engines" in page
    assert 'name="map_budget" value="deal.budget" checked' in page
    bad = owner_client_a.post(
        f"/leads/{lead.pk}/convert/",
        {
            "contact_choice": "new",
            "company_choice": "new",
            "create_deal": "on",
            "deal_title": "Engines deal",
            "deal_currency": "E1",
        },
    )
    assert bad.status_code == 200 and "three-letter code" in bad.content.decode()
    done = owner_client_a.post(
        f"/leads/{lead.pk}/convert/",
        {
            "contact_choice": "new",
            "company_choice": "new",
            "create_deal": "on",
            "deal_title": "Engines deal",
            "deal_value": "4200",
            "map_budget": "deal.budget",
        },
        follow=True,
    )
    page = done.content.decode()
    with schema_context(tenant_a.schema_name):
        lead.refresh_from_db()
        contact = lead.converted_contact
        assert contact is not None and lead.converted_deal is not None
        assert lead.converted_deal.custom_fields == {"budget": 700}
        assert lead.converted_company is not None and lead.converted_company.name == "Engines"
    assert done.redirect_chain[-1][0] == f"/contacts/{contact.pk}/"
    assert "Converted Ada King into this contact" in page and "Engines deal" in page
    assert "From lead Ada King" in page
    again = owner_client_a.get(f"/leads/{lead.pk}/convert/", follow=True)
    assert "already converted" in again.content.decode()
    detail = owner_client_a.get(f"/leads/{lead.pk}/").content.decode()
    assert "Converted on" in detail and f"/contacts/{contact.pk}/" in detail
    assert f'href="/leads/{lead.pk}/convert/"' not in detail
    # A converted lead can still be corrected, but its status is no longer offered.
    edit = owner_client_a.get(f"/leads/{lead.pk}/edit/").content.decode()
    assert 'name="status"' not in edit
    fixed = owner_client_a.post(
        f"/leads/{lead.pk}/edit/", {"first_name": "Ada", "last_name": "King-Byron"}
    )
    assert fixed.status_code == 302
    with schema_context(tenant_a.schema_name):
        lead.refresh_from_db()
        assert (lead.last_name, lead.status) == ("King-Byron", "converted")


def test_convert_page_suggests_and_links_existing_records(
    owner_client_a: Client, tenant_a: Tenant
) -> None:
    with schema_context(tenant_a.schema_name):
        owner = User.objects.get(email="owner@alpha.test")
        contact = contact_create(actor=owner, first_name="Ada", email="ada@engines.example")
        company = company_create(actor=owner, name="Engines")
        lead = make_lead(
            owner, first_name="Ada", email="ada@engines.example", company_name="Engines"
        )
    page = owner_client_a.get(f"/leads/{lead.pk}/convert/").content.decode()
    assert f'value="link:{contact.pk}"' in page and "Link existing contact" in page
    assert f'value="link:{company.pk}"' in page and "Link existing company Engines" in page
    done = owner_client_a.post(
        f"/leads/{lead.pk}/convert/",
        {"contact_choice": f"link:{contact.pk}", "company_choice": f"link:{company.pk}"},
    )
    assert done["Location"] == f"/contacts/{contact.pk}/"
    with schema_context(tenant_a.schema_name):
        assert Contact.objects.filter(first_name="Ada").count() == 1
        assert list(contact.companies.all()) == [company]


def test_convert_page_handles_vanished_records_and_no_company(
    owner_client_a: Client, tenant_a: Tenant
) -> None:
    with schema_context(tenant_a.schema_name):
        owner = User.objects.get(email="owner@alpha.test")
        lead = make_lead(owner, first_name="Solo", email="solo@gmail.com")
    page = owner_client_a.get(f"/leads/{lead.pk}/convert/").content.decode()
    assert "No company" in page and "Create a new company" not in page
    gone = owner_client_a.post(
        f"/leads/{lead.pk}/convert/", {"contact_choice": "new", "company_choice": "link:99999"}
    )
    assert gone.status_code == 200
    done = owner_client_a.post(
        f"/leads/{lead.pk}/convert/", {"contact_choice": "new", "company_choice": "none"}
    )
    assert done.status_code == 302
    with schema_context(tenant_a.schema_name):
        lead.refresh_from_db()
        assert lead.converted_company is None


def test_rep_cannot_convert_others_and_readonly_is_refused(
    tenant_a: Tenant, owner: User, rep: User, readonly: User
) -> None:
    theirs = make_lead(owner, first_name="Boss")
    rep_client = client_for(tenant_a, rep)
    assert rep_client.get(f"/leads/{theirs.pk}/").status_code == 404
    assert rep_client.get(f"/leads/{theirs.pk}/convert/").status_code == 404
    ro_client = client_for(tenant_a, readonly)
    assert ro_client.get(f"/leads/{theirs.pk}/").status_code == 200
    assert ro_client.get(f"/leads/{theirs.pk}/convert/").status_code == 403
    assert ro_client.post(f"/leads/{theirs.pk}/convert/", {}).status_code == 403
    assert ro_client.get("/leads/new/").status_code == 403
    with schema_context(tenant_a.schema_name):
        assert Lead.objects.get(pk=theirs.pk).status == "new"


def test_duplicates_page_merge_and_sources_offered(
    owner_client_a: Client, tenant_a: Tenant
) -> None:
    with schema_context(tenant_a.schema_name):
        owner = User.objects.get(email="owner@alpha.test")
        a = make_lead(owner, first_name="Bo", last_name="Peep", email="bo@sheep.example")
        b = make_lead(owner, first_name="Bo", last_name="Peep", email="bo@sheep.example")
        LeadSource.objects.create(name="Old fair", archived=True)
        LeadSource.objects.create(name="Newsletter")
    page = owner_client_a.get("/leads/duplicates/").content.decode()
    assert "Bo Peep" in page and "same email" in page
    merged = owner_client_a.post(
        "/leads/merge/", {"ids": [a.pk, b.pk], "survivor": a.pk}, follow=True
    )
    assert "Merged 1 record(s) into Bo Peep" in merged.content.decode()
    form = owner_client_a.get("/leads/new/").content.decode()
    assert "Newsletter" in form and "Old fair" not in form


def test_export_lists_leads_with_their_campaign(owner_client_a: Client, tenant_a: Tenant) -> None:
    with schema_context(tenant_a.schema_name):
        owner = User.objects.get(email="owner@alpha.test")
        source = LeadSource.objects.create(name="Event")
        make_lead(owner, first_name="Exported", source=source, utm_campaign="expo-2026")
    response = owner_client_a.get("/leads/export/?utm_campaign=expo-2026")
    body = b"".join(response.streaming_content).decode()  # type: ignore[attr-defined]
    assert "Exported" in body and "Event" in body and "expo-2026" in body
    api = owner_client_a.get("/api/v1/leads/export/")
    assert "Exported" in b"".join(api.streaming_content).decode()  # type: ignore[attr-defined]
