from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.test import Client
from django_tenants.utils import schema_context

from apps.accounts.models import User
from tenants import schemas
from tenants.models import AuditEvent, Tenant, TenantStatus
from tenants.provisioning import tenant_provision

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator() -> Client:
    call_command("create_operator", email="ops@kestrel.test", password="operator-password-1")
    client = Client(HTTP_HOST="localhost")
    assert client.login(email="ops@kestrel.test", password="operator-password-1")
    return client


def test_console_requires_staff(tenant_a: Tenant) -> None:
    anonymous = Client(HTTP_HOST="localhost").get("/console/")
    assert anonymous.status_code == 302 and "/console/login/" in anonymous["Location"]
    User.objects.create_user(email="user@kestrel.test", password="plain-user-password")
    client = Client(HTTP_HOST="localhost")
    assert client.login(email="user@kestrel.test", password="plain-user-password")
    assert client.get("/console/").status_code == 403


def test_console_is_not_served_on_tenant_hosts(operator: Client, tenant_a: Tenant) -> None:
    assert Client(HTTP_HOST="alpha.localhost").get("/console/").status_code == 404


def test_console_login_page(tenant_a: Tenant) -> None:
    client = Client(HTTP_HOST="localhost")
    assert b"Operator sign in" in client.get("/console/login/").content
    response = client.post("/console/login/", {"username": "ops@x.test", "password": "nope"})
    assert b"Please enter a correct" in response.content
    failed = AuditEvent.objects.get(action="operator.sign_in_failed")
    assert failed.actor == "ops@x.test" and failed.ip_address == "127.0.0.1"


def test_operator_sign_in_is_audited(operator: Client) -> None:
    assert AuditEvent.objects.filter(action="operator.signed_in", actor="ops@kestrel.test").exists()


def test_tenant_users_signing_in_are_not_in_the_platform_audit(client_a: Client) -> None:
    client_a.post("/accounts/login/", {"username": "owner@alpha.test", "password": "wrong"})
    assert not AuditEvent.objects.filter(action__startswith="operator.").exists()


def test_list_shows_tenants_with_counts_and_search(
    operator: Client, tenant_a: Tenant, tenant_b: Tenant
) -> None:
    page = operator.get("/console/")
    body = page.content.decode()
    assert "Alpha Ltd" in body and "Beta GmbH" in body
    assert page.context["rows"][0][1].users >= 1
    filtered = operator.get("/console/?q=beta").content.decode()
    assert "Beta GmbH" in filtered and "Alpha Ltd" not in filtered
    empty = operator.get("/console/?q=zzz-nothing").content.decode()
    assert "No organisations match" in empty


def test_create_from_console(operator: Client) -> None:
    response = operator.post(
        "/console/tenants/new/",
        {
            "name": "Hooli",
            "slug": "hooli",
            "owner_email": "gavin@hooli.test",
            "plan": "team",
            "owner_password": "",
        },
        follow=True,
    )
    assert response.status_code == 200
    assert b"Created Hooli" in response.content
    tenant = Tenant.objects.get(slug="hooli")
    assert tenant.plan == "team"
    assert AuditEvent.objects.get(action="tenant.created", tenant_slug="hooli").actor == (
        "ops@kestrel.test"
    )
    bad = operator.post(
        "/console/tenants/new/",
        {
            "name": "Hooli",
            "slug": "hooli",
            "owner_email": "x@x.test",
            "plan": "team",
        },
    )
    assert b"already taken" in bad.content


def test_suspend_resume_are_audited(operator: Client) -> None:
    tenant_provision(slug="suspendme", name="Suspend Me", owner_email="s@s.test", use_pool=False)
    operator.post("/console/tenants/suspendme/suspend/", {"reason": "unpaid"})
    assert Tenant.objects.get(slug="suspendme").status == TenantStatus.SUSPENDED
    assert Client(HTTP_HOST="suspendme.localhost").get("/").status_code == 403
    operator.post("/console/tenants/suspendme/resume/")
    assert Tenant.objects.get(slug="suspendme").status == TenantStatus.ACTIVE
    actions = list(
        AuditEvent.objects.filter(tenant_slug="suspendme").values_list("action", "detail")
    )
    assert ("tenant.suspended", {"reason": "unpaid"}) in actions
    assert ("tenant.resumed", {}) in [(a, d) for a, d in actions]
    detail = operator.get("/console/tenants/suspendme/").content.decode()
    assert "tenant.suspended" in detail and "reason=unpaid" in detail
    assert 'href="http://suspendme.localhost/"' in detail  # "Open workspace"


def test_delete_needs_typed_confirmation(
    operator: Client, settings: Any, tmp_path: Path, django_capture_on_commit_callbacks: Any
) -> None:
    settings.MEDIA_ROOT = str(tmp_path)
    tenant_provision(slug="deleteme", name="Delete Me", owner_email="d@d.test", use_pool=False)
    with schema_context("t_deleteme"):
        upload = default_storage.path(default_storage.save("imports/old.csv", ContentFile(b"a,b")))
    with schema_context("t_keepme_not"):
        neighbour = default_storage.path(default_storage.save("kept.txt", ContentFile(b"x")))
    assert Path(upload).exists() and "/t_deleteme/" in upload
    assert b"cannot be undone" in operator.get("/console/tenants/deleteme/delete/").content
    wrong = operator.post("/console/tenants/deleteme/delete/", {"confirmation": "delete-me"})
    assert b"exactly to confirm" in wrong.content
    assert schemas.exists("t_deleteme")
    with django_capture_on_commit_callbacks(execute=True):
        done = operator.post("/console/tenants/deleteme/delete/", {"confirmation": "deleteme"})
    assert done.status_code == 302
    # Its uploaded files went with it; another organisation's folder is untouched.
    assert not (tmp_path / "t_deleteme").exists() and Path(neighbour).exists()
    assert not Tenant.objects.filter(slug="deleteme").exists()
    assert not schemas.exists("t_deleteme")
    assert AuditEvent.objects.filter(action="tenant.deleted", tenant_slug="deleteme").exists()
    assert Client(HTTP_HOST="deleteme.localhost").get("/").status_code == 404
    assert b"tenant.deleted" in operator.get("/console/audit/").content


def test_console_actions_require_post(operator: Client, tenant_a: Tenant) -> None:
    assert operator.get("/console/tenants/alpha/suspend/").status_code == 405
    assert Tenant.objects.get(slug="alpha").status == TenantStatus.ACTIVE
