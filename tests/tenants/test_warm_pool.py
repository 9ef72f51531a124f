from __future__ import annotations

import io

import pytest
from django.core.management import call_command

from tenants import provisioning, schemas, tasks
from tenants.db import connection
from tenants.models import SpareSchema, Tenant

pytestmark = pytest.mark.django_db


def test_migrate_schemas_discards_spares_built_from_an_older_template() -> None:
    provisioning.warm_pool_refill(target=2)
    stale, fresh = SpareSchema.objects.order_by("created_at")
    with connection.cursor() as cursor:
        # As if the template gained a migration after this spare was cloned.
        cursor.execute(
            f'DELETE FROM "{stale.schema_name}".django_migrations WHERE app = %s', ["accounts"]
        )
    out = io.StringIO()
    call_command("migrate_schemas", interactive=False, verbosity=1, stdout=out)
    assert "Discarded 1 spare schema" in out.getvalue()
    assert list(SpareSchema.objects.values_list("schema_name", flat=True)) == [fresh.schema_name]
    assert not schemas.exists(stale.schema_name)
    assert schemas.exists(provisioning.template_schema())


def test_orphaned_spare_schemas_are_dropped() -> None:
    schemas.clone_schema(provisioning.template_schema(), "spare_orphan")
    assert provisioning.warm_pool_discard_stale() == 1
    assert not schemas.exists("spare_orphan")


def test_refill_is_skipped_while_another_process_refills() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(%s)", [provisioning._POOL_LOCK_ID])
    try:
        from django.db import connections

        # A second connection plays the other process.
        other = connections.create_connection("default")
        try:
            with other.cursor() as cursor:
                cursor.execute("SELECT pg_try_advisory_lock(%s)", [provisioning._POOL_LOCK_ID])
                assert cursor.fetchone() == (False,)
        finally:
            other.close()
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [provisioning._POOL_LOCK_ID])


def test_refill_task_and_command() -> None:
    assert tasks.warm_pool_refill.delay().get() == 2  # test settings: pool size 2
    out = io.StringIO()
    call_command("warm_pool", size=3, stdout=out)
    assert out.getvalue().strip() == "added 1; pool size 3"


def test_refill_without_template_does_nothing(settings: object) -> None:
    settings.TENANT_BASE_SCHEMA = "no_such_template"  # type: ignore[attr-defined]
    assert provisioning.warm_pool_refill(target=3) == 0


def test_provision_without_template_explains(settings: object) -> None:
    from django.core.exceptions import ValidationError

    settings.TENANT_BASE_SCHEMA = "no_such_template"  # type: ignore[attr-defined]
    with pytest.raises(ValidationError) as info:
        provisioning.tenant_provision(slug="notemplate", name="N", owner_email="n@n.test")
    assert info.value.code == "template_missing"


def test_concurrent_signup_for_same_slug_reports_taken(monkeypatch: pytest.MonkeyPatch) -> None:
    from django.core.exceptions import ValidationError

    # The availability check passed for both requests; the database's unique constraint
    # decides, and the loser gets the same clear message with nothing left behind.
    monkeypatch.setattr(provisioning, "slug_check_available", lambda slug: None)
    provisioning.tenant_provision(slug="racer", name="R1", owner_email="a@r.test", use_pool=False)
    for use_pool in (False, True):  # fails on clone, or on renaming a spare
        provisioning.warm_pool_refill(target=1)
        with pytest.raises(ValidationError) as info:
            provisioning.tenant_provision(
                slug="racer", name="R2", owner_email="b@r.test", use_pool=use_pool
            )
        assert info.value.code == "slug_taken"
    assert Tenant.objects.get(slug="racer").name == "R1"
    assert provisioning.warm_pool_size() == 1  # the spare went back to the pool


def test_refill_after_provision_is_scheduled(
    settings: object, django_capture_on_commit_callbacks: object
) -> None:
    settings.TENANT_WARM_POOL_REFILL_ON_PROVISION = True  # type: ignore[attr-defined]
    provisioning.warm_pool_refill(target=1)
    with django_capture_on_commit_callbacks(execute=True):  # type: ignore[operator]
        result = provisioning.tenant_provision(slug="refilled", name="R", owner_email="r@r.test")
    assert result.source == "pool"
    assert provisioning.warm_pool_size() == 2  # topped back up to the configured size
