from __future__ import annotations

import pytest
from django.test import Client
from django_tenants.utils import schema_context

from apps.accounts.models import User
from apps.accounts.roles import Role
from apps.accounts.services import user_set_role
from apps.apikeys.services import api_key_create
from apps.audit.models import AuditEntry
from apps.companies.models import Company
from tenants.models import Tenant
from tests.conftest import login, tenant_client
from tests.factories import make_user

pytestmark = pytest.mark.django_db


def test_create_list_search_and_validation(owner_client_a: Client) -> None:
    created = owner_client_a.post(
        "/api/v1/companies/",
        {"name": " Acme ", "domain": "ACME.com"},
        content_type="application/json",
    )
    assert created.status_code == 201
    assert created.json()["name"] == "Acme" and created.json()["domain"] == "acme.com"
    owner_client_a.post("/api/v1/companies/", {"name": "Globex"}, content_type="application/json")
    found = owner_client_a.get("/api/v1/companies/?search=glo").json()["results"]
    assert [c["name"] for c in found] == ["Globex"]
    blank = owner_client_a.post(
        "/api/v1/companies/", {"name": "  "}, content_type="application/json"
    )
    assert blank.status_code == 400 and blank.json()["error"]["field"] == "name"


def test_share_through_the_api(owner_client_a: Client, tenant_a: Tenant) -> None:
    with schema_context(tenant_a.schema_name):
        rep = make_user(email="share-target@alpha.test", password="a-long-test-password")
        user_set_role(user=rep, role=Role.REP)
    pk = owner_client_a.post(
        "/api/v1/companies/", {"name": "Shared via API"}, content_type="application/json"
    ).json()["id"]
    rep_client = login(tenant_client(tenant_a), tenant_a, rep.email)
    assert rep_client.get(f"/api/v1/companies/{pk}/").status_code == 404
    shared = owner_client_a.post(
        f"/api/v1/companies/{pk}/share/",
        {"user": rep.pk, "level": "view"},
        content_type="application/json",
    )
    assert shared.status_code == 200
    assert rep_client.get(f"/api/v1/companies/{pk}/").status_code == 200
    bad = owner_client_a.post(
        f"/api/v1/companies/{pk}/share/", {"level": "view"}, content_type="application/json"
    )
    assert bad.status_code == 400
    with schema_context(tenant_a.schema_name):
        entry = AuditEntry.objects.get(action="record.shared")
    assert entry.detail == {"with": "share-target@alpha.test", "level": "view"}


def test_a_key_without_a_user_creates_for_the_first_owner(tenant_a: Tenant) -> None:
    with schema_context(tenant_a.schema_name):
        secret = api_key_create(name="cli", role=Role.ADMIN).secret
        owner = User.objects.get(email="owner@alpha.test")
    api = Client(HTTP_HOST="alpha.localhost", HTTP_AUTHORIZATION=f"Bearer {secret}")
    created = api.post("/api/v1/companies/", {"name": "By key"}, content_type="application/json")
    assert created.status_code == 201 and created.json()["owner"] == owner.pk


def test_owner_must_be_an_active_member(owner_client_a: Client, tenant_a: Tenant) -> None:
    with schema_context(tenant_a.schema_name):
        gone = make_user(email="gone@alpha.test", is_active=False)
    response = owner_client_a.post(
        "/api/v1/companies/", {"name": "X", "owner": gone.pk}, content_type="application/json"
    )
    assert response.status_code == 400 and response.json()["error"]["field"] == "owner"


def test_web_list_detail_and_empty_state(owner_client_a: Client, tenant_a: Tenant) -> None:
    assert b"No companies" in owner_client_a.get("/companies/").content
    page = owner_client_a.post("/companies/new/", {"name": "Initech", "domain": ""}, follow=True)
    assert b"Created Initech" in page.content
    with schema_context(tenant_a.schema_name):
        pk = Company.objects.get(name="Initech").pk
    assert b"Initech" in owner_client_a.get("/companies/?q=init").content
    detail = owner_client_a.get(f"/companies/{pk}/").content.decode()
    assert 'label for="id_who">Share with' in detail and "Team " not in detail
    invalid = owner_client_a.post(f"/companies/{pk}/edit/", {"name": ""})
    assert b"This field is required" in invalid.content
    assert owner_client_a.get("/companies/999999/").status_code == 404


def test_share_and_reassign_in_the_web_app(owner_client_a: Client, tenant_a: Tenant) -> None:
    with schema_context(tenant_a.schema_name):
        rep = make_user(email="web-share@alpha.test", password="a-long-test-password")
        user_set_role(user=rep, role=Role.REP)
        leaver = make_user(email="leaver2@alpha.test")
        company = Company.objects.create(name="Handover Ltd", owner=leaver)
    rep_client = login(tenant_client(tenant_a), tenant_a, rep.email)
    assert rep_client.get(f"/companies/{company.pk}/").status_code == 404
    shared = owner_client_a.post(
        f"/companies/{company.pk}/share/", {"who": f"user:{rep.pk}", "level": "edit"}, follow=True
    )
    assert b"Shared Handover Ltd" in shared.content
    assert rep_client.get(f"/companies/{company.pk}/").status_code == 200
    assert (
        b"Choose someone"
        in owner_client_a.post(
            f"/companies/{company.pk}/share/", {"who": "", "level": "view"}, follow=True
        ).content
    )
    moved = owner_client_a.post(
        f"/settings/users/{leaver.pk}/reassign/", {"to": rep.pk}, follow=True
    )
    assert b"Moved 1 record from" in moved.content
    with schema_context(tenant_a.schema_name):
        assert Company.objects.get(pk=company.pk).owner_id == rep.pk
        entry = AuditEntry.objects.get(action="user.records_reassigned")
    assert entry.detail["moved"] == {"companies.company": 1}
    same = owner_client_a.post(f"/settings/users/{rep.pk}/reassign/", {"to": rep.pk}, follow=True)
    assert b"Choose someone else" in same.content
    nobody = owner_client_a.post(f"/settings/users/{rep.pk}/reassign/", {}, follow=True)
    assert b"Choose who should receive" in nobody.content


def test_audit_names_people_by_email_and_keys_by_name(
    tenant_a: Tenant, owner_client_a: Client
) -> None:
    owner_client_a.post(
        "/api/v1/companies/", {"name": "By person"}, content_type="application/json"
    )
    with schema_context(tenant_a.schema_name):
        secret = api_key_create(name="Importer", role=Role.ADMIN).secret
    Client(HTTP_HOST="alpha.localhost", HTTP_AUTHORIZATION=f"Bearer {secret}").post(
        "/api/v1/companies/", {"name": "By key"}, content_type="application/json"
    )
    with schema_context(tenant_a.schema_name):
        labels = list(
            AuditEntry.objects.filter(action="company.created")
            .order_by("id")
            .values_list("actor_label", flat=True)
        )
    assert labels[0] == "owner@alpha.test"
    assert labels[1].startswith("API key Importer (kst_")
