"""Failed background work stays in its organisation: another organisation's Admins cannot
list, read or resolve it on the web or through the API, and the console shows only the
platform's own."""

from __future__ import annotations

import pytest
from django.test import Client
from django_tenants.utils import schema_context

from apps.apikeys.services import api_key_create
from apps.core.models import FailedTask
from apps.core.selectors import failed_task_list
from tenants.models import Tenant

pytestmark = pytest.mark.django_db


def _alpha_failure(tenant_a: Tenant) -> FailedTask:
    with schema_context(tenant_a.schema_name):
        return FailedTask.objects.create(
            task_name="apps.activities.tasks.deliver_due_reminders",
            job_kind="reminder",
            object_id=9,
            error="Alpha secret failure",
        )


def test_selector_reads_only_the_current_schema(tenant_a: Tenant, tenant_b: Tenant) -> None:
    task = _alpha_failure(tenant_a)
    with schema_context(tenant_b.schema_name):
        assert not failed_task_list().filter(error="Alpha secret failure").exists()
        assert not FailedTask.objects.filter(pk=task.pk).exists()
    assert not failed_task_list().filter(error="Alpha secret failure").exists()  # public


def test_other_organisation_cannot_see_or_resolve_it(
    tenant_a: Tenant, tenant_b: Tenant, owner_client_b: Client
) -> None:
    task = _alpha_failure(tenant_a)
    page = owner_client_b.get("/settings/background-jobs/")
    assert page.status_code == 200 and b"Alpha secret failure" not in page.content
    assert owner_client_b.post(f"/settings/background-jobs/{task.pk}/resolve/").status_code == 404

    with schema_context(tenant_b.schema_name):
        secret = api_key_create(name="beta admin").secret
    api = Client(HTTP_HOST="beta.localhost", HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert api.get("/api/v1/failed-tasks/").json()["results"] == []
    for answer in (
        api.get(f"/api/v1/failed-tasks/{task.pk}/"),
        api.post(f"/api/v1/failed-tasks/{task.pk}/resolve/"),
    ):
        assert answer.status_code == 404 and answer.json()["error"]["code"] == "not_found"
    with schema_context(tenant_a.schema_name):
        task.refresh_from_db()
    assert task.resolved_at is None


def test_an_alpha_key_on_beta_host_is_refused(tenant_a: Tenant, tenant_b: Tenant) -> None:
    _alpha_failure(tenant_a)
    with schema_context(tenant_a.schema_name):
        secret = api_key_create(name="alpha admin").secret
    answer = Client(HTTP_HOST="beta.localhost", HTTP_AUTHORIZATION=f"Bearer {secret}").get(
        "/api/v1/failed-tasks/"
    )
    assert answer.status_code == 401
