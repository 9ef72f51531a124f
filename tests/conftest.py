"""Shared fixtures. The test database is migrated once per run (public + template); each
organisation a test needs is cloned from the template, never migrated."""

from __future__ import annotations

import io
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
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
            # The fault tests terminate every backend of the database, this process's own
            # connection among them: open a new one if it was lost.
            if connection.connection is not None and not connection.is_usable():
                connection.close()
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


@dataclass(frozen=True)
class DemoOrg:
    """The organisation `manage.py seed_demo` made, committed, and what the command printed
    the first time it ran."""

    tenant: Tenant
    output: str


# Seeding the demo (a year of sales history through the real services) is the slowest setup
# in the suite, so the tests of the demo share one seeding: `demo_org`. Its tests run one
# after the other (moved next to the first of them) and the organisation is deleted as soon
# as the last of them is done, so no other test ever sees it. Each test runs in its own
# transaction, rolled back, so what one test writes (a second seeding, sessions) is gone
# before the next.
_demo_users: list[pytest.Item] = []
_demo_cleanup: list[Callable[[], None]] = []


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    users = [item for item in items if "demo_org" in getattr(item, "fixturenames", ())]
    if not users:
        return
    first = items.index(users[0])
    rest = [item for item in items if item not in users]
    items[:] = rest[:first] + users + rest[first:]
    _demo_users[:] = users


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    yield
    if item in _demo_users:
        _demo_users.remove(item)
        if not _demo_users:
            while _demo_cleanup:
                _demo_cleanup.pop()()


@pytest.fixture(scope="session")
def demo_org(django_db_setup: None, django_db_blocker: Any) -> Iterator[DemoOrg]:
    from django.core.management import call_command

    from apps.accounts.models import User
    from tenants import services
    from tenants.management.commands.seed_demo import DEMO_SLUG, OPERATOR_EMAIL

    with django_db_blocker.unblock():
        connection.set_schema_to_public()
        assert not Tenant.objects.filter(slug=DEMO_SLUG).exists(), "a demo left from a run"
        operator_existed = User.objects.filter(email=OPERATOR_EMAIL).exists()
        out = io.StringIO()
        call_command("seed_demo", stdout=out, stderr=io.StringIO())
        demo = DemoOrg(tenant=Tenant.objects.get(slug=DEMO_SLUG), output=out.getvalue())

    def delete() -> None:
        with django_db_blocker.unblock():
            connection.set_schema_to_public()
            for tenant in Tenant.objects.filter(slug=DEMO_SLUG):
                services.tenant_delete(tenant=tenant, confirmation=tenant.slug, actor="test")
            operator = User.objects.filter(email=OPERATOR_EMAIL).first()
            if operator is not None and not operator_existed:
                # (Not Model.delete(): its cascade looks for per-organisation tables, such as
                # guardian's, that the public schema does not have.)
                with connection.cursor() as cursor:
                    for table in ("accounts_user_groups", "accounts_user_user_permissions"):
                        cursor.execute(f"DELETE FROM {table} WHERE user_id = %s", [operator.pk])
                    cursor.execute("DELETE FROM accounts_user WHERE id = %s", [operator.pk])

    _demo_cleanup.append(delete)
    try:
        yield demo
    finally:
        while _demo_cleanup:  # the run stopped before the last test of the demo
            _demo_cleanup.pop()()


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
