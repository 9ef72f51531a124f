"""API keys: issued once, stored hashed, refused the moment they are revoked or expire,
never valid in another organisation; scopes and roles limit what they may do."""

from __future__ import annotations

import io
from datetime import timedelta
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.test import Client
from django.utils import timezone
from django_tenants.utils import schema_context

from apps.accounts.roles import Role
from apps.apikeys.models import ApiKey
from apps.apikeys.scopes import parse_scopes, scope_allows
from apps.apikeys.services import api_key_create, api_key_revoke
from apps.audit.models import AuditEntry
from tenants.models import Tenant

pytestmark = pytest.mark.django_db


def issue(tenant: Tenant, **kwargs: Any) -> str:
    with schema_context(tenant.schema_name):
        return api_key_create(name=str(kwargs.pop("name", "test key")), **kwargs).secret


def call(
    tenant: Tenant,
    secret: str,
    path: str = "/api/v1/me/",
    *,
    scheme: str = "Bearer",
    method: str = "get",
    **extra: Any,
) -> Any:
    client = Client(HTTP_HOST=f"{tenant.slug}.localhost")
    return getattr(client, method)(
        path, HTTP_AUTHORIZATION=f"{scheme} {secret}", content_type="application/json", **extra
    )


def test_key_works_with_both_header_schemes(tenant_a: Tenant) -> None:
    secret = issue(tenant_a, role=Role.MANAGER)
    for scheme in ("Bearer", "Api-Key"):
        body = call(tenant_a, secret, scheme=scheme).json()
        assert body["type"] == "api_key"
        assert body["role"] == "manager"
        assert body["organisation"]["slug"] == "alpha"


def test_key_is_stored_only_as_a_hash(tenant_a: Tenant) -> None:
    secret = issue(tenant_a)
    _, prefix, hidden = secret.split("_", 2)
    with schema_context(tenant_a.schema_name):
        key = ApiKey.objects.get(prefix=prefix)
        row = ApiKey.objects.filter(pk=key.pk).values().first()
    assert row is not None
    stored = " ".join(str(v) for v in row.values())
    assert hidden not in stored
    assert len(key.secret_hash) == 64


def test_revoked_key_is_refused_on_its_next_request(tenant_a: Tenant) -> None:
    secret = issue(tenant_a)
    assert call(tenant_a, secret).status_code == 200
    with schema_context(tenant_a.schema_name):
        api_key_revoke(key=ApiKey.objects.get(prefix=secret.split("_")[1]), actor=None)
    refused = call(tenant_a, secret)
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "authentication_failed"


def test_expired_key_is_refused(tenant_a: Tenant) -> None:
    secret = issue(tenant_a, expires_at=timezone.now() + timedelta(hours=1))
    assert call(tenant_a, secret).status_code == 200
    with schema_context(tenant_a.schema_name):
        ApiKey.objects.filter(prefix=secret.split("_")[1]).update(
            expires_at=timezone.now() - timedelta(seconds=1)
        )
    assert call(tenant_a, secret).status_code == 401


def test_key_of_one_organisation_is_refused_by_another(tenant_a: Tenant, tenant_b: Tenant) -> None:
    secret = issue(tenant_a)
    assert call(tenant_a, secret).status_code == 200
    refused = call(tenant_b, secret)
    assert refused.status_code == 401
    assert "alpha" not in refused.content.decode().lower()


@pytest.mark.parametrize("token", ["", "garbage", "kst_nope_nope", "kst_a_b_c", "Bearer"])
def test_malformed_keys_are_refused(tenant_a: Tenant, token: str) -> None:
    assert call(tenant_a, token).status_code == 401


def test_tampered_secret_is_refused(tenant_a: Tenant) -> None:
    secret = issue(tenant_a)
    assert (
        call(tenant_a, secret[:-2] + ("AA" if not secret.endswith("AA") else "BB")).status_code
        == 401
    )


def test_last_use_is_recorded_at_most_once_a_minute(tenant_a: Tenant) -> None:
    secret = issue(tenant_a)
    prefix = secret.split("_")[1]
    call(tenant_a, secret)
    with schema_context(tenant_a.schema_name):
        first = ApiKey.objects.get(prefix=prefix).last_used_at
    call(tenant_a, secret)
    with schema_context(tenant_a.schema_name):
        assert first is not None and ApiKey.objects.get(prefix=prefix).last_used_at == first


def test_read_only_key_never_writes(tenant_a: Tenant) -> None:
    secret = issue(tenant_a, role=Role.READONLY)
    assert call(tenant_a, secret).status_code == 200
    refused = call(tenant_a, secret, "/api/v1/api-keys/", method="post", data={"name": "x"})
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "permission_denied"


