"""Settings → Background jobs and /api/v1/failed-tasks/: an organisation's Owners and Admins
see the background work that failed after all its retries, with its error and traceback, and
mark it resolved (audit-logged); nobody else does."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone
from django_tenants.utils import schema_context

from apps.accounts.roles import Role
from apps.apikeys.services import api_key_create
from apps.audit.models import AuditEntry
from apps.core.models import FailedTask
from tenants import jobs
from tenants.models import ScheduledJob, Tenant
from tests.conftest import PASSWORD, login, tenant_client
from tests.members import member

pytestmark = pytest.mark.django_db
PAGE = "/settings/background-jobs/"
API = "/api/v1/failed-tasks/"


def failed(tenant: Tenant, **fields: Any) -> FailedTask:
    values: dict[str, Any] = {
        "task_name": "apps.notifications.tasks.deliver_due_emails",
        "job_kind": "email",
        "object_id": 41,
        "attempts": 8,
        "error": "SMTPServerDisconnected: Connection unexpectedly closed",
        "traceback": "Traceback (most recent call last):\n  SMTPServerDisconnected",
    } | fields
    with schema_context(tenant.schema_name):
        return FailedTask.objects.create(**values)


def signed_in(tenant: Tenant, role: Role) -> Client:
    email = f"bg-{role.value}@{tenant.slug}.test"
    with schema_context(tenant.schema_name):
        member(email, role)
    return login(tenant_client(tenant), tenant, email, PASSWORD)


def key(tenant: Tenant, role: Role = Role.ADMIN, scopes: list[str] | None = None) -> Client:
    with schema_context(tenant.schema_name):
        secret = api_key_create(name=f"{role.value} key", role=role, scopes=scopes or []).secret
    return Client(HTTP_HOST=f"{tenant.slug}.localhost", HTTP_AUTHORIZATION=f"Bearer {secret}")


def test_a_job_that_fails_for_good_is_listed_for_admins(
    owner_client_a: Client, tenant_a: Tenant
) -> None:
    empty = owner_client_a.get(PAGE)
    assert empty.status_code == 200
    assert b"No failed background work" in empty.content

    def broken(object_id: int) -> None:
        raise ConnectionRefusedError(f"smtp.example.test refused notification {object_id}")

    with schema_context(tenant_a.schema_name):
        jobs.schedule(kind="email", object_id=77, due_at=timezone.now() - timedelta(seconds=1))
        ScheduledJob.objects.filter(schema_name=tenant_a.schema_name).update(
            attempts=jobs.MAX_ATTEMPTS - 1
        )
        handled, _ = jobs.deliver_due(kind="email", handler=broken, task_name="emails.deliver")
    assert handled == 1

    page = owner_client_a.get(PAGE)
    body = page.content.decode()
    assert "No failed background work" not in body
    row = body.split('id="failed-task-', 1)[1].split("</tr>", 1)[0]
    assert "emails.deliver" in row and "email #77" in row
    assert f">{jobs.MAX_ATTEMPTS}<" in row
    assert "ConnectionRefusedError: smtp.example.test refused notification 77" in row
    assert "<details" in row and "Traceback (most recent call last)" in row
    assert "Mark resolved" in row and "csrfmiddlewaretoken" in row


def shown(body: str) -> list[int]:
    return [int(n) for n in re.findall(r"failure number (\d+)\b", body)]


def test_newest_first_paginated_and_filtered(owner_client_a: Client, tenant_a: Tenant) -> None:
    rows = [failed(tenant_a, error=f"failure number {n}") for n in range(30)]
    with schema_context(tenant_a.schema_name):
        FailedTask.objects.filter(pk=rows[0].pk).update(resolved_at=timezone.now())
    first = owner_client_a.get(PAGE).content.decode()
    assert shown(first) == list(range(29, 4, -1))
    assert "Page 1 of 2" in first and "29 unresolved" in first
    second = owner_client_a.get(PAGE + "?page=2&status=unresolved").content.decode()
    assert shown(second) == [4, 3, 2, 1]
    assert "?page=1&amp;status=unresolved" in second
    assert shown(owner_client_a.get(PAGE + "?status=resolved").content.decode()) == [0]


def test_mark_resolved_is_a_post_and_audit_logged(owner_client_a: Client, tenant_a: Tenant) -> None:
    task = failed(tenant_a)
    url = f"{PAGE}{task.pk}/resolve/"
    assert owner_client_a.get(url).status_code == 405
    response = owner_client_a.post(url, {"next": PAGE + "?status=unresolved"}, follow=True)
    assert response.redirect_chain[-1][0] == PAGE + "?status=unresolved"
    body = response.content.decode()
    assert f"#{task.pk}) resolved" in body and "No failed background work" in body
    owner_client_a.post(url)  # again: nothing changes, nothing more is logged
    with schema_context(tenant_a.schema_name):
        task.refresh_from_db()
        entries = list(AuditEntry.objects.filter(action="failed_task.resolved"))
    assert task.resolved_at is not None and task.resolved_by == "owner@alpha.test"
    assert len(entries) == 1
    assert entries[0].actor_label == "owner@alpha.test" and entries[0].target_id == str(task.pk)
    shown = owner_client_a.get(PAGE).content.decode()
    assert "Resolved" in shown and "by owner@alpha.test" in shown


def test_mark_resolved_needs_the_csrf_token(tenant_a: Tenant) -> None:
    task = failed(tenant_a)
    strict = login(
        Client(HTTP_HOST="alpha.localhost", enforce_csrf_checks=True), tenant_a, "owner@alpha.test"
    )
    assert strict.post(f"{PAGE}{task.pk}/resolve/").status_code == 403
    with schema_context(tenant_a.schema_name):
        task.refresh_from_db()
    assert task.resolved_at is None


def test_a_foreign_next_address_is_not_followed(owner_client_a: Client, tenant_a: Tenant) -> None:
    task = failed(tenant_a)
    response = owner_client_a.post(
        f"{PAGE}{task.pk}/resolve/", {"next": "https://evil.example/phish"}
    )
    assert response.status_code == 302 and response["Location"] == PAGE


@pytest.mark.parametrize("role", [Role.MANAGER, Role.REP, Role.READONLY])
def test_others_get_the_admins_only_page(role: Role, tenant_a: Tenant) -> None:
    task = failed(tenant_a)
    client = signed_in(tenant_a, role)
    refused = client.get(PAGE)
    assert refused.status_code == 403 and b"Admins only" in refused.content
    assert b"Background jobs" not in client.get("/").content
    assert client.post(f"{PAGE}{task.pk}/resolve/").status_code == 403
    with schema_context(tenant_a.schema_name):
        task.refresh_from_db()
    assert task.resolved_at is None


def test_admins_find_it_in_the_settings_menu(tenant_a: Tenant) -> None:
    admin = signed_in(tenant_a, Role.ADMIN)
    assert f'href="{PAGE}">Background jobs<'.encode() in admin.get("/").content
    assert admin.get(PAGE).status_code == 200


def test_anonymous_visitors_sign_in_first(client_a: Client) -> None:
    response = client_a.get(PAGE)
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_api_lists_newest_first_with_cursor_pagination(tenant_a: Tenant) -> None:
    for n in range(3):
        failed(tenant_a, error=f"api failure {n}")
    client = key(tenant_a)
    first = client.get(API, {"page_size": 2}).json()
    assert [r["error"] for r in first["results"]] == ["api failure 2", "api failure 1"]
    assert first["results"][0]["job_kind"] == "email" and first["results"][0]["object_id"] == 41
    assert (
        first["results"][0]["resolved"] is False and "Traceback" in first["results"][0]["traceback"]
    )
    rest = client.get(first["next"]).json()
    assert [r["error"] for r in rest["results"]] == ["api failure 0"] and rest["next"] is None


def test_api_resolve_and_filter(tenant_a: Tenant) -> None:
    keep, done = failed(tenant_a, error="keep me"), failed(tenant_a, error="resolve me")
    client = key(tenant_a)
    answer = client.post(f"{API}{done.pk}/resolve/")
    assert answer.status_code == 200
    assert answer.json()["resolved"] is True and answer.json()["resolved_by"].startswith("API key")
    again = client.post(f"{API}{done.pk}/resolve/")
    assert again.json()["resolved_at"] == answer.json()["resolved_at"]
    unresolved = client.get(API, {"resolved": "false"}).json()["results"]
    assert [r["id"] for r in unresolved] == [keep.pk]
    assert [r["id"] for r in client.get(API, {"resolved": "true"}).json()["results"]] == [done.pk]
    bad = client.get(API, {"resolved": "maybe"})
    assert bad.status_code == 400
    assert bad.json()["error"]["code"] == "validation_error"
    assert bad.json()["error"]["field"] == "resolved"
    with schema_context(tenant_a.schema_name):
        entry = AuditEntry.objects.get(action="failed_task.resolved")
    assert entry.target_id == str(done.pk) and entry.actor_label.startswith("API key admin key")


def test_api_signed_in_admin_may_use_it(owner_client_a: Client, tenant_a: Tenant) -> None:
    task = failed(tenant_a)
    assert owner_client_a.get(API).json()["results"][0]["id"] == task.pk


@pytest.mark.parametrize("role", [Role.MANAGER, Role.REP, Role.READONLY])
def test_api_refuses_keys_of_other_roles(role: Role, tenant_a: Tenant) -> None:
    task = failed(tenant_a)
    client = key(tenant_a, role)
    listed = client.get(API)
    assert listed.status_code == 403 and listed.json()["error"]["code"] == "permission_denied"
    assert client.post(f"{API}{task.pk}/resolve/").status_code == 403
    with schema_context(tenant_a.schema_name):
        task.refresh_from_db()
    assert task.resolved_at is None


def test_api_scopes_apply(tenant_a: Tenant) -> None:
    task = failed(tenant_a)
    reader = key(tenant_a, scopes=["failed-tasks:read"])
    assert reader.get(API).status_code == 200
    assert reader.post(f"{API}{task.pk}/resolve/").status_code == 403
    assert key(tenant_a, scopes=["contacts:read"]).get(API).status_code == 403
    assert Client(HTTP_HOST="alpha.localhost").get(API).status_code == 401
