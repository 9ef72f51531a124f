"""The operator console lists the platform's own failed background work (public schema) and
lets operators mark it resolved, in the platform's audit trail; organisations' failures stay
with their Admins."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.test import Client
from django_tenants.utils import schema_context

from apps.accounts.models import User
from apps.core.models import FailedTask
from tenants.models import AuditEvent, Tenant

pytestmark = pytest.mark.django_db
PAGE = "/console/failed-tasks/"


@pytest.fixture
def operator() -> Client:
    call_command("create_operator", email="ops@kestrel.test", password="operator-password-1")
    client = Client(HTTP_HOST="localhost")
    assert client.login(email="ops@kestrel.test", password="operator-password-1")
    return client


def test_operators_see_and_resolve_platform_failures(operator: Client, tenant_a: Tenant) -> None:
    assert b"No failed background work" in operator.get(PAGE).content
    platform = FailedTask.objects.create(
        task_name="tenants.tasks.workspace_reminder_send",
        error="SMTPRecipientsRefused: nobody@example.test",
        traceback="Traceback (most recent call last):\nSMTPRecipientsRefused",
    )
    with schema_context(tenant_a.schema_name):
        FailedTask.objects.create(task_name="alpha.only.task", error="Alpha's own failure")
    body = operator.get(PAGE).content.decode()
    assert "tenants.tasks.workspace_reminder_send" in body and "SMTPRecipientsRefused" in body
    assert "<details" in body and "alpha.only.task" not in body
    assert f'href="{PAGE}"' in body  # in the console's navigation

    response = operator.post(f"{PAGE}{platform.pk}/resolve/", follow=True)
    assert f"#{platform.pk}) resolved" in response.content.decode()
    platform.refresh_from_db()
    assert platform.resolved_at is not None and platform.resolved_by == "ops@kestrel.test"
    event = AuditEvent.objects.get(action="failed_task.resolved")
    assert event.actor == "ops@kestrel.test" and event.detail["id"] == platform.pk
    assert b"No failed background work" in operator.get(PAGE + "?status=unresolved").content


def test_console_failed_tasks_need_staff(tenant_a: Tenant) -> None:
    task = FailedTask.objects.create(task_name="tenants.tasks.warm_pool_refill", error="boom")
    anonymous = Client(HTTP_HOST="localhost").get(PAGE)
    assert anonymous.status_code == 302 and "/console/login/" in anonymous["Location"]
    User.objects.create_user(email="user@kestrel.test", password="plain-user-password")
    client = Client(HTTP_HOST="localhost")
    assert client.login(email="user@kestrel.test", password="plain-user-password")
    assert client.get(PAGE).status_code == 403
    assert client.post(f"{PAGE}{task.pk}/resolve/").status_code == 403
    task.refresh_from_db()
    assert task.resolved_at is None
