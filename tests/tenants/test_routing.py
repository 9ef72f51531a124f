from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from tenants import services
from tenants.models import Domain, Tenant
from tenants.routing import HostTable, host_table
from tests.conftest import ALPHA, login

pytestmark = pytest.mark.django_db


def _found(table: HostTable, host: str) -> Tenant:
    tenant = table.lookup(host)
    assert tenant is not None, f"{host} should be served"
    return tenant


def test_public_host_serves_landing_page(public_client: Client) -> None:
    response = public_client.get("/")
    assert response.status_code == 200
    assert b"Create your workspace" in response.content


def test_tenant_host_serves_that_tenant(client_a: Client) -> None:
    response = client_a.get("/accounts/login/")
    assert response.status_code == 200
    assert b"Sign in to Alpha Ltd" in response.content


def test_unknown_subdomain_gets_friendly_404(tenant_a: Tenant) -> None:
    response = Client(HTTP_HOST="nosuch.localhost").get("/")
    assert response.status_code == 404
    assert b"There is no workspace here" in response.content
    assert b"Find my workspace" in response.content


def test_foreign_host_never_reaches_a_tenant(tenant_a: Tenant) -> None:
    response = Client(HTTP_HOST="alpha.evil.example").get("/accounts/login/")
    assert response.status_code == 400
    assert b"Alpha Ltd" not in response.content


def test_suspended_tenant_web_and_api(tenant_a: Tenant, client_a: Client) -> None:
    services.tenant_suspend(tenant=tenant_a, actor="test")
    try:
        page = client_a.get("/accounts/login/")
        assert page.status_code == 403
        assert b"suspended" in page.content
        api = client_a.get("/api/v1/")
        assert api.status_code == 403
        assert api.json()["error"]["code"] == "tenant_suspended"
    finally:
        services.tenant_resume(tenant=tenant_a, actor="test")
    assert client_a.get("/accounts/login/").status_code == 200


def test_search_path_is_set_once_per_request(tenant_a: Tenant) -> None:
    client = login(Client(HTTP_HOST="alpha.localhost"), tenant_a, ALPHA.owner_email)
    with CaptureQueriesContext(connection) as ctx:
        response = client.get("/")
    assert response.status_code == 200
    statements = [q["sql"] for q in ctx.captured_queries]
    assert len(statements) >= 2  # session and user at least: the page really queries
    assert sum(s.upper().startswith("SET SEARCH_PATH") for s in statements) == 1


def test_lookup_is_cached_in_process(tenant_a: Tenant) -> None:
    host_table.invalidate()
    with CaptureQueriesContext(connection) as first:
        assert _found(host_table, "alpha.localhost").slug == "alpha"
    with CaptureQueriesContext(connection) as second:
        assert _found(host_table, "alpha.localhost").slug == "alpha"

    def selects(ctx: CaptureQueriesContext) -> int:
        return sum(q["sql"].startswith("SELECT") for q in ctx.captured_queries)

    assert selects(first) == 1
    assert selects(second) == 0


def test_cache_is_invalidated_when_a_domain_changes(tenant_a: Tenant) -> None:
    assert host_table.lookup("alpha-alias.localhost") is None
    Domain.objects.create(domain="alpha-alias.localhost", tenant=tenant_a, is_primary=False)
    found = host_table.lookup("alpha-alias.localhost")
    assert found is not None and found.slug == "alpha"


def test_other_processes_see_changes_through_the_generation_token(
    tenant_a: Tenant, settings: object
) -> None:
    other = HostTable()  # stands for another web process with its own table
    assert _found(other, "alpha.localhost").status == "active"
    services.tenant_suspend(tenant=tenant_a, actor="test")
    try:
        other._checked_at = float("-inf")  # its recheck interval has elapsed
        assert _found(other, "alpha.localhost").status == "suspended"
    finally:
        services.tenant_resume(tenant=tenant_a, actor="test")


def test_lookup_returns_a_copy_so_requests_cannot_share_state(tenant_a: Tenant) -> None:
    first = _found(host_table, "alpha.localhost")
    first.domain_url = "mutated"
    assert getattr(host_table.lookup("alpha.localhost"), "domain_url", None) != "mutated"


def test_health_answers_on_any_host(tenant_a: Tenant) -> None:
    for host in ("localhost", "alpha.localhost", "nosuch.localhost", "10.0.0.7"):
        client = Client(HTTP_HOST=host)
        assert client.get("/healthz").json() == {"status": "ok"}
        ready = client.get("/readyz")
        assert ready.status_code == 200
        assert ready.json()["checks"] == {"database": "ok", "redis": "ok"}


def test_readyz_reports_a_dead_redis(settings: object, tenant_a: Tenant) -> None:
    # Changing CACHES makes Django rebuild its cache connections (and again on restore).
    settings.CACHES = {  # type: ignore[attr-defined]
        **settings.CACHES,  # type: ignore[attr-defined]
        "default": {**settings.CACHES["default"], "LOCATION": "redis://127.0.0.1:1/0"},  # type: ignore[attr-defined]
    }
    response = Client(HTTP_HOST="localhost").get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["redis"].startswith("error")
    assert response.json()["checks"]["database"] == "ok"


def test_responses_carry_strict_csp(public_client: Client) -> None:
    policy = public_client.get("/")["Content-Security-Policy"]
    assert "default-src 'self'" in policy and "unsafe-inline" not in policy


def test_a_host_unknown_here_is_found_once_another_process_creates_it(db: None) -> None:
    from tenants.provisioning import tenant_provision

    other_process = HostTable()
    assert other_process.lookup("latecomer.localhost") is None
    tenant_provision(slug="latecomer", name="Late", owner_email="l@l.test", use_pool=False)
    # No waiting for the recheck interval: the negative answer is re-validated at once.
    assert _found(other_process, "latecomer.localhost").slug == "latecomer"
