from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.test import Client
from django_tenants.utils import schema_context

from apps.accounts.models import User
from tenants.models import Tenant
from tests.conftest import DemoOrg

pytestmark = pytest.mark.django_db


def test_seed_demo_is_idempotent_and_signs_in(demo_org: DemoOrg) -> None:
    # demo_org ran `seed_demo` once (committed) and kept what it printed; this runs it again.
    out, again = demo_org.output, io.StringIO()
    call_command("seed_demo", stdout=again, stderr=io.StringIO())
    key = out.strip().splitlines()[-1].split(": ")[-1]
    assert key.startswith("kst_") and "kst_" not in again.getvalue()  # issued once only
    api = Client(HTTP_HOST="demo.localhost", HTTP_AUTHORIZATION=f"Bearer {key}")
    assert api.get("/api/v1/me/").json()["role"] == "readonly"
    assert "http://demo.localhost:8000/" in out
    assert "owner@demo.kestrel.test / kestrel-demo-2026" in out
    tenant = Tenant.objects.get(slug="demo")
    with schema_context(tenant.schema_name):
        assert User.objects.count() == 5
        assert User.objects.get(email="lena@demo.kestrel.test").role == "rep"
    lena = Client(HTTP_HOST="demo.localhost")
    with schema_context(tenant.schema_name):
        assert lena.login(email="lena@demo.kestrel.test", password="kestrel-demo-2026")
    names = lena.get("/api/v1/companies/").json()["results"]
    # her own two, the one shared with her and the one the demo import made for her contact
    # (Kwame Mensah of Tailspin Toys); not Maya's, Tom's or the owner's others
    assert sorted(c["name"] for c in names) == [
        "Acme Corporation",
        "Globex",
        "Tailspin Toys",
        "Umbrella Health",
    ]
    client = Client(HTTP_HOST="demo.localhost")
    with schema_context(tenant.schema_name):
        assert client.login(email="maya@demo.kestrel.test", password="kestrel-demo-2026")
    assert b"Demo Sales Co" in client.get("/").content
    operator = Client(HTTP_HOST="localhost")
    assert operator.login(email="operator@kestrel.test", password="kestrel-demo-2026")
    assert b"Demo Sales Co" in operator.get("/console/").content
    # The contacts features show at once: custom fields, tags, a duplicate pair, a view.
    vips = client.get("/api/v1/contacts/?tag=VIP&ordering=-cf_score").json()["results"]
    assert [c["first_name"] for c in vips][:2] == ["Ada", "Pepper"]
    assert vips[0]["custom_fields"]["tier"] == "Gold"
    pairs = client.get("/api/v1/contacts/duplicates/").json()["results"]
    assert any("same name" in p["reasons"] for p in pairs)
    assert b"VIP contacts" in client.get("/contacts/").content
    assert client.get("/api/v1/contacts/?search=lovelcae").json()["results"]
    # The imports page shows a finished import (with a duplicate and rejected rows) and the
    # same file previewed again in update mode, where every row is unchanged.
    from apps.imports.models import ImportJob

    with schema_context(tenant.schema_name):
        done, previewed = ImportJob.objects.order_by("pk")
    assert (done.status, done.created, done.duplicates, done.errors) == ("done", 6, 1, 3)
    assert (previewed.status, previewed.created, previewed.unchanged) == ("previewed", 0, 6)
