"""Hostile-input helpers: the project's own URL patterns and serializers, walked so that a
new resource, field or form is covered without anyone adding it to a list."""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from django.db import transaction
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils.html import escape
from rest_framework import serializers

from tenants.models import Tenant
from tests.conftest import ALPHA, login, tenant_client

# Starts like a spreadsheet formula, then SQL that closes a quote and a statement, then HTML
# that runs script in the attribute, the text and the template context (and a template tag).
PAYLOAD = "=1+2'); DROP TABLE contacts_contact;--\"><script>kx(1)</script>{{7*7}}"
# Never in a page as it is: only escaped.
RAW_MARKERS = ("<script>kx(1)</script>", '"><script>')
ESCAPED = escape(PAYLOAD)

API_PREFIX = "api/v1/"


@dataclass
class Route:
    """One URL pattern of a urlconf, with the view behind it."""

    route: str
    name: str | None
    callback: Any
    kwargs: list[str] = field(default_factory=list)

    @property
    def is_api(self) -> bool:
        return self.route.startswith("api/")

    @property
    def view_class(self) -> Any:
        return getattr(self.callback, "cls", None) or getattr(self.callback, "view_class", None)

    @property
    def actions(self) -> dict[str, str]:
        return dict(getattr(self.callback, "actions", None) or {})

    def url(self, values: dict[str, str]) -> str:
        """The pattern with each argument replaced by `values[name]` (default "1")."""
        path = self.route
        path = re.sub(
            r"\(\?P<(\w+)>[^)]*\)", lambda m: values.get(m.group(1), "1"), path.lstrip("^")
        )
        path = re.sub(r"<(?:\w+:)?(\w+)>", lambda m: values.get(m.group(1), "1"), path)
        return "/" + path.replace("$", "").replace("\\.", ".")


def routes(urlconf: str) -> Iterator[Route]:
    def walk(patterns: list[Any], prefix: str, namespace: str) -> Iterator[Route]:
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                ns = pattern.namespace or ""
                yield from walk(
                    pattern.url_patterns,
                    prefix + str(pattern.pattern),
                    f"{namespace}{ns}:" if ns else namespace,
                )
            elif isinstance(pattern, URLPattern):
                route = prefix + str(pattern.pattern)
                names = re.findall(r"\(\?P<(\w+)>|<(?:\w+:)?(\w+)>", route)
                yield Route(
                    route=route,
                    name=f"{namespace}{pattern.name}" if pattern.name else None,
                    callback=pattern.callback,
                    kwargs=[a or b for a, b in names],
                )

    yield from walk(get_resolver(urlconf).url_patterns, "", "")


def tenant_routes() -> list[Route]:
    return list(routes("config.urls_tenant"))


def public_routes() -> list[Route]:
    return list(routes("config.urls_public"))


def api_create_routes() -> dict[str, Route]:
    """Resource name -> its list route, for every API viewset that creates with POST."""
    found: dict[str, Route] = {}
    for route in tenant_routes():
        if route.route.startswith(API_PREFIX) and route.actions.get("post") == "create":
            found[route.route.removeprefix(API_PREFIX).strip("^$/")] = route
    return found


def writable_fields(route: Route) -> dict[str, serializers.Field]:
    """The fields a client may write on the resource behind `route`."""
    view_class = route.view_class
    serializer_class = getattr(view_class, "serializer_class", None)
    if view_class is not None and hasattr(view_class, "get_serializer_class"):
        view = view_class()
        view.action, view.request, view.format_kwarg, view.kwargs = "create", None, None, {}
        # Some read the request to choose; the declared class then.
        with contextlib.suppress(Exception):
            serializer_class = view.get_serializer_class()
    if serializer_class is None:
        return {}
    instance = serializer_class(context={"request": None})
    return {name: f for name, f in instance.fields.items() if not f.read_only}


TEXT_EXCLUDED = (
    serializers.ChoiceField,
    serializers.EmailField,
    serializers.URLField,
    serializers.RegexField,
    serializers.SlugField,
    serializers.IPAddressField,
)


def text_fields(route: Route) -> list[str]:
    """Free-text fields: a CharField that is not an email, URL, slug or choice."""
    return [
        name
        for name, f in writable_fields(route).items()
        if isinstance(f, serializers.CharField) and not isinstance(f, TEXT_EXCLUDED)
    ]


NUMBER_TYPES = (serializers.IntegerField, serializers.DecimalField, serializers.FloatField)


def number_fields(route: Route) -> list[str]:
    return [name for name, f in writable_fields(route).items() if isinstance(f, NUMBER_TYPES)]


def post_json(client: Client, url: str, body: Any, **extra: Any) -> Any:
    raw = body if isinstance(body, str | bytes) else json.dumps(body)
    return client.post(url, raw, content_type="application/json", **extra)


def patch_json(client: Client, url: str, body: Any) -> Any:
    raw = body if isinstance(body, str | bytes) else json.dumps(body)
    return client.patch(url, raw, content_type="application/json")


def assert_envelope(response: Any, status: int | tuple[int, ...], code: str | None = None) -> dict:
    """The API's one error envelope, with `status` and (if given) `code`."""
    statuses = status if isinstance(status, tuple) else (status,)
    assert response.status_code in statuses, (response.status_code, response.content[:300])
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    error = response.json()["error"]
    assert set(error) == {"code", "message", "field", "details"}
    assert error["message"]
    if code is not None:
        assert error["code"] == code, error
    return dict(error)


def html_is_safe(content: bytes) -> bool:
    text = content.decode("utf-8", "replace")
    return not any(marker in text for marker in RAW_MARKERS)


@pytest.fixture(scope="module")
def module_db(django_db_setup: None, django_db_blocker: Any, tenant_a: Tenant) -> Iterator[None]:
    """A transaction around a whole module, rolled back at its end: records made once for
    the module (`world`) are seen by each test, whose own changes roll back to a savepoint."""
    with django_db_blocker.unblock(), transaction.atomic():
        yield
        transaction.set_rollback(True)


@pytest.fixture(scope="module")
def api(module_db: None, tenant_a: Tenant) -> Client:
    """The owner of Alpha, signed in; a 500 is an answer to assert on, not an exception."""
    client = login(tenant_client(tenant_a), tenant_a, ALPHA.owner_email)
    client.raise_request_exception = False
    return client


@pytest.fixture(scope="module")
def world(api: Client) -> dict[str, int]:
    from .world import make_world

    return make_world(api)


PRODUCTION_ENV = {
    "DATABASE_URL": "postgresql://kestrel@db.internal/kestrel",
    "REDIS_URL": "redis://cache.internal:6379/0",
    "BASE_DOMAIN": "kestrel.example",
}


@pytest.fixture(scope="session", autouse=True)
def deploy_check() -> Iterator[subprocess.Popen[str]]:
    """`manage.py check --deploy --fail-level WARNING` under the production settings, started
    with the first test of this folder so that its Django start-up overlaps the other tests
    (test_whole_deploy_check.py, the last file, waits for it)."""
    # The browser tests' switch for Playwright's event loop is the test process's own; a
    # production process never has it (check --deploy rightly refuses it: async.E001).
    inherited = {k: v for k, v in os.environ.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"}
    env = {
        **inherited,
        **PRODUCTION_ENV,
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(64),
        "DJANGO_DEBUG": "false",
    }
    process = subprocess.Popen(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=Path(__file__).resolve().parents[2],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    yield process
    if process.poll() is None:
        process.kill()
    process.communicate()
