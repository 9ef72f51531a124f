"""CSRF on every state-changing web form: every URL pattern of the organisations' hosts and
of the public host is walked, and a POST without the token from a signed-in browser is
refused by Django's CSRF check (403, logged by django.security.csrf). The exceptions are
listed here with their reason and tested on their own."""

from __future__ import annotations

import logging

import pytest
from django.test import Client
from django_tenants.utils import schema_context

from apps.accounts.models import User
from apps.apikeys.services import api_key_create
from tenants.models import Tenant
from tests.conftest import ALPHA, login

from .conftest import Route, public_routes, tenant_routes

pytestmark = pytest.mark.django_db

# Pattern -> why it takes a POST without the CSRF cookie and token.
EXEMPT = {
    # The hosted lead form is posted from other sites (embedded in customers' pages); it
    # carries a signed, expiring token of its own, a honeypot and a rate limit
    # (tests/leads/test_webforms.py) and never acts for a signed-in user.
    "f/<slug:public_id>/": "public web form, own signed token",
}
# Marked csrf_exempt for Django's middleware but checking the token themselves (so still
# walked below like every other form), with why.
CHECKS_ITSELF = {
    "imports/new/": "installs the upload size limit before the check reads the body",
    "metrics": "GET only (404 to anything else), for a scraper with its bearer token",
}
# The API: DRF views are csrf_exempt for Django's middleware, and DRF enforces CSRF itself
# for session-authenticated calls (tested below); calls with an API key need no token.
API_PREFIX = "api/"


def _post_without_token(client: Client, url: str, caplog: pytest.LogCaptureFixture) -> bool:
    """Whether Django's CSRF check refused a POST to `url`."""
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="django.security.csrf"):
        response = client.post(url, {"name": "x"})
    refused = any(r.name == "django.security.csrf" for r in caplog.records)
    assert not refused or response.status_code == 403, (url, response.status_code)
    return refused


def _exempt(route: Route) -> bool:
    return route.route.startswith(API_PREFIX) or route.route in EXEMPT


def test_every_tenant_form_needs_the_token(
    tenant_a: Tenant, caplog: pytest.LogCaptureFixture, db: None
) -> None:
    client = login(
        Client(HTTP_HOST="alpha.localhost", enforce_csrf_checks=True), tenant_a, ALPHA.owner_email
    )
    client.raise_request_exception = False
    checked, unprotected = 0, []
    for route in tenant_routes():
        if route.route in ("healthz", "readyz"):  # answered before any view, GET-only
            continue
        marked_exempt = getattr(route.callback, "csrf_exempt", False)
        if _exempt(route):
            assert route.route.startswith(API_PREFIX) or marked_exempt, route.route
            continue
        assert not marked_exempt or route.route in CHECKS_ITSELF, (
            f"{route.route} is csrf_exempt: list it in EXEMPT or CHECKS_ITSELF with why"
        )
        url = route.url({name: "1" for name in route.kwargs})
        if not _post_without_token(client, url, caplog):
            unprotected.append(url)
        checked += 1
    assert not unprotected, unprotected
    assert checked >= 80


def test_every_public_form_needs_the_token(
    tenant_a: Tenant, caplog: pytest.LogCaptureFixture
) -> None:
    client = Client(HTTP_HOST="localhost", enforce_csrf_checks=True)
    client.raise_request_exception = False
    checked = 0
    for route in public_routes():
        if route.route in ("healthz", "readyz", "metrics"):  # GET-only probes
            assert route.route != "metrics" or client.post("/metrics").status_code == 404
            continue
        assert not getattr(route.callback, "csrf_exempt", False), route.route
        url = route.url({name: "1" for name in route.kwargs})
        assert _post_without_token(client, url, caplog), url
        checked += 1
    assert checked >= 10


def test_the_api_needs_the_token_with_a_session_but_not_with_a_key(tenant_a: Tenant) -> None:
    client = login(
        Client(HTTP_HOST="alpha.localhost", enforce_csrf_checks=True), tenant_a, ALPHA.owner_email
    )
    refused = client.post("/api/v1/tags/", {"name": "no-token"}, content_type="application/json")
    assert refused.status_code == 403
    assert "CSRF" in refused.json()["error"]["message"]
    with schema_context(tenant_a.schema_name):
        owner = User.objects.get(email=ALPHA.owner_email)
        key = api_key_create(name="csrf", created_by=owner).secret
    keyed = Client(
        HTTP_HOST="alpha.localhost", enforce_csrf_checks=True, HTTP_AUTHORIZATION=f"Bearer {key}"
    )
    created = keyed.post("/api/v1/tags/", {"name": "with-key"}, content_type="application/json")
    assert created.status_code == 201, created.content[:300]


def test_the_hosted_web_form_is_the_only_exempt_page_and_checks_its_own_token(
    api: Client, world: dict[str, int], tenant_a: Tenant
) -> None:
    form = api.get(f"/api/v1/forms/{world['forms']}/").json()
    visitor = Client(HTTP_HOST="alpha.localhost", enforce_csrf_checks=True)
    forged = visitor.post(
        f"/f/{form['public_id']}/", {"email": "forged@x.example", "token": "forged"}
    )
    assert forged.status_code in (400, 403), forged.status_code
    with schema_context(tenant_a.schema_name):
        from apps.leads.models import Lead

        assert not Lead.objects.filter(email="forged@x.example").exists()
