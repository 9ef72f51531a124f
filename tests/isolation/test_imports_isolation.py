"""An import stays in its organisation: its job, its stored files, its progress in the cache,
the records it wrote and their search words are invisible to another organisation, and its
task sent with another organisation's schema finds nothing to run."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django_tenants.utils import schema_context

from apps.accounts.models import User
from apps.contacts.models import Contact
from apps.imports import services
from apps.imports.models import ImportJob, Status
from apps.imports.tasks import run_import
from apps.records import search
from tenants.models import Tenant
from tests.conftest import ALPHA

pytestmark = pytest.mark.django_db

CSV = b"First name,Last name,Email\nZebedee,Quillfeather,zebedee@alpha.example\nBad,Row,nope\n"


def _alpha_import(tenant_a: Tenant) -> ImportJob:
    with schema_context(tenant_a.schema_name):
        owner = User.objects.get(email=ALPHA.owner_email)
        job = services.import_create(
            actor=owner,
            entity="contact",
            upload=SimpleUploadedFile("alpha.csv", CSV),
            match_on="email",
        )
        ImportJob.objects.filter(pk=job.pk).update(status=Status.QUEUED)
        job.refresh_from_db()
        services.run(job, dry_run=False)
        job.refresh_from_db()
        return job


def test_job_records_files_and_search_stay_in_alpha(tenant_a: Tenant, tenant_b: Tenant) -> None:
    job = _alpha_import(tenant_a)
    assert job.status == Status.DONE and job.created == 1 and job.errors == 1
    # Files live under the organisation's own media folder; the same name read from another
    # organisation points into that organisation's folder, where there is nothing.
    with schema_context(tenant_a.schema_name):
        assert f"/{tenant_a.schema_name}/" in job.file.path
        assert Path(job.error_file.path).exists()
        assert b"nope" in job.error_file.read()
    with schema_context(tenant_b.schema_name):
        assert f"/{tenant_b.schema_name}/" in job.error_file.path
        assert not Path(job.error_file.path).exists()
        assert not Path(job.file.path).exists()
        assert not ImportJob.objects.filter(pk=job.pk, file_name="alpha.csv").exists()
        assert not Contact.objects.filter(email="zebedee@alpha.example").exists()
        assert not search.matching(Contact.objects.all(), "Quillfeather").exists()
    with schema_context(tenant_a.schema_name):
        assert search.matching(Contact.objects.all(), "Quillfeather").exists()


def test_progress_in_the_cache_is_per_organisation(tenant_a: Tenant, tenant_b: Tenant) -> None:
    with schema_context(tenant_a.schema_name):
        cache.set(services.progress_key(424242), {"done": 7, "total": 10}, 60)
    with schema_context(tenant_b.schema_name):
        assert cache.get(services.progress_key(424242)) is None
    with schema_context(tenant_a.schema_name):
        assert cache.get(services.progress_key(424242))["done"] == 7


def test_the_task_in_another_schema_finds_nothing(tenant_a: Tenant, tenant_b: Tenant) -> None:
    with schema_context(tenant_a.schema_name):
        owner = User.objects.get(email=ALPHA.owner_email)
        job = services.import_create(
            actor=owner, entity="contact", upload=SimpleUploadedFile("queued.csv", CSV)
        )
        ImportJob.objects.filter(pk=job.pk).update(status=Status.QUEUED)
    with schema_context(tenant_b.schema_name):
        if not ImportJob.objects.filter(pk=job.pk).exists():
            run_import(job.pk, False)  # runs in B: no such job there
        assert not Contact.objects.filter(email="zebedee@alpha.example").exists()
    with schema_context(tenant_a.schema_name):
        assert ImportJob.objects.get(pk=job.pk).status == Status.QUEUED
        assert not Contact.objects.filter(email="zebedee@alpha.example").exists()
