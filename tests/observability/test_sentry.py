"""Sentry, optional: with SENTRY_DSN an error in a view reaches Sentry tagged with the
organisation and the request id, without cookies; without it the SDK is never initialised.

The DSN points at a small HTTP server on loopback that keeps what the SDK's real transport
sends (envelopes), so the whole path from the view to the socket is exercised."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import sentry_sdk
from django.http import HttpRequest, HttpResponse
from django.test import Client, override_settings
from django.urls import path

from apps.core.observability import sentry
from tenants.models import Tenant
from tests.conftest import ALPHA, login

ROOT = Path(__file__).resolve().parents[2]


class Envelopes(ThreadingHTTPServer):
    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Receive)
        self.received: list[bytes] = []
        self.arrived = threading.Event()

    @property
    def dsn(self) -> str:
        return f"http://publickey@127.0.0.1:{self.server_address[1]}/42"

    def events(self) -> list[dict[str, Any]]:
        """The event items of every envelope received."""
        found = []
        for body in self.received:
            lines = body.split(b"\n")
            # header line, then (item header, payload) pairs
            for index in range(1, len(lines) - 1, 2):
                if not lines[index].strip():
                    continue
                item = json.loads(lines[index])
                if item.get("type") == "event":
                    found.append(json.loads(lines[index + 1]))
        return found


class _Receive(BaseHTTPRequestHandler):
    server: Envelopes

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        encoding = self.headers.get("Content-Encoding")
        if encoding == "gzip":
            body = gzip.decompress(body)
        elif encoding == "br":  # the SDK prefers Brotli when the module is installed
            import brotli

            body = brotli.decompress(body)
        self.server.received.append(body)
        self.server.arrived.set()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def envelopes() -> Iterator[Envelopes]:
    server = Envelopes()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def boom(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("the view failed")


def boom_with_token(request: HttpRequest, token: str) -> HttpResponse:
    raise RuntimeError("the feed failed")


urlpatterns = [path("boom/", boom), path("feed/<str:token>/", boom_with_token)]


@pytest.fixture
def sentry_on(envelopes: Envelopes) -> Iterator[Envelopes]:
    assert sentry.init_sentry(envelopes.dsn, environment="test.localhost", release="kestrel@t")
    try:
        yield envelopes
    finally:
        sentry_sdk.flush(timeout=5)
        sentry_sdk.get_client().close()
        # An inactive client: the integrations installed stay inert for later tests.
        sentry_sdk.init(dsn=None)


@pytest.mark.django_db
def test_an_error_in_a_view_reaches_sentry_tagged_and_without_cookies(
    tenant_a: Tenant, sentry_on: Envelopes
) -> None:
    with override_settings(ROOT_URLCONF="tests.observability.test_sentry"):
        client = Client(HTTP_HOST=f"{tenant_a.slug}.localhost", raise_request_exception=False)
        login(client, tenant_a, ALPHA.owner_email)
        session = client.cookies["sessionid"].value
        response = client.get(
            "/boom/",
            {"token": "query-secret"},
            headers={"authorization": "Bearer api-secret", "x-request-id": "sentry-req-1"},
        )
    assert response.status_code == 500
    sentry_sdk.flush(timeout=10)
    assert sentry_on.arrived.wait(10), "no envelope reached the server"

    events = sentry_on.events()
    assert events, sentry_on.received
    event = events[0]
    assert event["tags"]["tenant"] == tenant_a.schema_name
    assert event["tags"]["request_id"] == "sentry-req-1"
    assert event["environment"] == "test.localhost"
    assert event["release"] == "kestrel@t"
    assert event["exception"]["values"][-1]["value"] == "the view failed"
    raw = b"".join(sentry_on.received)
    assert session.encode() not in raw
    assert b"api-secret" not in raw
    assert b"query-secret" not in raw
    headers = {name.lower() for name in event["request"].get("headers", {})}
    assert "cookie" not in headers and "authorization" not in headers
    assert "user" not in event or "email" not in event["user"]  # no personal data


@pytest.mark.django_db
def test_a_form_posted_and_a_token_in_the_path_are_not_sent(
    tenant_a: Tenant, sentry_on: Envelopes
) -> None:
    """What a person typed (a contact's email, a password) and a credential in the URL (a
    calendar feed's token) stay out of the event."""
    with override_settings(ROOT_URLCONF="tests.observability.test_sentry"):
        client = Client(HTTP_HOST=f"{tenant_a.slug}.localhost", raise_request_exception=False)
        login(client, tenant_a, ALPHA.owner_email)
        client.get("/")  # a fresh CSRF cookie is not needed: the view fails first
        response = client.post(
            "/feed/feed-token-0123456789/",
            {"email": "jane.private@example.com", "password": "typed-password"},
        )
    assert response.status_code == 500
    sentry_sdk.flush(timeout=10)
    assert sentry_on.arrived.wait(10), "no envelope reached the server"

    [event] = sentry_on.events()
    assert event["exception"]["values"][-1]["value"] == "the feed failed"
    assert not event.get("request", {}).get("data")  # no body at all
    raw = b"".join(sentry_on.received)
    assert b"feed-token-0123456789" not in raw
    assert b"jane.private@example.com" not in raw
    assert b"typed-password" not in raw


def test_without_a_dsn_the_sdk_is_never_initialised(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("sentry_sdk.init called without a DSN")

    monkeypatch.setattr(sentry_sdk, "init", refuse)
    assert sentry.init_sentry("", environment="x", release=None) is False


@pytest.mark.parametrize("with_dsn", [False, True])
def test_the_settings_initialise_sentry_only_with_a_dsn(
    envelopes: Envelopes, with_dsn: bool
) -> None:
    """A fresh process loading the settings, as gunicorn or a worker would."""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test"}
    env.pop("SENTRY_DSN", None)
    if with_dsn:
        env["SENTRY_DSN"] = envelopes.dsn
    script = (
        "import django, json, sentry_sdk; django.setup(); c = sentry_sdk.get_client(); "
        "print(json.dumps([c.is_active(), c.options.get('environment'), "
        "c.options.get('release'), c.options.get('send_default_pii')]))"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    active, environment, release, pii = json.loads(done.stdout.strip().splitlines()[-1])
    assert active is with_dsn
    if with_dsn:
        assert environment == "localhost"  # BASE_DOMAIN
        assert release.startswith("kestrel-crm@")
        assert pii is False
