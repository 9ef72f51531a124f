"""Shared fixtures. The test database is migrated once per run (public + template); each
organisation a test needs is cloned from the template, never migrated."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client
from django_tenants.utils import schema_context

from tenants.db import connection
from tenants.models import Tenant
from tests.factories import TenantSpec, ensure_tenant

ALPHA = TenantSpec(slug="alpha", name="Alpha Ltd", owner_email="owner@alpha.test")
BETA = TenantSpec(slug="beta", name="Beta GmbH", owner_email="owner@beta.test")
PASSWORD = "a-long-test-password"


@pytest.fixture(scope="session")
def django_db_setup(
    request: pytest.FixtureRequest,
    django_test_environment: None,
    django_db_blocker: Any,
    django_db_keepdb: bool,
    django_db_createdb: bool,
) -> Iterator[None]:
    """Always set up the test database, even for a run of browser tests alone (they reach it
    through a server process, so pytest-django cannot tell they need it) - never the
    development database."""
    from django.test.utils import setup_databases, teardown_databases

    keepdb = django_db_keepdb and not django_db_createdb
    with django_db_blocker.unblock():
        config = setup_databases(
            verbosity=request.config.option.verbose,
            interactive=False,
            keepdb=keepdb,
            aliases={"default"},  # type: ignore[arg-type]  # a set, as pytest-django passes
        )
    yield
    if not keepdb:
        with django_db_blocker.unblock():
            # Sessions left by server processes or browser-test threads would block the drop.
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            teardown_databases(config, verbosity=request.config.option.verbose)


@pytest.fixture(scope="session")
def tenant_a(django_db_setup: None, django_db_blocker: pytest.FixtureRequest) -> Tenant:
    with django_db_blocker.unblock():  # type: ignore[attr-defined]
        return ensure_tenant(ALPHA, password=PASSWORD)


@pytest.fixture(scope="session")
def tenant_b(django_db_setup: None, django_db_blocker: pytest.FixtureRequest) -> Tenant:
    with django_db_blocker.unblock():  # type: ignore[attr-defined]
        return ensure_tenant(BETA, password=PASSWORD)


@pytest.fixture(autouse=True)
def _public_schema_between_tests() -> Iterator[None]:
    # A test that forgets to leave a tenant's schema must not leak it into the next test.
    yield
    connection.set_schema_to_public()


@pytest.fixture(autouse=True)
def _fresh_report_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    # Cached reports are keyed by a generation that moves when writes commit; a test's writes
    # are rolled back, never committed, so each test counts generations under its own key.
    from apps.reports import cache as report_cache

    monkeypatch.setattr(report_cache, "GENERATION", f"reports:generation:{uuid.uuid4().hex}")


@pytest.fixture
def in_tenant_a(db: None, tenant_a: Tenant) -> Iterator[Tenant]:
    with schema_context(tenant_a.schema_name):
        yield tenant_a


@pytest.fixture
def public_client() -> Client:
    return Client(HTTP_HOST="localhost")


def tenant_client(tenant: Tenant) -> Client:
    return Client(HTTP_HOST=f"{tenant.slug}.localhost")


def login(client: Client, tenant: Tenant, email: str, password: str = PASSWORD) -> Client:
    """Sign `client` in as `email` of `tenant`: the session is stored in that tenant's schema."""
    with schema_context(tenant.schema_name):
        assert client.login(email=email, password=password), f"cannot sign in as {email}"
    return client


@pytest.fixture
def client_a(tenant_a: Tenant) -> Client:
    return tenant_client(tenant_a)


@pytest.fixture
def client_b(tenant_b: Tenant) -> Client:
    return tenant_client(tenant_b)


@pytest.fixture
def owner_client_a(db: None, tenant_a: Tenant) -> Client:
    return login(tenant_client(tenant_a), tenant_a, ALPHA.owner_email)


@pytest.fixture
def owner_client_b(db: None, tenant_b: Tenant) -> Client:
    return login(tenant_client(tenant_b), tenant_b, BETA.owner_email)


def fresh_window(length: int, needed: float = 3.0) -> None:
    """Rate limits count in fixed windows; wait for a new one if fewer than `needed` seconds
    of the current one remain, so a test's requests all land in the same window."""
    import time

    remaining = length - time.time() % length
    if remaining < needed:
        time.sleep(remaining + 0.05)
