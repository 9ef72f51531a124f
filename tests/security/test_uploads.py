"""Hostile file names, bytes and sizes on the only surface that takes files: imports (API and
web). Each file lands in its organisation's own folder under a safe name; another
organisation cannot reach it; an upload over the limit saves nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django_tenants.utils import schema_context

from apps.imports.models import ImportJob
from tenants.models import Tenant
from tests.conftest import BETA, login, tenant_client

from .conftest import assert_envelope

pytestmark = pytest.mark.django_db

CSV = b"first_name,last_name,email\nAda,Lovelace,ada@upload.example\n"
NAMES = [
    "../../etc/passwd.csv",
    "/etc/passwd.csv",
    "..\\..\\windows\\win.ini.csv",
    "C:\\Windows\\System32\\x.csv",
    "a\x00b.csv",
    "....//....//etc//y.csv",
    "%2e%2e%2f%2e%2e%2fetc.csv",
    "x" * 300 + ".csv",
    "é" * 200 + ".csv",
    "<script>kx(1)</script>.csv",
    ".csv",
    "  .htaccess.csv",
]


@pytest.fixture
def media(settings: Any, tmp_path: Path) -> Path:
    settings.MEDIA_ROOT = str(tmp_path)
    return tmp_path


def _upload(name: str, content: bytes = CSV) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type="text/csv")


def _assert_stored_safely(job: ImportJob, media: Path, schema: str) -> None:
    stored = Path(job.file.path).resolve()
    assert stored.is_relative_to(media / schema / "imports"), stored
    assert stored.parent == (media / schema / "imports").resolve()
    assert len(stored.name.encode()) <= 255 and "\x00" not in stored.name
    assert "/" not in job.file_name and "\\" not in job.file_name and ".." not in job.file_name
    assert stored.read_bytes() == CSV


def test_api_upload_names_are_made_safe(
    api: Client, media: Path, tenant_a: Tenant, tenant_b: Tenant
) -> None:
    ids = []
    for name in NAMES:
        response = api.post(
            "/api/v1/imports/",
            {"file": _upload(name), "entity": "contact", "mode": "create", "dry_run": "true"},
        )
        assert response.status_code == 202, (name, response.content[:300])
        ids.append(response.json()["id"])
    with schema_context(tenant_a.schema_name):
        for job in ImportJob.objects.filter(pk__in=ids):
            _assert_stored_safely(job, media, tenant_a.schema_name)
    # Nothing of Alpha's is reachable from Beta: not its jobs, not its files (media is never
    # served by the application).
    beta = login(tenant_client(tenant_b), tenant_b, BETA.owner_email)
    beta.raise_request_exception = False
    for pk in ids[:3]:
        assert beta.get(f"/api/v1/imports/{pk}/").status_code == 404
        assert beta.get(f"/imports/{pk}/errors.csv").status_code == 404
    for path in ("/media/t_alpha/imports/", f"/media/{tenant_a.schema_name}/imports/x.csv"):
        assert beta.get(path).status_code == 404
        assert api.get(path).status_code == 404


def test_web_upload_names_are_made_safe(api: Client, media: Path, tenant_a: Tenant) -> None:
    for name in NAMES[:4] + NAMES[7:9]:
        response = api.post(
            "/imports/new/", {"file": _upload(name), "entity": "contact", "mode": "create"}
        )
        assert response.status_code in (200, 302), (name, response.status_code)
    with schema_context(tenant_a.schema_name):
        jobs = list(ImportJob.objects.all())
        assert len(jobs) == 6
        for job in jobs:
            _assert_stored_safely(job, media, tenant_a.schema_name)


def test_uploads_over_the_limit_save_nothing(
    api: Client, media: Path, settings: Any, tenant_a: Tenant
) -> None:
    settings.IMPORT_MAX_FILE_BYTES = 1024
    big = CSV + b"".join(b"P%d,Q%d,p%d@big.example\n" % (i, i, i) for i in range(200))
    refused = api.post(
        "/api/v1/imports/", {"file": _upload("big.csv", big), "entity": "contact", "mode": "create"}
    )
    error = assert_envelope(refused, 400)
    assert error["field"] == "file" and "limit" in error["message"], error
    page = api.post("/imports/new/", {"file": _upload("big.csv", big), "entity": "contact"})
    assert page.status_code in (200, 400, 413) and b"big.csv is larger than" in page.content
    with schema_context(tenant_a.schema_name):
        assert not ImportJob.objects.exists()
    assert not any(p.is_file() for p in media.rglob("*")), list(media.rglob("*"))


def test_a_file_that_is_not_utf8_is_named_not_a_500(api: Client, media: Path) -> None:
    for content in (b"first_name,email\n\xff\xfe\xfd,\xc3\x28@x.example\n", b"\x00" * 64):
        response = api.post(
            "/api/v1/imports/",
            {"file": _upload("bad.csv", content), "entity": "contact", "mode": "create"},
        )
        assert response.status_code in (202, 400), response.content[:300]
        if response.status_code == 400:
            assert_envelope(response, 400)
