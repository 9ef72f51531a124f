from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from django_tenants.utils import schema_context

from apps.accounts.models import LoginHandoff, User
from apps.core.models import IdempotencyRecord
from apps.core.tasks import prune_expired
from tenants.models import Tenant

pytestmark = pytest.mark.django_db


def _rows(tenant: Tenant, age: timedelta, key: str) -> None:
    with schema_context(tenant.schema_name):
        record = IdempotencyRecord.objects.create(key=key, caller_hash="c", request_hash="r")
        IdempotencyRecord.objects.filter(pk=record.pk).update(created_at=timezone.now() - age)
        LoginHandoff.objects.create(
            token_hash=f"h-{key}",
            user=User.objects.get(email__startswith="owner@"),
            expires_at=timezone.now() - age,
        )


def test_prune_forgets_old_rows_in_every_organisation(tenant_a: Tenant, tenant_b: Tenant) -> None:
    for tenant in (tenant_a, tenant_b):
        _rows(tenant, timedelta(days=2), "old")
        _rows(tenant, timedelta(minutes=5), "fresh")
    removed = prune_expired.delay().get()
    assert removed["idempotency"] >= 2 and removed["handoffs"] >= 2
    for tenant in (tenant_a, tenant_b):
        with schema_context(tenant.schema_name):
            assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["fresh"]
            assert list(LoginHandoff.objects.values_list("token_hash", flat=True)) == ["h-fresh"]


def test_prune_is_scheduled(settings: object) -> None:
    schedule = settings.CELERY_BEAT_SCHEDULE  # type: ignore[attr-defined]
    assert schedule["core-prune-expired"]["task"] == "core.tasks.prune_expired"
