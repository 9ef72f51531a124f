from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django_tenants.utils import schema_context

from apps.accounts.models import User
from tenants import provisioning, schemas
from tenants.db import connection
from tenants.models import AuditEvent, Domain, SpareSchema, Tenant

pytestmark = pytest.mark.django_db


def test_clone_creates_schema_domain_owner_and_audit_event() -> None:
    result = provisioning.tenant_provision(
        slug="cloned-co",
        name="Cloned Co",
        owner_email="Boss@Cloned.test",
        owner_password="a-long-test-password",
        use_pool=False,
    )
    assert result.source == "clone"
    assert result.url == "http://cloned-co.localhost:8000/"
    assert result.tenant.schema_name == "t_cloned_co"
    assert Domain.objects.get(tenant=result.tenant).domain == "cloned-co.localhost"
    with schema_context("t_cloned_co"):
        owner = User.objects.get()
        assert owner.email == "boss@cloned.test"
        assert owner.check_password("a-long-test-password")
    event = AuditEvent.objects.get(tenant_slug="cloned-co")
    assert event.action == "tenant.created"
    assert event.detail["source"] == "clone"


def test_cloned_schema_is_fully_migrated() -> None:
    result = provisioning.tenant_provision(
        slug="migrated", name="M", owner_email="m@m.test", use_pool=False
    )
    template = schemas.applied_migrations(provisioning.template_schema())
    assert template  # the template itself is migrated
    assert schemas.applied_migrations(result.tenant.schema_name) == template


def test_pool_schema_is_used_first_and_renamed() -> None:
    assert provisioning.warm_pool_refill(target=1) == 1
    spare = SpareSchema.objects.get()
    result = provisioning.tenant_provision(slug="pooled", name="Pooled", owner_email="p@p.test")
    assert result.source == "pool"
    assert not schemas.exists(spare.schema_name)
    assert schemas.exists("t_pooled")
    assert SpareSchema.objects.count() == 0
    with schema_context("t_pooled"):
        assert User.objects.get().email == "p@p.test"


def test_empty_pool_falls_back_to_clone() -> None:
    SpareSchema.objects.all().delete()
    result = provisioning.tenant_provision(slug="no-pool", name="N", owner_email="n@n.test")
    assert result.source == "clone"


def test_refill_tops_up_to_target_only() -> None:
    assert provisioning.warm_pool_refill(target=2) == 2
    assert provisioning.warm_pool_refill(target=2) == 0
    assert provisioning.warm_pool_size() == 2


@pytest.mark.parametrize(
    ("slug", "code"),
    [
        ("ab", "slug_length"),
        ("a" * 41, "slug_length"),
        ("Acme", "slug_not_lowercase"),
        ("acme_inc", "slug_characters"),
        ("-acme", "slug_characters"),
        ("ac--me", "slug_characters"),
        ("www", "slug_reserved"),
        ("console", "slug_reserved"),
        ("admin", "slug_reserved"),
    ],
)
def test_bad_slugs_are_refused_with_a_clear_code(slug: str, code: str) -> None:
    with pytest.raises(ValidationError) as info:
        provisioning.tenant_provision(slug=slug, name="X", owner_email="x@x.test")
    assert info.value.code == code
    assert not Tenant.objects.filter(slug=slug).exists()


def test_taken_slug_is_refused(tenant_a: Tenant) -> None:
    with pytest.raises(ValidationError) as info:
        provisioning.tenant_provision(slug="alpha", name="Again", owner_email="x@x.test")
    assert info.value.code == "slug_taken"


def test_failure_midway_leaves_nothing_behind() -> None:
    with pytest.raises(ValidationError):
        provisioning.tenant_provision(slug="half-done", name="H", owner_email="not-an-email")
    assert not Tenant.objects.filter(slug="half-done").exists()
    assert not schemas.exists("t_half_done")


def test_provision_command_prints_url_last(capsys: pytest.CaptureFixture[str]) -> None:
    call_command(
        "provision_tenant",
        "cli-co",
        name="CLI Co",
        owner_email="c@cli.test",
        owner_password="a-long-test-password",
    )
    out = capsys.readouterr().out.strip().splitlines()
    assert out[-1] == "http://cli-co.localhost:8000/"
    assert connection.schema_name == "public"


def test_library_create_tenant_command_points_to_provision_tenant() -> None:
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="provision_tenant"):
        call_command("create_tenant", "acme")
