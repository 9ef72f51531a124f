"""A data export stays in its organisation: another organisation's Admin can neither see
nor download it by id, on the web or through the API; an organisation's archive holds none
of another's rows or files; its file lives in its own media folder; its progress in the
cache and its task belong to it alone."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django_tenants.utils import schema_context

from apps.accounts.models import User
from apps.apikeys.services import api_key_create
from apps.contacts.services import contact_create
from apps.dataexport import services
from apps.dataexport.models import DataExport, Status
from apps.dataexport.tasks import build_export
from apps.imports import services as imports
from tenants.models import Tenant
from tests.conftest import ALPHA, BETA
from tests.notifications.conftest import SchemaKeepingClient, signed_in

pytestmark = pytest.mark.django_db

SECRET_ROW = "Zanzibar-Quillfeather"


@pytest.fixture(autouse=True)
def media(settings: Any, tmp_path: Path) -> Path:
    settings.MEDIA_ROOT = str(tmp_path)
    return tmp_path


def _alpha_export(tenant_a: Tenant, capture: Any) -> DataExport:
    with schema_context(tenant_a.schema_name):
        owner = User.objects.get(email=ALPHA.owner_email)
        contact_create(actor=owner, first_name=SECRET_ROW, last_name="Alpha", email="z@alpha.io")
        imports.import_create(
            actor=owner,
            entity="contact",
            upload=SimpleUploadedFile("alpha-secret.csv", f"Name\n{SECRET_ROW}\n".encode()),
        )
        with capture(execute=True):
            export = services.export_request(actor=owner)
        export.refresh_from_db()
        assert export.status == Status.DONE
        return export


def test_another_organisations_admin_cannot_reach_it(
    tenant_a: Tenant, tenant_b: Tenant, django_capture_on_commit_callbacks: Any
) -> None:
    export = _alpha_export(tenant_a, django_capture_on_commit_callbacks)
    with schema_context(tenant_b.schema_name):
        assert not DataExport.objects.filter(pk=export.pk).exists()
        owner_b = User.objects.get(email=BETA.owner_email)
        web = signed_in(tenant_b, owner_b)
        assert web.get(f"/settings/data-export/{export.pk}/download/").status_code == 404
        assert web.get(f"/settings/data-export/{export.pk}/progress/").status_code == 404
        page = web.get("/settings/data-export/")
        assert page.status_code == 200 and b"No exports yet" in page.content
        secret = api_key_create(name="b", created_by=owner_b).secret
        api = SchemaKeepingClient(
            HTTP_HOST=f"{tenant_b.slug}.localhost", HTTP_AUTHORIZATION=f"Bearer {secret}"
        )
        for path in ("", "download/"):
            answer = api.get(f"/api/v1/data-exports/{export.pk}/{path}")
            assert answer.status_code == 404 and answer.json()["error"]["code"] == "not_found"
        assert api.get("/api/v1/data-exports/").json()["results"] == []
    # A's session does not open B's host either.
    with schema_context(tenant_a.schema_name):
        owner_a = User.objects.get(email=ALPHA.owner_email)
        alpha = signed_in(tenant_a, owner_a)
    alpha.defaults["HTTP_HOST"] = f"{tenant_b.slug}.localhost"
    refused = alpha.get(f"/settings/data-export/{export.pk}/download/")
    assert refused.status_code == 302 and "/accounts/login/" in refused["Location"]


def test_each_archive_holds_its_own_organisation_only(
    tenant_a: Tenant, tenant_b: Tenant, media: Path, django_capture_on_commit_callbacks: Any
) -> None:
    alpha = _alpha_export(tenant_a, django_capture_on_commit_callbacks)
    with schema_context(tenant_a.schema_name):
        assert Path(alpha.file.path).is_relative_to(media / tenant_a.schema_name)
    with schema_context(tenant_b.schema_name):
        owner_b = User.objects.get(email=BETA.owner_email)
        with django_capture_on_commit_callbacks(execute=True):
            beta = services.export_request(actor=owner_b)
        beta.refresh_from_db()
        path = Path(beta.file.path)
        assert path.is_relative_to(media / tenant_b.schema_name)
        import zipfile

        with zipfile.ZipFile(path) as zf:
            assert not [n for n in zf.namelist() if "alpha-secret" in n]
            for name in zf.namelist():
                content = zf.read(name)
                assert SECRET_ROW.encode() not in content, name
                assert ALPHA.owner_email.encode() not in content, name
            assert BETA.owner_email.encode() in zf.read("users.csv")
        # A's file name read in B points into B's folder, where there is nothing.
        assert not Path(DataExport(file=alpha.file.name).file.path).exists()


def test_progress_and_tasks_stay_in_their_organisation(tenant_a: Tenant, tenant_b: Tenant) -> None:
    with schema_context(tenant_a.schema_name):
        owner = User.objects.get(email=ALPHA.owner_email)
        queued = DataExport.objects.create(requested_by=owner)
        cache.set(services.progress_key(queued.pk), {"done": 7, "total": 10}, 60)
    with schema_context(tenant_b.schema_name):
        assert cache.get(services.progress_key(queued.pk)) is None
        if not DataExport.objects.filter(pk=queued.pk).exists():
            build_export(queued.pk)  # runs in B: no such export there
        assert not DataExport.objects.exists()
    with schema_context(tenant_a.schema_name):
        queued.refresh_from_db()
        assert queued.status == Status.QUEUED
        assert cache.get(services.progress_key(queued.pk))["done"] == 7
