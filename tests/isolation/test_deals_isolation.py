"""Deals, pipelines, stages and lost reasons stay in their organisation: tenant B cannot see,
move or change tenant A's deals, nor its pipelines, through the ORM, the API, the web pages
or the board; a signed-in session of A does not open B's host."""

from __future__ import annotations

import pytest
from django.test import Client
from django_tenants.utils import schema_context

from apps.accounts.models import User
from apps.deals import services
from apps.deals.models import Deal, LostReason, Pipeline, Stage
from apps.records.search import global_search
from tenants.models import Tenant

pytestmark = pytest.mark.django_db
JSON = "application/json"


def _owner(tenant: Tenant) -> User:
    return User.objects.get(email=f"owner@{tenant.slug}.test")


def _a_deal(tenant: Tenant) -> tuple[Deal, Pipeline]:
    with schema_context(tenant.schema_name):
        owner = _owner(tenant)
        services.pipeline_default()
        pipeline = services.pipeline_create(
            actor=owner, name="Alpha secret pipeline", stages=["Alpha stage"]
        )
        services.lostreason_create(actor=owner, name="Alpha-only reason")
        deal = services.deal_create(
            actor=owner, title="Alpha confidential deal", value=999, pipeline=pipeline
        )
        return deal, pipeline


def test_orm_and_search_stay_in_their_schema(tenant_a: Tenant, tenant_b: Tenant) -> None:
    _a_deal(tenant_a)
    with schema_context(tenant_a.schema_name):
        assert global_search(_owner(tenant_a), "confidential")
    with schema_context(tenant_b.schema_name):
        owner_b = _owner(tenant_b)
        assert not Deal.objects.filter(title__icontains="alpha").exists()
        assert not Pipeline.objects.filter(name__icontains="alpha").exists()
        assert not Stage.objects.filter(name="Alpha stage").exists()
        assert not LostReason.objects.filter(name="Alpha-only reason").exists()
        assert global_search(owner_b, "confidential") == []
        # B's own default pipeline is its own.
        mine = services.pipeline_default()
        made = services.deal_create(actor=owner_b, title="Beta deal")
        assert made.pipeline == mine and mine.pk == Pipeline.objects.get(is_default=True).pk


def test_api_web_and_board_of_another_tenant_refuse_every_id(
    tenant_a: Tenant, owner_client_a: Client, owner_client_b: Client
) -> None:
    deal, pipeline = _a_deal(tenant_a)
    with schema_context(tenant_a.schema_name):
        stage = pipeline.stages.get(name="Alpha stage")
        won = pipeline.stages.get(kind="won")
    # API: nothing of A is listed, read, moved, changed or deleted from B.
    assert all(
        "Alpha" not in d["title"] for d in owner_client_b.get("/api/v1/deals/").json()["results"]
    )
    assert all(
        "Alpha" not in p["name"] for p in owner_client_b.get("/api/v1/pipelines/").json()["results"]
    )
    assert all(
        r["name"] != "Alpha-only reason"
        for r in owner_client_b.get("/api/v1/lost-reasons/").json()["results"]
    )
    assert owner_client_b.get(f"/api/v1/deals/{deal.pk}/").status_code == 404
    assert owner_client_b.get(f"/api/v1/pipelines/{pipeline.pk}/").status_code == 404
    assert owner_client_b.get(f"/api/v1/stages/{stage.pk}/").status_code == 404
    moved = owner_client_b.post(
        f"/api/v1/deals/{deal.pk}/move/", {"stage": won.pk}, content_type=JSON
    )
    assert moved.status_code == 404
    changed = owner_client_b.patch(
        f"/api/v1/deals/{deal.pk}/", {"title": "Stolen"}, content_type=JSON
    )
    assert changed.status_code == 404
    assert owner_client_b.delete(f"/api/v1/deals/{deal.pk}/").status_code == 404
    assert owner_client_b.delete(f"/api/v1/pipelines/{pipeline.pk}/").status_code == 404
    renamed = owner_client_b.patch(
        f"/api/v1/stages/{stage.pk}/", {"name": "Mine"}, content_type=JSON
    )
    assert renamed.status_code == 404
    # Web pages and the board.
    assert owner_client_b.get(f"/deals/{deal.pk}/").status_code == 404
    assert owner_client_b.post(f"/deals/{deal.pk}/move/", {"stage": won.pk}).status_code == 404
    assert owner_client_b.get(f"/deals/board/{pipeline.pk}/").status_code in (200, 404)
    board = owner_client_b.get("/deals/board/").content.decode()
    assert "Alpha confidential deal" not in board and "Alpha stage" not in board
    column = owner_client_b.get(f"/deals/board/columns/{stage.pk}/")
    assert column.status_code == 404 or "Alpha confidential" not in column.content.decode()
    settings_page = owner_client_b.get("/settings/pipelines/").content.decode()
    assert "Alpha secret pipeline" not in settings_page and "Alpha-only reason" not in settings_page
    assert "Alpha" not in owner_client_b.get("/deals/?q=alpha").content.decode().split("<main")[1]
    # (after the id checks above: B's own new deal may take the same id as A's)
    # B's own deal cannot be moved into A's stage (it does not exist in B's schema).
    own = owner_client_b.post("/api/v1/deals/", {"title": "Beta own"}, content_type=JSON).json()
    into = owner_client_b.post(
        f"/api/v1/deals/{own['id']}/move/", {"stage": won.pk}, content_type=JSON
    )
    assert into.status_code in (200, 400)
    if into.status_code == 200:  # the same id is one of B's own stages
        assert into.json()["pipeline"] != pipeline.pk or into.json()["stage"] != won.pk
    # A's session does not open B's host.
    b_host = owner_client_b.defaults["HTTP_HOST"]
    assert owner_client_a.get("/deals/board/", HTTP_HOST=b_host).status_code in (302, 403)
    with schema_context(tenant_a.schema_name):
        fresh = Deal.objects.get(pk=deal.pk)
        assert fresh.title == "Alpha confidential deal" and fresh.stage_id == deal.stage_id
