"""Reports of one organisation never count another's records: not through the ORM, the web
page, the API or the cache (both organisations' reports cached with the same filters, by
members of the same role, on the same day)."""

from __future__ import annotations

from typing import Any

import pytest
from django_tenants.utils import schema_context

from apps.accounts.models import User
from apps.deals.models import Stage, StageKind
from apps.deals.services import deal_create, deal_move, pipeline_default
from apps.reports import registry
from tenants.models import Tenant
from tests.conftest import login
from tests.notifications.conftest import SchemaKeepingClient

pytestmark = pytest.mark.django_db


def _won(tenant: Tenant, value: str) -> None:
    with schema_context(tenant.schema_name):
        owner = User.objects.get(email=f"owner@{tenant.slug}.test")
        pipeline = pipeline_default()
        deal = deal_create(actor=owner, title=f"{tenant.slug} deal", value=value, pipeline=pipeline)
        deal_move(
            actor=owner, deal=deal, stage=Stage.objects.get(pipeline=pipeline, kind=StageKind.WON)
        )


def _won_value(data: dict[str, Any]) -> str:
    return next(f["value"] for f in data["figures"] if f["key"] == "won_value")


def test_each_organisation_reports_its_own_deals_only(tenant_a: Tenant, tenant_b: Tenant) -> None:
    _won(tenant_a, "1000")
    _won(tenant_b, "7")
    clients = {}
    for tenant in (tenant_a, tenant_b):
        client = SchemaKeepingClient(HTTP_HOST=f"{tenant.slug}.localhost")
        clients[tenant.slug] = login(client, tenant, f"owner@{tenant.slug}.test")
    # Warm A's cache first: B, with the same filters and role, must not be served it.
    assert _won_value(clients["alpha"].get("/api/v1/reports/dashboard/").json()) == "1000.00"
    assert _won_value(clients["beta"].get("/api/v1/reports/dashboard/").json()) == "7.00"
    assert "1,000 USD" not in clients["beta"].get("/reports/").content.decode()
    with schema_context(tenant_b.schema_name):
        owner_b = User.objects.get(email="owner@beta.test")
        report = registry.build("pipeline", owner_b, {"period": "this_year"})
        assert report.notes == []
        won_lost = registry.build("won-lost", owner_b, {"period": "this_year", "group": "owner"})
        assert won_lost.table is not None and won_lost.table.totals is not None
        assert won_lost.table.totals["won_value"] == 7


def test_ids_unknown_to_the_organisation_are_refused_not_used(
    tenant_a: Tenant, tenant_b: Tenant
) -> None:
    with schema_context(tenant_a.schema_name):
        pipeline_a = pipeline_default()
        member_ids = list(User.objects.values_list("pk", flat=True))
    client = login(SchemaKeepingClient(HTTP_HOST="beta.localhost"), tenant_b, "owner@beta.test")
    with schema_context(tenant_b.schema_name):
        unknown_owner = max([*member_ids, *User.objects.values_list("pk", flat=True)]) + 1
        foreign_pipeline = pipeline_a.pk + 1000
    response = client.get(f"/api/v1/reports/pipeline/?pipeline={foreign_pipeline}")
    assert response.status_code == 400 and "no pipeline" in str(response.json())
    response = client.get(f"/api/v1/reports/dashboard/?owner={unknown_owner}")
    assert response.status_code == 400 and "no member" in str(response.json())
