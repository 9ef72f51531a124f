"""Deals, pipelines, stages and lost reasons through the REST API: fields, filters, the move
endpoint and its errors, Admin-only pipeline changes, timeline and notes."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django_tenants.utils import schema_context

from apps.deals import services
from apps.deals.models import Deal, LostReason, Pipeline
from tests.deals.conftest import client_for

pytestmark = pytest.mark.django_db
JSON = "application/json"


def post(client: Client, url: str, body: Any) -> Any:
    return client.post(url, body, content_type=JSON)


def patch(client: Client, url: str, body: Any) -> Any:
    return client.patch(url, body, content_type=JSON)


def _default(ctx: Any) -> Pipeline:
    with schema_context(ctx.tenant.schema_name):
        return services.pipeline_default()


def test_pipelines_with_nested_stages(ctx: Any, people: Any, owner_client_a: Client) -> None:
    default = _default(ctx)
    listed = owner_client_a.get("/api/v1/pipelines/").json()
    sales = next(p for p in listed["results"] if p["id"] == default.pk)
    assert [s["name"] for s in sales["stages"]][-2:] == ["Won", "Lost"]
    assert set(sales["stages"][0]) == {"id", "name", "order", "probability", "kind", "rotting_days"}
    created = post(
        owner_client_a,
        "/api/v1/pipelines/",
        {"name": "Partners", "stages": [{"name": "Intro", "probability": 15, "rotting_days": 5}]},
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert [(s["name"], s["kind"]) for s in body["stages"]] == [
        ("Intro", "open"),
        ("Won", "won"),
        ("Lost", "lost"),
    ]
    assert body["stages"][0]["rotting_days"] == 5
    renamed = patch(owner_client_a, f"/api/v1/pipelines/{body['id']}/", {"name": "Partnerships"})
    assert renamed.json()["name"] == "Partnerships"
    refused = patch(owner_client_a, f"/api/v1/pipelines/{body['id']}/", {"stages": []})
    assert refused.status_code == 400 and refused.json()["error"]["field"] == "stages"
    clash = post(owner_client_a, "/api/v1/pipelines/", {"name": "partnerships"})
    assert clash.status_code == 400 and clash.json()["error"]["field"] == "name"
    # Reps read pipelines but do not change them.
    rep = client_for(ctx.tenant, people.rep.email)
    assert rep.get(f"/api/v1/pipelines/{body['id']}/").status_code == 200
    denied = post(rep, "/api/v1/pipelines/", {"name": "Mine"})
    assert denied.status_code == 403 and denied.json()["error"]["code"] == "permission_denied"
    # Deleting a pipeline holding deals needs move_to.
    deal = post(owner_client_a, "/api/v1/deals/", {"title": "Held", "pipeline": body["id"]})
    assert deal.status_code == 201
    held = owner_client_a.delete(f"/api/v1/pipelines/{body['id']}/")
    assert held.status_code == 400 and held.json()["error"]["field"] == "move_to"
    gone = owner_client_a.delete(f"/api/v1/pipelines/{body['id']}/?move_to={default.pk}")
    assert gone.status_code == 204
    assert owner_client_a.get(f"/api/v1/deals/{deal.json()['id']}/").json()["pipeline"] == (
        default.pk
    )
    bad = owner_client_a.delete(f"/api/v1/pipelines/{default.pk}/?move_to=x")
    assert bad.status_code == 400


def test_stages_resource(ctx: Any, owner_client_a: Client) -> None:
    default = _default(ctx)
    stages = owner_client_a.get(f"/api/v1/stages/?pipeline={default.pk}").json()["results"]
    assert stages[0]["name"] == "Qualified"
    assert owner_client_a.get("/api/v1/stages/?pipeline=x").status_code == 400
    added = post(
        owner_client_a,
        "/api/v1/stages/",
        {"pipeline": default.pk, "name": "Discovery", "probability": 15, "order": 2},
    )
    assert added.status_code == 201, added.content
    assert added.json()["order"] == 2 and added.json()["kind"] == "open"
    changed = patch(owner_client_a, f"/api/v1/stages/{added.json()['id']}/", {"probability": 25})
    assert changed.json()["probability"] == 25
    too_high = patch(owner_client_a, f"/api/v1/stages/{added.json()['id']}/", {"probability": 101})
    assert too_high.status_code == 400 and too_high.json()["error"]["field"] == "probability"
    won = next(s for s in stages if s["kind"] == "won")
    terminal = owner_client_a.delete(f"/api/v1/stages/{won['id']}/")
    assert terminal.status_code == 400
    deal = post(
        owner_client_a, "/api/v1/deals/", {"title": "In discovery", "stage": added.json()["id"]}
    )
    held = owner_client_a.delete(f"/api/v1/stages/{added.json()['id']}/")
    assert held.status_code == 400 and held.json()["error"]["field"] == "move_to"
    assert "choose the stage" in held.json()["error"]["message"]
    itself = owner_client_a.delete(
        f"/api/v1/stages/{added.json()['id']}/?move_to={added.json()['id']}"
    )
    assert itself.status_code == 400
    moved = owner_client_a.delete(f"/api/v1/stages/{added.json()['id']}/?move_to={stages[0]['id']}")
    assert moved.status_code == 204
    assert (
        owner_client_a.get(f"/api/v1/deals/{deal.json()['id']}/").json()["stage"]
        == (stages[0]["id"])
    )


def test_lost_reasons_resource(ctx: Any, people: Any, owner_client_a: Client) -> None:
    _default(ctx)
    created = post(owner_client_a, "/api/v1/lost-reasons/", {"name": "Went dark"})
    assert created.status_code == 201
    pk = created.json()["id"]
    assert (
        patch(owner_client_a, f"/api/v1/lost-reasons/{pk}/", {"name": "Ghosted"}).json()["name"]
        == "Ghosted"
    )
    names = [r["name"] for r in owner_client_a.get("/api/v1/lost-reasons/").json()["results"]]
    assert "Ghosted" in names
    rep = client_for(ctx.tenant, people.rep.email)
    assert post(rep, "/api/v1/lost-reasons/", {"name": "Mine"}).status_code == 403
    assert owner_client_a.delete(f"/api/v1/lost-reasons/{pk}/").status_code == 204
    archived = owner_client_a.get("/api/v1/lost-reasons/?archived=true").json()["results"]
    assert all(r["id"] != pk for r in archived)


def test_deal_fields_filters_and_errors(ctx: Any, people: Any, owner_client_a: Client) -> None:
    default = _default(ctx)
    with schema_context(ctx.tenant.schema_name):
        from apps.companies.services import company_create
        from apps.contacts.services import contact_create
        from apps.records.services import customfield_create

        contact = contact_create(actor=people.owner, first_name="Linus", last_name="Pauling")
        company = company_create(actor=people.owner, name="Vitamin Co", allow_duplicate=True)
        customfield_create(
            actor=people.owner,
            entity="deal",
            label="Segment",
            type="select",
            options=["SMB", "Ent"],
        )
    created = post(
        owner_client_a,
        "/api/v1/deals/",
        {
            "title": "Vitamin supply",
            "value": "2500.00",
            "currency": "eur",
            "contacts": [contact.pk],
            "companies": [company.pk],
            "tags": ["Q3"],
            "custom_fields": {"segment": "Ent"},
            "expected_close": "2030-06-30",
        },
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["pipeline"] == default.pk and body["status"] == "open"
    assert body["value"] == "2500.00" and body["currency"] == "EUR"
    assert body["probability"] is None and body["effective_probability"] == 10
    assert body["weighted_value"] == "250.00"
    assert body["contacts"] == [contact.pk] and body["companies"] == [company.pk]
    assert body["tags"] == ["Q3"] and body["custom_fields"] == {"segment": "Ent"}
    assert body["expected_close"] == "2030-06-30"
    assert body["lost_reason"] is None and body["won_at"] is None
    for key in ("id", "owner", "created_at", "updated_at", "stage", "lost_at"):
        assert key in body
    other = post(owner_client_a, "/api/v1/deals/", {"title": "Small thing", "value": 10})
    assert other.status_code == 201

    # Filters as for contacts, plus pipeline/stage/status.
    def ids(query: str) -> set[int]:
        response = owner_client_a.get(f"/api/v1/deals/?{query}")
        assert response.status_code == 200, response.content
        return {d["id"] for d in response.json()["results"]}

    assert body["id"] in ids("search=vitamn")
    assert ids("tag=Q3") == {body["id"]}
    assert ids("cf_segment=Ent") == {body["id"]}
    assert body["id"] in ids(f"pipeline={default.pk}&status=open")
    assert body["id"] in ids(f"stage={body['stage']}&owner=me")
    assert ids("status=won") & {body["id"], other.json()["id"]} == set()
    listed = owner_client_a.get("/api/v1/deals/?ordering=-value").json()
    assert "next" in listed and listed["results"][0]["value"] >= listed["results"][-1]["value"]
    assert owner_client_a.get("/api/v1/deals/?ordering=nope").status_code == 400
    # Validation errors name the field.
    for bad, field in (
        ({}, "title"),
        ({"title": "X", "value": "-5"}, "value"),
        ({"title": "X", "currency": "EURO"}, "currency"),
        ({"title": "X", "stage": 999999}, "stage"),
        ({"title": "X", "contacts": [999999]}, "contacts"),
        ({"title": "X", "custom_fields": {"segment": "Huge"}}, "custom_fields.segment"),
    ):
        response = post(owner_client_a, "/api/v1/deals/", bad)
        assert response.status_code == 400, (bad, response.content)
        assert response.json()["error"]["field"] == field, response.json()
    changed = patch(owner_client_a, f"/api/v1/deals/{body['id']}/", {"probability": 50})
    assert changed.json()["effective_probability"] == 50
    assert changed.json()["weighted_value"] == "1250.00"
    merge = post(
        owner_client_a,
        "/api/v1/deals/merge/",
        {"survivor": body["id"], "merged": [other.json()["id"]]},
    )
    assert merge.status_code == 400
    assert owner_client_a.get("/api/v1/deals/duplicates/").json() == {"results": []}
    assert owner_client_a.delete(f"/api/v1/deals/{other.json()['id']}/").status_code == 204
    with schema_context(ctx.tenant.schema_name):
        assert not Deal.objects.filter(pk=other.json()["id"]).exists()


def test_move_endpoint(ctx: Any, people: Any, owner_client_a: Client) -> None:
    default = _default(ctx)
    with schema_context(ctx.tenant.schema_name):
        stages = {s.name: s.pk for s in default.stages.all()}
        reason = LostReason.objects.filter(archived=False).first()
        assert reason is not None
    deal = post(owner_client_a, "/api/v1/deals/", {"title": "Mover", "value": 100}).json()
    moved = post(owner_client_a, f"/api/v1/deals/{deal['id']}/move/", {"stage": stages["Won"]})
    assert moved.status_code == 200
    assert moved.json()["status"] == "won" and moved.json()["won_at"]
    need = post(owner_client_a, f"/api/v1/deals/{deal['id']}/move/", {"stage": stages["Lost"]})
    assert need.status_code == 400
    assert need.json()["error"]["field"] == "lost_reason"
    lost = post(
        owner_client_a,
        f"/api/v1/deals/{deal['id']}/move/",
        {"stage": stages["Lost"], "lost_reason": reason.pk, "lost_note": "Too dear"},
    )
    assert lost.json()["status"] == "lost" and lost.json()["lost_reason"] == reason.pk
    assert lost.json()["won_at"] is None and lost.json()["lost_at"]
    assert post(owner_client_a, f"/api/v1/deals/{deal['id']}/move/", {}).status_code == 400
    nowhere = post(owner_client_a, f"/api/v1/deals/{deal['id']}/move/", {"stage": 999999})
    assert nowhere.status_code == 400 and nowhere.json()["error"]["field"] == "stage"
    assert post(owner_client_a, "/api/v1/deals/999999/move/", {"stage": 1}).status_code == 404
    reopened = post(
        owner_client_a,
        f"/api/v1/deals/{deal['id']}/move/",
        {"stage": stages["Demo scheduled"], "position": 1.5},
    )
    assert reopened.json()["status"] == "open" and reopened.json()["lost_at"] is None
    timeline = owner_client_a.get(f"/api/v1/deals/{deal['id']}/timeline/").json()["results"]
    titles = [item["title"] for item in timeline]
    assert "Moved to Demo scheduled" in titles and "Moved to Won" in titles
    note = post(owner_client_a, f"/api/v1/deals/{deal['id']}/notes/", {"body": "Called them"})
    assert note.status_code == 201
    # A rep cannot move someone else's deal, and does not even see it.
    rep = client_for(ctx.tenant, people.rep.email)
    hidden = post(rep, f"/api/v1/deals/{deal['id']}/move/", {"stage": stages["Won"]})
    assert hidden.status_code == 404
    with schema_context(ctx.tenant.schema_name):
        services.deal_share(
            actor=people.owner, deal=Deal.objects.get(pk=deal["id"]), user=people.rep, level="view"
        )
    seen = post(rep, f"/api/v1/deals/{deal['id']}/move/", {"stage": stages["Won"]})
    assert seen.status_code == 403 and seen.json()["error"]["code"] == "permission_denied"
    readonly = client_for(ctx.tenant, people.readonly.email)
    assert (
        post(readonly, f"/api/v1/deals/{deal['id']}/move/", {"stage": stages["Won"]}).status_code
        == 403
    )
    with schema_context(ctx.tenant.schema_name):
        assert Deal.objects.get(pk=deal["id"]).status == "open"


def test_rep_sees_own_and_shared_deals_only(ctx: Any, people: Any) -> None:
    with schema_context(ctx.tenant.schema_name):
        services.pipeline_default()
        hidden = services.deal_create(actor=people.owner, title="Boss deal")
        shared = services.deal_create(actor=people.owner, title="Shared deal")
        services.deal_share(actor=people.owner, deal=shared, user=people.rep, level="view")
        mine = services.deal_create(actor=people.rep, title="Rep deal")
    rep = client_for(ctx.tenant, people.rep.email)
    titles = {d["title"] for d in rep.get("/api/v1/deals/").json()["results"]}
    assert {"Rep deal", "Shared deal"} <= titles and "Boss deal" not in titles
    assert rep.get(f"/api/v1/deals/{hidden.pk}/").status_code == 404
    assert patch(rep, f"/api/v1/deals/{shared.pk}/", {"title": "x"}).status_code == 403
    assert patch(rep, f"/api/v1/deals/{mine.pk}/", {"title": "Rep deal 2"}).status_code == 200
    readonly = client_for(ctx.tenant, people.readonly.email)
    assert post(readonly, "/api/v1/deals/", {"title": "No"}).status_code == 403
    assert len(readonly.get("/api/v1/deals/").json()["results"]) >= 3


def test_api_list_reads_a_page_in_a_fixed_number_of_queries(
    ctx: Any, people: Any, owner_client_a: Client
) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            response = owner_client_a.get("/api/v1/deals/?page_size=50")
            assert response.status_code == 200
        return len(queries)

    with schema_context(ctx.tenant.schema_name):
        from apps.companies.services import company_create

        services.pipeline_default()
        company = company_create(actor=people.owner, name="Query Co", allow_duplicate=True)
        services.deal_create(actor=people.owner, title="First", companies=[company], tags=["x"])
    few = count()
    with schema_context(ctx.tenant.schema_name):
        for index in range(30):
            services.deal_create(
                actor=people.owner, title=f"D{index}", companies=[company], tags=[f"t{index}"]
            )
    assert count() == few
