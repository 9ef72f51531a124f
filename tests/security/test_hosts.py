"""Host-header spoofing: crafted Host headers (ports, user@host, trailing dot, case, other
names, X-Forwarded-Host) never reach another organisation or a tenant at all, and the links
in password-reset and invitation emails never carry a host the client chose."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.core import mail
from django.test import Client

from tenants.models import Tenant
from tests.conftest import ALPHA, login, tenant_client

pytestmark = pytest.mark.django_db

# Refused outright (400): not a host name Django accepts, or not under the base domain.
REFUSED = [
    "alpha.localhost:evil",
    "alpha.localhost:80@evil.example",
    "evil.example@alpha.localhost",
    "alpha.localhost@evil.example",
    "alpha.localhost/evil",
    "alpha.localhost evil.example",
    "alpha.localhost\\evil.example",
    "alpha.evil.example",
    "alpha.localhost.evil.example",
    "evil.example",
    "localhost.evil.example",
    "alpha.localhost:8000:9000",
    "[::1]:8000@alpha.localhost",
    "alpha%2elocalhost",
    "",
]
# Accepted as names under the base domain, but no organisation's: the friendly 404.
UNKNOWN = ["alpha.localhost.", "xn--alpha.localhost", "alpha-.localhost", "a.b.alpha.localhost"]


def test_crafted_hosts_never_reach_an_organisation(tenant_a: Tenant, tenant_b: Tenant) -> None:
    for host in REFUSED + UNKNOWN:
        client = Client(HTTP_HOST=host)
        client.raise_request_exception = False
        for path in ("/accounts/login/", "/api/v1/contacts/"):
            response = client.get(path)
            assert response.status_code in (400, 404), (host, path, response.status_code)
            assert b"Alpha Ltd" not in response.content and b"Beta GmbH" not in response.content


def test_case_and_port_of_the_real_host_reach_only_that_organisation(tenant_a: Tenant) -> None:
    for host in ("ALPHA.LOCALHOST", "Alpha.LocalHost:8000", "alpha.localhost:443"):
        page = Client(HTTP_HOST=host).get("/accounts/login/")
        assert page.status_code == 200 and b"Sign in to Alpha Ltd" in page.content, host


def test_forwarded_host_headers_are_ignored(tenant_a: Tenant, tenant_b: Tenant) -> None:
    spoofing: dict[str, Any] = {
        "HTTP_X_FORWARDED_HOST": "beta.localhost",
        "HTTP_X_FORWARDED_SERVER": "beta.localhost",
        "HTTP_X_HOST": "beta.localhost",
        "HTTP_FORWARDED": "host=beta.localhost;proto=https",
        "HTTP_X_ORIGINAL_HOST": "beta.localhost",
    }
    page = Client(HTTP_HOST="alpha.localhost").get("/accounts/login/", **spoofing)
    assert b"Sign in to Alpha Ltd" in page.content
    public = Client(HTTP_HOST="localhost", HTTP_X_FORWARDED_HOST="alpha.localhost").get("/")
    assert public.status_code == 200 and b"Alpha Ltd" not in public.content
    # A session of Alpha presented with Beta's name in a forwarded header is still Alpha's.
    alpha = login(tenant_client(tenant_a), tenant_a, ALPHA.owner_email)
    me = alpha.get("/api/v1/me/", HTTP_X_FORWARDED_HOST="beta.localhost")
    assert me.status_code == 200 and me.json()["organisation"]["slug"] == "alpha"


def _links(text: str) -> list[str]:
    return re.findall(r"https?://\S+", text)


@pytest.mark.parametrize(
    "extra",
    [
        {"HTTP_X_FORWARDED_HOST": "evil.example"},
        {"HTTP_X_FORWARDED_HOST": "beta.localhost", "HTTP_FORWARDED": "host=evil.example"},
        {"HTTP_HOST": "ALPHA.localhost"},
    ],
)
def test_password_reset_links_stay_on_the_organisations_host(
    tenant_a: Tenant, tenant_b: Tenant, extra: dict[str, Any]
) -> None:
    mail.outbox.clear()
    client = Client(HTTP_HOST="alpha.localhost")
    sent = client.post("/accounts/password-reset/", {"email": ALPHA.owner_email}, **extra)
    assert sent.status_code == 302
    assert len(mail.outbox) == 1
    links = _links(str(mail.outbox[0].body))
    assert links, mail.outbox[0].body
    for link in links:
        host = urlsplit(link).hostname
        assert host == "alpha.localhost", link


def test_invitation_links_stay_on_the_organisations_host(tenant_a: Tenant) -> None:
    mail.outbox.clear()
    owner = login(
        Client(HTTP_HOST="alpha.localhost", HTTP_X_FORWARDED_HOST="evil.example"),
        tenant_a,
        ALPHA.owner_email,
    )
    page = owner.post("/settings/users/", {"email": "invitee@alpha.test", "role": "rep"})
    assert page.status_code in (200, 302)
    assert len(mail.outbox) == 1
    for link in _links(str(mail.outbox[0].body)):
        assert urlsplit(link).hostname == "alpha.localhost", link
