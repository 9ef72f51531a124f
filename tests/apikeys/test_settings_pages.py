"""The settings area's API keys and audit log pages: Admins only, everything audited."""

from __future__ import annotations

import pytest
from django.test import Client
from django_tenants.utils import schema_context

from apps.accounts.roles import Role
from apps.accounts.services import user_set_role
from apps.apikeys.models import ApiKey
from apps.audit.models import AuditEntry
from tenants.models import Tenant
from tests.conftest import login, tenant_client
from tests.factories import make_user

pytestmark = pytest.mark.django_db


def test_admin_creates_sees_once_and_revokes_a_key(
    owner_client_a: Client, tenant_a: Tenant
) -> None:
    empty = owner_client_a.get("/settings/api-keys/")
    assert empty.status_code == 200
    created = owner_client_a.post(
        "/settings/api-keys/",
        {
            "name": "Website forms",
            "role": "rep",
            "scopes": "leads:write",
            "expires_in_days": "30",
        },
    )
    assert created.status_code == 200
    secret = created.context["issued"].secret
    assert secret.encode() in created.content and b"only time it is shown" in created.content
    listing = owner_client_a.get("/settings/api-keys/").content.decode()
    assert "Website forms" in listing and secret not in listing
    assert f"kst_{secret.split('_')[1]}_" in listing
    with schema_context(tenant_a.schema_name):
        key = ApiKey.objects.get(name="Website forms")
    assert key.scopes == ["leads:write"] and key.expires_at is not None
    revoked = owner_client_a.post(f"/settings/api-keys/{key.pk}/revoke/", follow=True)
    assert b"Revoked Website forms" in revoked.content
    with schema_context(tenant_a.schema_name):
        actions = set(AuditEntry.objects.values_list("action", flat=True))
    assert {"api_key.created", "api_key.revoked", "user.signed_in"} <= actions


def test_key_form_names_bad_input(owner_client_a: Client) -> None:
    response = owner_client_a.post(
        "/settings/api-keys/", {"name": "", "role": "rep", "scopes": "contacts:delete"}
    )
    body = response.content.decode()
    assert "This field is required" in body and "is not a scope" in body


def test_reps_cannot_open_the_settings_area(tenant_a: Tenant) -> None:
    with schema_context(tenant_a.schema_name):
        rep = make_user(email="rep@alpha.test")
        user_set_role(user=rep, role=Role.REP)
    client = login(tenant_client(tenant_a), tenant_a, "rep@alpha.test")
    for path in ("/settings/api-keys/", "/settings/audit/"):
        response = client.get(path)
        assert response.status_code == 403
        assert b"Admins only" in response.content
    assert (
        client.post("/settings/api-keys/", {"name": "sneaky", "role": "owner"}).status_code == 403
    )
    with schema_context(tenant_a.schema_name):
        assert not ApiKey.objects.filter(name="sneaky").exists()


def test_anonymous_visitors_sign_in_first(client_a: Client) -> None:
    response = client_a.get("/settings/audit/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_audit_log_records_sign_ins_and_failures_and_filters(
    owner_client_a: Client, tenant_a: Tenant
) -> None:
    tenant_client(tenant_a).post(
        "/accounts/login/", {"username": "owner@alpha.test", "password": "wrong"}
    )
    page = owner_client_a.get("/settings/audit/").content.decode()
    assert "user.sign_in_failed" in page and "user.signed_in" in page
    filtered = owner_client_a.get("/settings/audit/?action=user.sign_in_failed")
    shown = {entry.action for entry in filtered.context["page"].object_list}
    assert shown == {"user.sign_in_failed"}
    nothing = owner_client_a.get("/settings/audit/?q=nobody-at-all").content.decode()
    assert "Nothing recorded that matches" in nothing


def test_audit_entries_cannot_be_changed(in_tenant_a: Tenant) -> None:
    from apps.audit.services import audit_record

    entry = audit_record(action="probe")
    entry.action = "tampered"
    with pytest.raises(ValueError, match="cannot be changed"):
        entry.save()


def test_audit_log_is_per_organisation(tenant_a: Tenant, tenant_b: Tenant) -> None:
    from apps.audit.services import audit_record

    with schema_context(tenant_a.schema_name):
        audit_record(action="alpha.only")
    with schema_context(tenant_b.schema_name):
        assert not AuditEntry.objects.filter(action="alpha.only").exists()


def test_owner_has_the_owner_role(in_tenant_a: Tenant) -> None:
    from apps.accounts.models import User

    owner = User.objects.get(email="owner@alpha.test")
    assert owner.role == Role.OWNER and owner.is_admin
    rep = make_user(email="r2@alpha.test")
    assert rep.role is None and not rep.is_admin
    user_set_role(user=rep, role=Role.MANAGER)
    user_set_role(user=rep, role=Role.REP)
    rep = User.objects.get(pk=rep.pk)
    assert rep.role == Role.REP and [g.name for g in rep.groups.all()] == ["Sales rep"]
