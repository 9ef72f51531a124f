"""Data made in one organisation is invisible from another, on every channel."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.test import Client
from django_tenants.utils import schema_context

from apps.accounts.models import User
from tenants.db import connection
from tenants.models import Tenant
from tests.conftest import ALPHA, BETA, login, tenant_client
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_orm_rows_stay_in_their_schema(tenant_a: Tenant, tenant_b: Tenant) -> None:
    with schema_context(tenant_a.schema_name):
        UserFactory(email="only-in-alpha@example.test")
        assert User.objects.filter(email="only-in-alpha@example.test").exists()
    with schema_context(tenant_b.schema_name):
        assert not User.objects.filter(email="only-in-alpha@example.test").exists()
        assert set(User.objects.values_list("email", flat=True)) == {BETA.owner_email}
    # Operators' table in the public schema is a third, separate table.
    assert not User.objects.filter(email=ALPHA.owner_email).exists()


def test_same_email_can_exist_in_two_tenants_independently(
    tenant_a: Tenant, tenant_b: Tenant
) -> None:
    with schema_context(tenant_a.schema_name):
        UserFactory(email="shared@example.test", full_name="In Alpha")
    with schema_context(tenant_b.schema_name):
        UserFactory(email="shared@example.test", full_name="In Beta")
    with schema_context(tenant_a.schema_name):
        assert User.objects.get(email="shared@example.test").full_name == "In Alpha"


def test_pages_show_only_their_tenant(tenant_a: Tenant, tenant_b: Tenant) -> None:
    page_a = login(tenant_client(tenant_a), tenant_a, ALPHA.owner_email).get("/")
    page_b = login(tenant_client(tenant_b), tenant_b, BETA.owner_email).get("/")
    assert b"Alpha Ltd" in page_a.content and b"Beta GmbH" not in page_a.content
    assert b"Beta GmbH" in page_b.content and b"Alpha Ltd" not in page_b.content


def test_cache_same_key_different_values(tenant_a: Tenant, tenant_b: Tenant) -> None:
    with schema_context(tenant_a.schema_name):
        cache.set("dashboard", "alpha-figures", 30)
    with schema_context(tenant_b.schema_name):
        assert cache.get("dashboard") is None
        cache.set("dashboard", "beta-figures", 30)
    with schema_context(tenant_a.schema_name):
        assert cache.get("dashboard") == "alpha-figures"
    with schema_context(tenant_b.schema_name):
        assert cache.get("dashboard") == "beta-figures"
        cache.delete("dashboard")
    with schema_context(tenant_a.schema_name):
        assert cache.get("dashboard") == "alpha-figures"
        cache.delete("dashboard")


def test_session_cookie_from_one_tenant_is_not_signed_in_on_another(
    tenant_a: Tenant, tenant_b: Tenant
) -> None:
    client = login(tenant_client(tenant_a), tenant_a, ALPHA.owner_email)
    assert client.get("/").status_code == 200
    stolen = client.cookies["sessionid"].value

    other = Client(HTTP_HOST=f"{tenant_b.slug}.localhost")
    other.cookies["sessionid"] = stolen
    response = other.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
    # and the API says so in its envelope
    api = other.get("/api/v1/")
    assert api.status_code in (401, 403)
    assert api.json()["error"]["code"] == "not_authenticated"


def test_session_cookie_is_host_only(tenant_a: Tenant) -> None:
    client = tenant_client(tenant_a)
    response = client.post(
        "/accounts/login/", {"username": ALPHA.owner_email, "password": "a-long-test-password"}
    )
    assert response.status_code == 302
    morsel = response.cookies["sessionid"]
    assert morsel["domain"] == ""  # no Domain attribute: the browser keeps it to this host
    assert morsel["httponly"]


def test_uploaded_files_land_under_the_tenant_folder(
    tenant_a: Tenant, tenant_b: Tenant, settings: object, tmp_path: object
) -> None:
    settings.MEDIA_ROOT = str(tmp_path)  # type: ignore[attr-defined]
    with schema_context(tenant_a.schema_name):
        connection.set_tenant(tenant_a)
        name_a = default_storage.save("logo.png", ContentFile(b"alpha"))
        path_a = default_storage.path(name_a)
    with schema_context(tenant_b.schema_name):
        connection.set_tenant(tenant_b)
        assert not default_storage.exists(name_a)
        name_b = default_storage.save("logo.png", ContentFile(b"beta"))
        path_b = default_storage.path(name_b)
    assert f"/{tenant_a.schema_name}/" in path_a
    assert f"/{tenant_b.schema_name}/" in path_b
    assert path_a != path_b
    with open(path_a, "rb") as handle:
        assert handle.read() == b"alpha"


def test_a_changed_media_root_is_used_at_once(
    tenant_a: Tenant, settings: object, tmp_path: object
) -> None:
    from pathlib import Path

    with schema_context(tenant_a.schema_name):
        default_storage.path("warm-up.txt")  # the storage has computed its folder once
        settings.MEDIA_ROOT = str(Path(str(tmp_path)) / "elsewhere")  # type: ignore[attr-defined]
        assert default_storage.path("x.txt").startswith(str(tmp_path))
