"""A data export through a real worker: asked for in an organisation, its build task waits
in that organisation's own reports queue (nothing else takes it: here the organisation is
suspended, so no worker consumes its queues), and once a worker serves the queue the zip is
built there, in the organisation's media folder, and the requester is emailed."""

from __future__ import annotations

import time
import zipfile
from pathlib import Path

import pytest
from django_tenants.utils import schema_context

from apps.accounts.models import User
from apps.contacts.services import contact_create
from apps.dataexport import services
from apps.dataexport.models import DataExport, Status
from tenants import services as tenants
from tenants.queues import queue_name
from tests.workers.conftest import CeleryWorker, Organisations, RedisServer, wait_until

pytestmark = pytest.mark.worker

REFRESH_LIMIT = 5.0
BRPOP_TIMEOUT = 1.0


def test_the_export_is_built_from_the_organisations_reports_queue(
    celery_worker: CeleryWorker, redis_server: RedisServer, organisations: Organisations
) -> None:
    org = organisations.make("export")
    reports = queue_name(org.schema_name, "reports")
    wait_until(lambda: reports in celery_worker.active_queues(), REFRESH_LIMIT)
    tenants.tenant_suspend(tenant=org, actor="test")
    wait_until(lambda: reports not in celery_worker.active_queues(), REFRESH_LIMIT)
    time.sleep(BRPOP_TIMEOUT + 0.5)

    with schema_context(org.schema_name):
        owner = User.objects.get(email=f"owner@{org.slug}.test")
        contact_create(actor=owner, first_name="Worker", last_name="Made", email="w@x.io")
        export = services.export_request(actor=owner)  # committed: sent at once
    redis = redis_server.client()
    wait_until(lambda: redis.llen(reports) == 1, 5)
    with schema_context(org.schema_name):
        assert DataExport.objects.get(pk=export.pk).status == Status.QUEUED

    tenants.tenant_resume(tenant=org, actor="test")

    def done() -> bool:
        with schema_context(org.schema_name):
            # Ready, and its requester emailed (just after it is marked ready).
            return DataExport.objects.filter(
                pk=export.pk, status=Status.DONE, emailed_at__isnull=False
            ).exists()

    wait_until(done, timeout=60)
    assert redis.llen(reports) == 0
    with schema_context(org.schema_name):
        export.refresh_from_db()
        path = Path(export.file.path)
        try:
            assert f"/{org.schema_name}/dataexports/" in str(path)
            assert export.size == path.stat().st_size
            with zipfile.ZipFile(path) as zf:
                assert b"w@x.io" in zf.read("contacts.csv")
            assert export.counts["contacts.csv"] == 1
        finally:
            path.unlink(missing_ok=True)
