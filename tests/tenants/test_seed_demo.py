from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.test import Client
from django_tenants.utils import schema_context

from apps.accounts.models import User
from tenants.models import Tenant

pytestmark = pytest.mark.django_db


def test_seed_demo_is_idempotent_and_signs_in() -> None:
    out = io.StringIO()
    call_command("seed_demo", stdout=out, stderr=io.StringIO())
    call_command("seed_demo", stdout=io.StringIO(), stderr=io.StringIO())
    assert "http://demo.localhost:8000/" in out.getvalue()
    assert "owner@demo.kestrel.test / kestrel-demo-2026" in out.getvalue()
    tenant = Tenant.objects.get(slug="demo")
    with schema_context(tenant.schema_name):
        assert User.objects.count() == 4
        client = Client(HTTP_HOST="demo.localhost")
        assert client.login(email="maya@demo.kestrel.test", password="kestrel-demo-2026")
    assert b"Demo Sales Co" in client.get("/").content
    operator = Client(HTTP_HOST="localhost")
    assert operator.login(email="operator@kestrel.test", password="kestrel-demo-2026")
    assert b"Demo Sales Co" in operator.get("/console/").content
