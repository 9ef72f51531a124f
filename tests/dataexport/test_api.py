"""`/api/v1/data-exports/`: ask (202 with Location), follow, download the zip; 409 while
one is being built; Owners and Admins only, and a key limited by scopes must name
data-exports itself; errors in the API's envelope; the schema validates."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command

from apps.accounts.models import User
from apps.accounts.roles import Role
from apps.apikeys.services import api_key_create
from apps.dataexport.models import DataExport, Status
from tenants.models import Tenant
from tests.dataexport.conftest import open_zip
from tests.notifications.conftest import SchemaKeepingClient, signed_in

pytestmark = pytest.mark.django_db
URL = "/api/v1/data-exports/"


def keyed(tenant: Tenant, owner: User, **key: Any) -> SchemaKeepingClient:
    secret = api_key_create(name=key.pop("name", "exporter"), created_by=owner, **key).secret
    return SchemaKeepingClient(
        HTTP_HOST=f"{tenant.slug}.localhost", HTTP_AUTHORIZATION=f"Bearer {secret}"
    )


def test_ask_follow_and_download(
    in_a: Tenant, owner: User, django_capture_on_commit_callbacks: Any
) -> None:
    client = keyed(in_a, owner, scopes="data-exports:write")
    assert client.get(URL).json()["results"] == []
    with django_capture_on_commit_callbacks(execute=True):
        answer = client.post(URL)
    assert answer.status_code == 202
    body = answer.json()
    assert answer["Location"] == f"http://alpha.localhost/api/v1/data-exports/{body['id']}/"
    assert body["status"] == "queued" and body["requested_by"] == owner.pk
    detail = client.get(f"{URL}{body['id']}/").json()
    assert detail["status"] == "done" and detail["progress"]["percent"] == 100
    assert detail["counts"]["contacts.csv"] == 0 and detail["size"] > 0
    assert detail["download_url"].endswith(f"/api/v1/data-exports/{body['id']}/download/")
    listed = client.get(URL).json()["results"]
    assert [e["id"] for e in listed] == [body["id"]]
    got = client.get(f"{URL}{body['id']}/download/")
    assert got.status_code == 200 and got["Content-Type"] == "application/zip"
    assert got["Content-Disposition"].startswith("attachment;")
    zipped = open_zip(b"".join(got.streaming_content))  # type: ignore[attr-defined]
    assert "manifest.json" in zipped.namelist()
    assert DataExport.objects.get().download_count == 1


def test_one_at_a_time_and_not_before_it_is_done(in_a: Tenant, owner: User) -> None:
    running = DataExport.objects.create(requested_by=owner, status=Status.RUNNING)
    client = keyed(in_a, owner)
    answer = client.post(URL)
    assert answer.status_code == 409
    error = answer.json()["error"]
    assert error["code"] == "export_in_progress" and error["details"] == {"id": running.pk}
    missing = client.get(f"{URL}{running.pk}/download/")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    assert client.get(f"{URL}{running.pk}/").json()["download_url"] is None
    assert client.get(f"{URL}999999/").status_code == 404


def test_who_may(in_a: Tenant, owner: User, rep: User) -> None:
    export = DataExport.objects.create(requested_by=owner, status=Status.FAILED)
    for role in (Role.MANAGER, Role.REP, Role.READONLY):
        client = keyed(in_a, owner, role=role, name=f"k-{role}")
        for method, path in (("get", URL), ("post", URL), ("get", f"{URL}{export.pk}/")):
            answer = getattr(client, method)(path)
            assert answer.status_code == 403, (role, method, path)
            assert answer.json()["error"]["code"] == "permission_denied"
    person = signed_in(in_a, rep)
    assert person.get(URL).status_code == 403
    # A "*" scope does not reach the whole organisation's data; naming it does.
    wildcard = keyed(in_a, owner, scopes="*:read *:write", name="wild")
    assert wildcard.get(URL).status_code == 403
    assert wildcard.post(URL).status_code == 403
    reader = keyed(in_a, owner, scopes="data-exports:read", name="reader")
    assert reader.get(URL).status_code == 200
    assert reader.post(URL).status_code == 403
    assert keyed(in_a, owner, scopes="contacts:write", name="other").get(URL).status_code == 403
    assert DataExport.objects.count() == 1
    admin = signed_in(in_a, owner)
    assert admin.get(URL).status_code == 200


def test_openapi_schema_validates(tmp_path: Path) -> None:
    target = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target))
    text = target.read_text()
    assert "/api/v1/data-exports/{id}/download/" in text
    assert "export_in_progress" in text
