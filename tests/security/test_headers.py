"""Security headers on real responses of every kind (an organisation's pages signed in and
out, the public site, the API, error pages), the production settings' HSTS and cookies, and
`manage.py check --deploy` clean under the production settings."""

from __future__ import annotations

import sys
from typing import Any

import pytest
from django.conf import global_settings
from django.test import Client, override_settings

from tenants import services
from tenants.models import Tenant
from tests.conftest import ALPHA, PASSWORD, tenant_client

from .conftest import PRODUCTION_ENV

pytestmark = pytest.mark.django_db


def _assert_headers(response: Any, what: str) -> None:
    policy = response["Content-Security-Policy"]
    directives = {d.split()[0]: d.split()[1:] for d in policy.split(";") if d.strip()}
    assert directives["default-src"] == ["'self'"], (what, policy)
    assert directives["script-src"] == ["'self'"], (what, policy)
    assert directives["object-src"] == ["'none'"], (what, policy)
    assert directives["frame-ancestors"] == ["'none'"], (what, policy)
    assert directives["base-uri"] == ["'self'"], (what, policy)
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy, (what, policy)
    assert response["X-Frame-Options"] == "DENY", what
    assert response["X-Content-Type-Options"] == "nosniff", what
    assert response["Referrer-Policy"] == "same-origin", what
    assert response["Cross-Origin-Opener-Policy"] == "same-origin", what


def test_every_kind_of_response_carries_the_headers(
    api: Client, tenant_a: Tenant, world: dict[str, int]
) -> None:
    anonymous = tenant_client(tenant_a)
    public = Client(HTTP_HOST="localhost")
    public.raise_request_exception = anonymous.raise_request_exception = False
    responses = {
        "tenant login page": (anonymous.get("/accounts/login/"), 200),
        "tenant page, signed in": (api.get("/contacts/"), 200),
        "tenant record page": (api.get(f"/contacts/{world['contacts']}/"), 200),
        "API list": (api.get("/api/v1/contacts/"), 200),
        "API 401": (anonymous.get("/api/v1/contacts/"), 401),
        "API 404": (api.get("/api/v1/contacts/999999999/"), 404),
        "API 413": (
            api.post("/api/v1/tags/", "x" * 6_000_000, content_type="application/json"),
            413,
        ),
        "public landing": (public.get("/"), 200),
        "public sign-up": (public.get("/signup/"), 200),
        "console login": (public.get("/console/login/"), 200),
        "tenant 404": (api.get("/no-such-page/"), 404),
        "tenant 403 (CSRF)": (
            Client(HTTP_HOST="alpha.localhost", enforce_csrf_checks=True).post(
                "/accounts/login/", {"username": "x", "password": "y"}
            ),
            403,
        ),
        "unknown workspace 404": (Client(HTTP_HOST="nosuch.localhost").get("/"), 404),
        "foreign host 400": (Client(HTTP_HOST="alpha.evil.example").get("/"), 400),
        "bad query 400": (api.get("/contacts/?q=%ff"), 400),
        "redirect to sign-in": (anonymous.get("/contacts/"), 302),
    }
    suspended = tenant_client(tenant_a)
    suspended.raise_request_exception = False
    services.tenant_suspend(tenant=tenant_a, actor="test")
    try:
        responses["suspended page 403"] = (suspended.get("/accounts/login/"), 403)
        responses["suspended API 403"] = (suspended.get("/api/v1/contacts/"), 403)
    finally:
        services.tenant_resume(tenant=tenant_a, actor="test")
    for what, (response, status) in responses.items():
        assert response.status_code == status, (what, response.status_code)
        _assert_headers(response, what)


def _production_settings(monkeypatch: pytest.MonkeyPatch) -> Any:
    import importlib

    for key, value in {**PRODUCTION_ENV, "DJANGO_SECRET_KEY": "s" * 60}.items():
        monkeypatch.setenv(key, value)
    for module in [m for m in sys.modules if m.startswith("config.settings")]:
        monkeypatch.delitem(sys.modules, module)
    return importlib.import_module("config.settings.production")


def test_production_sends_hsts_and_secure_host_only_cookies(
    tenant_a: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    production = _production_settings(monkeypatch)
    assert production.SECURE_HSTS_SECONDS >= 31_536_000
    assert production.SECURE_HSTS_INCLUDE_SUBDOMAINS is True
    assert production.SECURE_HSTS_PRELOAD is False  # the decision: see production.py
    assert production.SESSION_COOKIE_DOMAIN is None and production.CSRF_COOKIE_DOMAIN is None
    names = (
        "SECURE_HSTS_SECONDS",
        "SECURE_HSTS_INCLUDE_SUBDOMAINS",
        "SECURE_HSTS_PRELOAD",
        "SECURE_PROXY_SSL_HEADER",
        "SESSION_COOKIE_SECURE",
        "CSRF_COOKIE_SECURE",
        "SESSION_COOKIE_HTTPONLY",
        "SESSION_COOKIE_SAMESITE",
        "CSRF_COOKIE_SAMESITE",
    )
    values = {name: getattr(production, name, getattr(global_settings, name)) for name in names}
    with override_settings(**values):
        browser = Client(HTTP_HOST="alpha.localhost", HTTP_X_FORWARDED_PROTO="https")
        page = browser.get("/accounts/login/")
        assert page["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
        signed_in = browser.post(
            "/accounts/login/",
            {
                "username": ALPHA.owner_email,
                "password": PASSWORD,
                "csrfmiddlewaretoken": page.cookies["csrftoken"].value,
            },
        )
        assert signed_in.status_code == 302
        for name in ("sessionid", "csrftoken"):
            cookie = (signed_in.cookies.get(name) or page.cookies[name]).output()
            assert "Secure" in cookie and "SameSite=Lax" in cookie, cookie
            assert "Domain=" not in cookie, cookie  # host-only: never sent to other orgs
        assert "HttpOnly" in signed_in.cookies["sessionid"].output()
        # Over plain http (a probe behind the proxy) there is no HSTS header to send.
        plain = Client(HTTP_HOST="alpha.localhost").get("/accounts/login/")
        assert "Strict-Transport-Security" not in plain
