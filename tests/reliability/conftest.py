"""Fixtures of the reliability battery: a real Gunicorn (tests/reliability/live.py) and
organisations committed to the test database, so that server process sees them."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings

from tests.reliability.live import LiveServer, database_url, redis_url, start_gunicorn

PASSWORD = "a-long-test-password"


@pytest.fixture(scope="module")
def gunicorn_server(
    tmp_path_factory: pytest.TempPathFactory, django_db_setup: None, django_db_blocker: Any
) -> Iterator[LiveServer]:
    """Gunicorn (deploy/gunicorn.conf.py, test settings, 2 workers x 4 threads) serving the
    test database; one per test module."""
    with django_db_blocker.unblock():
        url = database_url()
    server = start_gunicorn(
        database_url=url,
        redis_url=redis_url(),
        log=tmp_path_factory.mktemp("gunicorn") / "gunicorn.log",
        workers=2,
        threads=4,
        # Sessions signed in by the test process (see tests/conftest.py `login`) hold a hash
        # keyed by the secret key: the server must have the same one.
        env={"DJANGO_SECRET_KEY": settings.SECRET_KEY},
    )
    try:
        yield server
    finally:
        server.stop()


class CommittedOrganisations:
    """Organisations provisioned outside any test transaction (committed, so a server
    process sees them); deleted by the fixture when the module ends."""

    def __init__(self, blocker: Any) -> None:
        self.blocker = blocker
        self.slugs: list[str] = []

    def make(self, label: str) -> Any:
        from tenants.provisioning import tenant_provision

        slug = f"r{uuid.uuid4().hex[:8]}-{label}"[:40]
        self.slugs.append(slug)
        with self.blocker.unblock():
            return tenant_provision(
                slug=slug,
                name=f"Reliability {label}",
                owner_email=f"owner@{slug}.test",
                owner_password=PASSWORD,
                use_pool=False,
            ).tenant

    def delete_all(self) -> None:
        from tenants import services
        from tenants.db import connection
        from tenants.models import Tenant

        with self.blocker.unblock():
            connection.set_schema_to_public()
            for tenant in Tenant.objects.filter(slug__in=self.slugs):
                services.tenant_delete(tenant=tenant, confirmation=tenant.slug, actor="test")


@pytest.fixture(scope="module")
def committed_organisations(
    django_db_setup: None, django_db_blocker: Any
) -> Iterator[CommittedOrganisations]:
    made = CommittedOrganisations(django_db_blocker)
    try:
        yield made
    finally:
        made.delete_all()
