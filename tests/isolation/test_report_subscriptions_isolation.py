"""A report subscription stays in its organisation: another organisation's people cannot list,
read, change, send or delete it (web or API, even by its id), its scheduled job is delivered
only in its own schema, and its report is built from its own organisation's records."""

from __future__ import annotations

import io
from datetime import timedelta
from typing import Any

import pytest
from django.core import mail
from django.test import Client
from django.utils import timezone
from django_tenants.utils import schema_context
from pypdf import PdfReader

from apps.accounts.models import User
from apps.deals.services import deal_create, pipeline_default
from apps.reports import subscriptions as subs
from apps.reports.models import Subscription
from apps.reports.tasks import deliver_subscriptions
from tenants.models import ScheduledJob, Tenant
from tests.conftest import ALPHA, BETA

pytestmark = pytest.mark.django_db

LIST = "/reports/subscriptions/"
API = "/api/v1/report-subscriptions/"


def signed_in(tenant: Tenant, email: str) -> Client:
    client = Client(HTTP_HOST=f"{tenant.slug}.localhost")
    with schema_context(tenant.schema_name):
        client.force_login(User.objects.get(email=email))
    return client


@pytest.fixture
def alpha_sub(tenant_a: Tenant, tenant_b: Tenant) -> Subscription:
    with schema_context(tenant_a.schema_name):
        pipeline_default()
        owner = User.objects.get(email=ALPHA.owner_email)
        deal_create(actor=owner, title="Alpha deal", value="1234", owner=owner)
        sub = subs.subscribe(actor=owner, report="pipeline-by-stage", cadence="weekly")
    with schema_context(tenant_b.schema_name):
        pipeline_default()
        owner_b = User.objects.get(email=BETA.owner_email)
        deal_create(actor=owner_b, title="Beta deal", value="4444444", owner=owner_b)
        # Nothing in B happens to have the same id.
        assert not Subscription.objects.filter(pk=sub.pk).exists()
    return sub


def test_other_organisation_cannot_see_or_touch_it(
    tenant_a: Tenant, tenant_b: Tenant, alpha_sub: Subscription
) -> None:
    beta = signed_in(tenant_b, BETA.owner_email)  # an Owner there: sees all of B's
    page = beta.get(LIST)
    assert page.status_code == 200 and "No report emails yet" in page.content.decode()
    assert beta.get(API).json()["results"] == []
    pk = alpha_sub.pk
    assert beta.get(f"{API}{pk}/").status_code == 404
    assert (
        beta.patch(f"{API}{pk}/", {"hour": 1}, content_type="application/json").status_code == 404
    )
    assert beta.post(f"{API}{pk}/send/").status_code == 404
    assert beta.delete(f"{API}{pk}/").status_code == 404
    assert beta.get(f"{LIST}{pk}/edit/").status_code == 404
    for action in ("send", "delete", "edit"):
        assert beta.post(f"{LIST}{pk}/{action}/").status_code == 404
    with schema_context(tenant_a.schema_name):
        sub = Subscription.objects.get(pk=pk)
        assert sub.hour == 8 and sub.last_status == ""
    job = ScheduledJob.objects.get(kind=subs.KIND, object_id=pk)
    assert job.schema_name == tenant_a.schema_name and job.due_at == sub.next_run_at


def test_its_job_runs_only_in_its_own_schema_and_reads_only_its_records(
    tenant_a: Tenant, tenant_b: Tenant, alpha_sub: Subscription
) -> None:
    ScheduledJob.objects.filter(kind=subs.KIND, object_id=alpha_sub.pk).update(
        due_at=timezone.now() - timedelta(seconds=1)
    )
    mail.outbox.clear()
    with schema_context(tenant_b.schema_name):
        assert deliver_subscriptions() == 0  # B's delivery does not see A's job
    assert mail.outbox == []
    with schema_context(tenant_a.schema_name):
        assert deliver_subscriptions() == 1
    assert len(mail.outbox) == 1
    message: Any = mail.outbox[0]
    assert message.to == [ALPHA.owner_email] and "Alpha Ltd" in message.from_email
    files = {name: content for name, content, _ in message.attachments}
    csv_file = next(c for n, c in files.items() if n.endswith(".csv"))
    csv_text = csv_file.decode("utf-8-sig") if isinstance(csv_file, bytes) else csv_file
    assert "1234.00" in csv_text and "4444444" not in csv_text
    pdf = next(c for n, c in files.items() if n.endswith(".pdf"))
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages)
    assert "1,234.00" in text and "4,444,444" not in text
