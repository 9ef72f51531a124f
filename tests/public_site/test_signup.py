from __future__ import annotations

import secrets
from urllib.parse import urlparse

import pytest
from django.core import mail
from django.test import Client
from django_tenants.utils import schema_context

from apps.accounts.models import LoginHandoff
from tenants.models import Tenant
from tests.conftest import ALPHA, fresh_window

pytestmark = pytest.mark.django_db

GOOD = {
    "organisation": "Initech",
    "slug": "initech",
    "full_name": "Bill Lumbergh",
    "email": "bill@initech.test",
    "password": "tps-reports-2026!",
}


def test_signup_lands_the_owner_signed_in_on_their_subdomain(public_client: Client) -> None:
    response = public_client.post("/signup/", GOOD)
    assert response.status_code == 302
    target = urlparse(response["Location"])
    assert target.hostname == "initech.localhost"
    assert target.path == "/accounts/handoff/"
    # No session was made on the public host for the new owner.
    assert "sessionid" not in response.cookies

    tenant_browser = Client(HTTP_HOST="initech.localhost")
    landed = tenant_browser.get(f"{target.path}?{target.query}", follow=True)
    assert landed.status_code == 200
    assert b"Welcome, Bill" in landed.content
    assert landed.redirect_chain[-1][0] == "/"

    # The link works once only.
    again = Client(HTTP_HOST="initech.localhost").get(f"{target.path}?{target.query}")
    assert again.status_code == 400
    assert b"expired" in again.content


def test_handoff_token_is_stored_hashed(public_client: Client) -> None:
    response = public_client.post("/signup/", {**GOOD, "slug": "hashco"})
    token = urlparse(response["Location"]).query.split("=", 1)[1]
    tenant = Tenant.objects.get(slug="hashco")
    with schema_context(tenant.schema_name):
        stored = LoginHandoff.objects.get()
    assert token not in stored.token_hash
    assert len(stored.token_hash) == 64


def test_signup_errors_name_the_problem(public_client: Client, tenant_a: Tenant) -> None:
    response = public_client.post("/signup/", {**GOOD, "slug": "alpha", "password": "short"})
    assert response.status_code == 200
    body = response.content.decode()
    assert "already taken" in body
    assert "too short" in body
    response = public_client.post("/signup/", {**GOOD, "slug": "www"})
    assert "reserved" in response.content.decode()
    assert not Tenant.objects.filter(name="Initech").exists()


def test_signup_is_rate_limited(settings: object) -> None:
    settings.PUBLIC_RATE_LIMIT_PER_MINUTE = 2  # type: ignore[attr-defined]
    fresh_window(60)
    # A client address of its own, so earlier runs' counters in Redis cannot interfere.
    public_client = Client(
        HTTP_HOST="localhost", REMOTE_ADDR=f"10.9.{secrets.randbelow(250)}.{secrets.randbelow(250)}"
    )
    bad = {**GOOD, "slug": "x"}
    assert public_client.post("/signup/", bad).status_code == 200
    assert public_client.post("/signup/", bad).status_code == 200
    limited = public_client.post("/signup/", bad)
    assert limited.status_code == 429
    assert int(limited["Retry-After"]) > 0
    # other clients are unaffected
    other = Client(HTTP_HOST="localhost", REMOTE_ADDR=f"10.8.{secrets.randbelow(250)}.1")
    assert other.post("/signup/", bad).status_code == 200


def test_signup_form_requires_csrf(tenant_a: Tenant) -> None:
    strict = Client(HTTP_HOST="localhost", enforce_csrf_checks=True)
    assert strict.post("/signup/", GOOD).status_code == 403


def test_find_workspace_emails_the_addresses(public_client: Client, tenant_a: Tenant) -> None:
    response = public_client.post("/find/", {"email": ALPHA.owner_email.upper()})
    assert response.status_code == 200
    assert b"Check your email" in response.content
    assert len(mail.outbox) == 1
    assert "http://alpha.localhost/" in mail.outbox[0].body


def test_find_workspace_says_the_same_for_unknown_addresses(public_client: Client) -> None:
    response = public_client.post("/find/", {"email": "nobody@nowhere.test"})
    assert b"Check your email" in response.content
    assert "could not find" in mail.outbox[0].body


def test_find_workspace_page_and_validation(public_client: Client) -> None:
    assert b"Find my workspace" in public_client.get("/find/").content
    response = public_client.post("/find/", {"email": "not-an-email"})
    assert b"Enter a valid email address" in response.content
    assert not mail.outbox
