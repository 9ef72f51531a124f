"""Open redirects: every `next` the app follows (sign-in, sign-out, the console's sign-in,
activities, bulk actions, deal moves, notifications, background jobs) refuses other sites,
scheme tricks and other organisations' hosts, and goes to its safe default instead."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest
from django.test import Client
from django_tenants.utils import schema_context

from apps.accounts.models import User
from tenants.models import Tenant
from tests.conftest import ALPHA, PASSWORD, login, tenant_client

pytestmark = pytest.mark.django_db

HOSTILE_NEXT = [
    "//evil.example/",
    "https://evil.example/",
    "http://evil.example",
    "/\\evil.example",
    "\\\\evil.example",
    "/\\/evil.example",
    "///evil.example",
    "javascript:alert(1)",
    "JaVaScRiPt:alert(1)",
    " javascript:alert(1)",
    "data:text/html,<script>kx(1)</script>",
    "https://beta.localhost/",  # another organisation
    "//beta.localhost/contacts/",
    "http://alpha.localhost@evil.example/",
    "https:evil.example",
    "\t//evil.example",
]

# For the pages that share one check (apps.core.urls_util.local_path, or Django's own),
# the forms a browser reads as another host; the sign-in pages get the whole list.
CORE_NEXT = [
    "//evil.example/",
    "https://evil.example/",
    "/\\evil.example",
    "javascript:alert(1)",
    "https://beta.localhost/",
    "\t//evil.example",
]


def _safe(location: str) -> bool:
    """Somewhere on this host: a path, never another host or scheme."""
    parts = urlsplit(location)
    return (
        not parts.scheme
        and not parts.netloc
        and location.startswith("/")
        and not location.startswith("//")
        and "\\" not in location
    )


def _assert_safe(response: object, evil: str) -> None:
    status = getattr(response, "status_code", 0)
    assert status in (200, 302, 303), (evil, status)
    if status in (302, 303):
        location = response["Location"]  # type: ignore[index]
        assert _safe(location), (evil, location)


def test_sign_in_never_follows_a_foreign_next(tenant_a: Tenant) -> None:
    for evil in HOSTILE_NEXT:
        client = tenant_client(tenant_a)
        response = client.post(
            "/accounts/login/?next=" + evil.replace("&", "%26"),
            {"username": ALPHA.owner_email, "password": PASSWORD, "next": evil},
        )
        assert response.status_code == 302, (evil, response.status_code)
        assert response["Location"] == "/", (evil, response["Location"])
    # A path of this host is still followed.
    client = tenant_client(tenant_a)
    ok = client.post(
        "/accounts/login/", {"username": ALPHA.owner_email, "password": PASSWORD, "next": "/deals/"}
    )
    assert ok["Location"] == "/deals/"


def test_sign_out_never_follows_a_foreign_next(tenant_a: Tenant) -> None:
    for evil in HOSTILE_NEXT:
        client = login(tenant_client(tenant_a), tenant_a, ALPHA.owner_email)
        response = client.post("/accounts/logout/", {"next": evil})
        assert response.status_code == 302, evil
        assert _safe(response["Location"]), (evil, response["Location"])


def test_the_consoles_sign_in_never_follows_a_foreign_next(db: None) -> None:
    client = Client(HTTP_HOST="localhost")
    for evil in HOSTILE_NEXT[:8]:
        page = client.get("/console/login/", {"next": evil})
        assert page.status_code in (200, 302)
        if page.status_code == 302:
            assert _safe(page["Location"]), (evil, page["Location"])


@pytest.fixture
def signed_in(api: Client, world: dict[str, int]) -> tuple[Client, dict[str, int]]:
    return api, world


def test_app_pages_never_follow_a_foreign_next(
    signed_in: tuple[Client, dict[str, int]], tenant_a: Tenant
) -> None:
    client, ids = signed_in
    with schema_context(tenant_a.schema_name):
        owner = User.objects.get(email=ALPHA.owner_email)
    activity, deal, contact = ids["activities"], ids["deals"], ids["contacts"]
    stage = client.get(f"/api/v1/deals/{deal}/").json()["stage"]
    posts: list[tuple[str, dict[str, Any]]] = [
        (f"/activities/{activity}/complete/", {"done": "1"}),
        (f"/activities/{activity}/edit/", {"type": "task", "subject": "S", "owner": owner.pk}),
        ("/contacts/bulk/", {"ids": [contact], "action": "tag_add", "tag": "t"}),
        ("/contacts/bulk/", {"action": "tag_add"}),  # nothing selected: straight back
        (f"/deals/{deal}/move/", {"stage": stage}),
        ("/notifications/read-all/", {}),
        ("/settings/background-jobs/1/resolve/", {}),
    ]
    for url, data in posts:
        for evil in CORE_NEXT:
            response = client.post(url, {**data, "next": evil})
            assert response.status_code < 500, (url, evil)
            if response.status_code in (301, 302, 303):
                assert _safe(response["Location"]), (url, evil, response["Location"])
    # The new-activity form does not carry a foreign `next` on to its POST.
    for evil in CORE_NEXT:
        page = client.get("/activities/new/", {"next": evil})
        assert page.status_code == 200
        assert f'value="{evil}"' not in page.content.decode(), evil
