"""Notifications stay in their organisation: organisation B's people and keys cannot list, read,
follow or mark organisation A's notifications, on the web or through the API, and A's own
session or key means nothing on B's host."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django_tenants.utils import schema_context

from apps.accounts.models import User
from apps.apikeys.services import api_key_create
from apps.notifications import services
from apps.notifications.models import Notification
from tenants.models import Tenant
from tests.conftest import login, tenant_client

pytestmark = pytest.mark.django_db
JSON = "application/json"
SECRET = "Alpha secret: the Globex discount is 40%"


def _owner(tenant: Tenant) -> User:
    return User.objects.get(email=f"owner@{tenant.slug}.test")


def _keyed(tenant: Tenant, secret: str) -> Client:
    return Client(HTTP_HOST=f"{tenant.slug}.localhost", HTTP_AUTHORIZATION=f"Bearer {secret}")


def test_b_reaches_none_of_as_notifications(tenant_a: Tenant, tenant_b: Tenant) -> None:
    with schema_context(tenant_a.schema_name):
        a_owner = _owner(tenant_a)
        made = services.notify(
            recipient=a_owner, kind="mention", title=SECRET, body=SECRET, url="/deals/1/"
        )
        assert made is not None
        a_key = api_key_create(name="A's key", role="owner", created_by=a_owner).secret
    with schema_context(tenant_b.schema_name):
        b_owner = _owner(tenant_b)
        # B's schema has no row with A's id (ids are per schema), so a 404 below is about
        # isolation, not about an id that happens to be B's.
        Notification.objects.filter(pk=made.pk).delete()
        assert not Notification.objects.filter(title=SECRET).exists()
        b_key = api_key_create(name="B's key", role="owner", created_by=b_owner).secret
    b_web = login(tenant_client(tenant_b), tenant_b, b_owner.email)
    b_api = _keyed(tenant_b, b_key)

    for client in (b_web, b_api):
        listing = client.get("/api/v1/notifications/")
        assert listing.status_code == 200 and listing.json()["results"] == []
        for answer in (
            client.get(f"/api/v1/notifications/{made.pk}/"),
            client.post(f"/api/v1/notifications/{made.pk}/read/", content_type=JSON),
        ):
            assert answer.status_code == 404 and SECRET not in answer.content.decode()
        marked = client.post("/api/v1/notifications/read-all/", content_type=JSON)
        assert marked.json() == {"marked": 0}
    for path in ("/notifications/", "/notifications/?unread=1", "/notifications/badge/", "/"):
        page = b_web.get(path)
        assert page.status_code == 200 and SECRET not in page.content.decode(), path
    assert b_web.get(f"/notifications/{made.pk}/open/").status_code == 404
    assert b_web.post(f"/notifications/{made.pk}/read/").status_code == 404
    assert b_web.post("/notifications/read-all/").status_code == 302

    # A's key and A's session are strangers on B's host.
    assert _keyed(tenant_b, a_key).get("/api/v1/notifications/").status_code == 401
    a_web = login(tenant_client(tenant_a), tenant_a, a_owner.email)
    a_cookies: Any = a_web.cookies
    stranger = tenant_client(tenant_b)
    stranger.cookies = a_cookies
    assert stranger.get("/api/v1/notifications/").status_code in (401, 403)
    assert stranger.get("/notifications/").status_code == 302  # to B's sign-in page

    # A still has it, unread, and sees it on A's host.
    with schema_context(tenant_a.schema_name):
        assert Notification.objects.get(pk=made.pk).read_at is None
    mine = _keyed(tenant_a, a_key).get("/api/v1/notifications/").json()["results"]
    assert SECRET in [n["title"] for n in mine]
