"""The hourly pipeline snapshot: beat's fan-out sends it to every organisation's reports
queue, and each organisation's figures land in its own cache only."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.cache import cache
from django_tenants.utils import schema_context

from apps.accounts.models import User
from apps.deals.models import Pipeline
from apps.deals.services import deal_create
from apps.deals.tasks import SNAPSHOT_KEY
from tenants.models import Tenant
from tenants.tasks import fan_out
from tests.conftest import ALPHA, BETA

pytestmark = pytest.mark.django_db


def test_fan_out_builds_each_organisations_snapshot_in_its_own_schema(
    tenant_a: Tenant, tenant_b: Tenant
) -> None:
    with schema_context(tenant_a.schema_name):
        owner_a = User.objects.get(email=ALPHA.owner_email)
        deal_create(actor=owner_a, title="Alpha big", value=Decimal("1000"), currency="EUR")
        deal_create(actor=owner_a, title="Alpha small", value=Decimal("200"), currency="EUR")
        pipeline_a = Pipeline.objects.order_by("pk").first()
        cache.delete(SNAPSHOT_KEY)
    with schema_context(tenant_b.schema_name):
        owner_b = User.objects.get(email=BETA.owner_email)
        deal_create(actor=owner_b, title="Bravo", value=Decimal("7"), currency="USD")
        cache.delete(SNAPSHOT_KEY)

    assert fan_out("apps.deals.tasks.pipeline_snapshot") >= 2

    with schema_context(tenant_a.schema_name):
        snapshot = cache.get(SNAPSHOT_KEY)
        assert pipeline_a is not None
        stages = snapshot["pipelines"][str(pipeline_a.pk)]
        counts = sum(s["count"] for s in stages.values())
        money = [m for s in stages.values() for m in s["money"]]
        assert counts == 2
        assert {m["currency"] for m in money} == {"EUR"}
        assert sum(Decimal(m["value"]) for m in money) == Decimal("1200")
    with schema_context(tenant_b.schema_name):
        snapshot = cache.get(SNAPSHOT_KEY)
        money = [m for p in snapshot["pipelines"].values() for s in p.values() for m in s["money"]]
        assert [(m["currency"], Decimal(m["value"])) for m in money] == [("USD", Decimal("7"))]