def test_scopes_limit_resources(tenant_a: Tenant) -> None:
    reader = issue(tenant_a, scopes="api-keys:read")
    assert call(tenant_a, reader, "/api/v1/api-keys/").status_code == 200
    assert (
        call(tenant_a, reader, "/api/v1/api-keys/", method="post", data={"name": "x"}).status_code
        == 403
    )
    other = issue(tenant_a, scopes="contacts:write")
    assert call(tenant_a, other, "/api/v1/api-keys/").status_code == 403


def test_scope_rules() -> None:
    assert parse_scopes("Contacts:READ, deals:write deals:write") == [
        "contacts:read",
        "deals:write",
    ]
    with pytest.raises(ValidationError, match="not a scope"):
        parse_scopes("contacts:delete")
    assert scope_allows([], resource="contacts", write=True)
    assert scope_allows(["contacts:write"], resource="contacts", write=False)
    assert not scope_allows(["contacts:read"], resource="contacts", write=True)
    assert scope_allows(["*:read"], resource="deals", write=False)
    assert not scope_allows(["*:read"], resource="deals", write=True)


def test_bad_key_requests_are_explained(in_tenant_a: Tenant) -> None:
    with pytest.raises(ValidationError, match="name"):
        api_key_create(name="  ")
    with pytest.raises(ValidationError, match="Unknown role"):
        api_key_create(name="k", role="superhero")
    with pytest.raises(ValidationError, match="future"):
        api_key_create(name="k", expires_at=timezone.now() - timedelta(days=1))


def test_admins_manage_keys_through_the_api(tenant_a: Tenant) -> None:
    admin = issue(tenant_a, role=Role.ADMIN)
    created = call(
        tenant_a,
        admin,
        "/api/v1/api-keys/",
        method="post",
        data={"name": "Zapier", "role": "rep", "scopes": ["contacts:read"]},
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["key"].startswith("kst_") and body["role"] == "rep"
    assert call(tenant_a, body["key"]).json()["api_key"]["scopes"] == ["contacts:read"]
    listed = call(tenant_a, admin, "/api/v1/api-keys/").json()
    assert "key" not in listed["results"][0] and "secret_hash" not in listed["results"][0]
    revoked = call(tenant_a, admin, f"/api/v1/api-keys/{body['id']}/revoke/", method="post")
    assert revoked.json()["status"] == "revoked"
    assert call(tenant_a, body["key"]).status_code == 401
    bad = call(
        tenant_a, admin, "/api/v1/api-keys/", method="post", data={"name": "x", "scopes": ["nope"]}
    )
    assert bad.status_code == 400
    assert bad.json()["error"]["field"] == "scopes"


def test_reps_cannot_manage_keys(tenant_a: Tenant) -> None:
    rep = issue(tenant_a, role=Role.REP)
    refused = call(tenant_a, rep, "/api/v1/api-keys/")
    assert refused.status_code == 403
    assert "Owners and Admins" in refused.json()["error"]["message"]


def test_another_organisations_key_id_is_404(tenant_a: Tenant, tenant_b: Tenant) -> None:
    with schema_context(tenant_b.schema_name):
        theirs = api_key_create(name="beta key").key
    admin = issue(tenant_a, role=Role.ADMIN)
    with schema_context(tenant_a.schema_name):
        ApiKey.objects.filter(pk=theirs.pk).delete()  # make sure the id is free in alpha
    response = call(tenant_a, admin, f"/api/v1/api-keys/{theirs.pk}/revoke/", method="post")
    assert response.status_code == 404
    with schema_context(tenant_b.schema_name):
        assert ApiKey.objects.get(pk=theirs.pk).revoked_at is None


def test_create_api_key_command_prints_the_key_last(tenant_a: Tenant) -> None:
    out = io.StringIO()
    call_command(
        "create_api_key",
        "alpha",
        name="CLI key",
        role="readonly",
        scopes="contacts:read",
        stdout=out,
        stderr=io.StringIO(),
    )
    secret = out.getvalue().strip().splitlines()[-1]
    body = call(tenant_a, secret).json()
    assert body["role"] == "readonly" and body["api_key"]["scopes"] == ["contacts:read"]
    with schema_context(tenant_a.schema_name):
        entry = AuditEntry.objects.filter(action="api_key.created").latest("created_at")
    assert entry.actor_label == "cli" and entry.detail["name"] == "CLI key"


def test_create_api_key_command_errors(tenant_a: Tenant) -> None:
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="No organisation"):
        call_command("create_api_key", "nosuch", name="x")
    with pytest.raises(CommandError, match="not a scope"):
        call_command("create_api_key", "alpha", name="x", scopes="bad")
    out = io.StringIO()
    call_command(
        "create_api_key", "alpha", name="temp", expires_in_days=7, stdout=out, stderr=io.StringIO()
    )
    assert call(tenant_a, out.getvalue().strip()).json()["api_key"]["expires_at"]
