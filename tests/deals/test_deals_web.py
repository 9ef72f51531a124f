"""Deal pages: list, create and edit forms, detail with stage history, the board (totals over
every matching deal, filters, paging per column, rotting cards, moves refused and allowed),
Settings → Pipelines, and the Deals card on contact and company pages."""

from __future__ import annotations

import re
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_tenants.utils import schema_context

from apps.companies.services import company_create
from apps.contacts.services import contact_create
from apps.deals import selectors, services
from apps.deals.models import Deal, LostReason, Pipeline, Stage
from tests.deals.conftest import client_for

pytestmark = pytest.mark.django_db
# How the board's script asks: the answer is JSON (totals, the redrawn card or the error).
JSON_ANSWER = {"Accept": "application/json"}


def _pipeline(ctx: Any, people: Any, name: str = "Board test") -> Pipeline:
    with schema_context(ctx.tenant.schema_name):
        services.pipeline_default()
        return services.pipeline_create(
            actor=people.admin,
            name=name,
            stages=[
                {"name": "Lead in", "probability": 10, "rotting_days": 5},
                {"name": "Proposal", "probability": 50},
            ],
        )


def _stage(pipeline: Pipeline, name: str) -> Stage:
    return pipeline.stages.get(name=name)


def test_list_create_edit_and_detail(ctx: Any, people: Any, owner_client_a: Client) -> None:
    with schema_context(ctx.tenant.schema_name):
        default = services.pipeline_default()
        stages = {s.name: s for s in default.stages.all()}
        contact = contact_create(actor=people.owner, first_name="Marie", last_name="Curie")
        company = company_create(actor=people.owner, name="Radium Inc", allow_duplicate=True)
        reason = LostReason.objects.filter(archived=False).first()
        assert reason is not None
    form = owner_client_a.get("/deals/new/")
    assert form.status_code == 200
    html = form.content.decode()
    assert "Pipeline and stage" in html and "Marie Curie" in html and "Radium Inc" in html
    # Inline validation names the field and saves nothing.
    bad = owner_client_a.post(
        "/deals/new/",
        {"title": "Polonium", "currency": "EURO", "stage": stages["Qualified"].pk},
    )
    assert bad.status_code == 200 and "Ensure this value has at most 3" in bad.content.decode()
    created = owner_client_a.post(
        "/deals/new/",
        {
            "title": "Polonium",
            "value": "5000",
            "currency": "EUR",
            "stage": stages["Proposal made"].pk,
            "contacts": [contact.pk],
            "companies": [company.pk],
            "expected_close": "2030-03-01",
            "tags": "Science",
        },
    )
    assert created.status_code == 302, created.content.decode()[:2000]
    with schema_context(ctx.tenant.schema_name):
        deal = Deal.objects.get(title="Polonium")
        assert deal.stage == stages["Proposal made"] and deal.value == Decimal("5000.00")
        assert list(deal.contacts.all()) == [contact]
    detail = owner_client_a.get(f"/deals/{deal.pk}/")
    page = detail.content.decode()
    assert "Proposal made" in page and "Radium Inc" in page and "Stage history" in page
    assert "3,000" in page  # weighted value: 60% of 5,000
    # The list shows it and filters by stage.
    listed = owner_client_a.get(f"/deals/?stage={stages['Proposal made'].pk}").content.decode()
    assert "Polonium" in listed
    # Lost without a reason is refused on the form; with one it is saved.
    edit = owner_client_a.get(f"/deals/{deal.pk}/edit/")
    assert edit.status_code == 200 and "Polonium" in edit.content.decode()
    data = {
        "title": "Polonium",
        "value": "5000",
        "currency": "EUR",
        "stage": stages["Lost"].pk,
        "contacts": [contact.pk],
        "companies": [company.pk],
    }
    refused = owner_client_a.post(f"/deals/{deal.pk}/edit/", data)
    assert refused.status_code == 200 and "Choose why the deal was lost" in refused.content.decode()
    saved = owner_client_a.post(f"/deals/{deal.pk}/edit/", {**data, "lost_reason": reason.pk})
    assert saved.status_code == 302
    with schema_context(ctx.tenant.schema_name):
        deal.refresh_from_db()
        assert deal.status == "lost" and deal.lost_reason == reason
    assert "Moved to Lost" in owner_client_a.get(f"/deals/{deal.pk}/").content.decode()
    # The contact's and the company's pages show the deal, and start new ones linked.
    contact_page = owner_client_a.get(f"/contacts/{contact.pk}/").content.decode()
    assert "Polonium" in contact_page and f"/deals/new/?contacts={contact.pk}" in contact_page
    company_page = owner_client_a.get(f"/companies/{company.pk}/").content.decode()
    assert "Polonium" in company_page and f"/deals/new/?companies={company.pk}" in company_page
    preset = owner_client_a.get(
        f"/deals/new/?contacts={contact.pk}&stage={stages['Negotiation'].pk}"
    ).content.decode()
    assert re.search(rf'<option value="{contact.pk}" selected>Marie Curie', preset)
    assert re.search(rf'<option value="{stages["Negotiation"].pk}" selected>', preset)
    readonly = client_for(ctx.tenant, people.readonly.email)
    assert "/deals/new/" not in readonly.get(f"/contacts/{contact.pk}/").content.decode()
    # Merging is not a thing for deals.
    merge = owner_client_a.post("/deals/merge/", {"ids": [deal.pk, deal.pk]})
    assert merge.status_code == 302


def test_board_totals_cover_every_matching_deal_and_page_per_column(
    ctx: Any, people: Any, owner_client_a: Client
) -> None:
    pipeline = _pipeline(ctx, people)
    with schema_context(ctx.tenant.schema_name):
        lead_in = _stage(pipeline, "Lead in")
        proposal = _stage(pipeline, "Proposal")
        for index in range(selectors.BOARD_PAGE + 5):
            services.deal_create(
                actor=people.owner, title=f"Bulk {index:02d}", value=100, stage=lead_in
            )
        services.deal_create(
            actor=people.owner, title="Big one", value=1000, currency="EUR", stage=proposal
        )
    board = owner_client_a.get(f"/deals/board/{pipeline.pk}/")
    assert board.status_code == 200
    html = board.content.decode()
    column = html.split(f'id="totals-{lead_in.pk}"')[1].split("</div>")[0]
    assert "30 deals" in column and "3,000 USD" in column and "300 weighted" in column
    proposal_totals = html.split(f'id="totals-{proposal.pk}"')[1].split("</div>")[0]
    assert "1 deal" in proposal_totals and "1,000 EUR" in proposal_totals
    assert "500 weighted" in proposal_totals
    cards = html.split(f'id="cards-{lead_in.pk}"')[1].split("</ol>")[0]
    assert cards.count('class="deal-card') == selectors.BOARD_PAGE
    # Each card's Move menu starts at the card's own stage.
    assert cards.count(f'<option value="{lead_in.pk}" selected>Lead in</option>') == 25
    assert f'<option value="{proposal.pk}" selected>' not in cards
    assert f"/deals/board/columns/{lead_in.pk}/?offset=25" in html
    more = owner_client_a.get(f"/deals/board/columns/{lead_in.pk}/?offset=25")
    rest = more.content.decode()
    assert rest.count('class="deal-card') == 5 and "Load more" not in rest
    assert f'hx-swap-oob="beforeend:#cards-{lead_in.pk}"' in rest
    assert owner_client_a.get("/deals/board/columns/999999/").status_code == 404
    assert owner_client_a.get(f"/deals/board/columns/{lead_in.pk}/?offset=x").status_code == 200
    bad = owner_client_a.get(f"/deals/board/columns/{lead_in.pk}/?close_from=soon")
    assert bad.status_code == 200 and 'class="deal-card' not in bad.content.decode()
    # The default board and an unknown pipeline.
    assert owner_client_a.get("/deals/board/").status_code == 200
    assert owner_client_a.get("/deals/board/999999/").status_code == 404


def test_won_and_lost_columns_show_the_last_30_days(
    ctx: Any, people: Any, owner_client_a: Client
) -> None:
    pipeline = _pipeline(ctx, people)
    with schema_context(ctx.tenant.schema_name):
        won = pipeline.stages.get(kind="won")
        lost = pipeline.stages.get(kind="lost")
        earlier = services.deal_create(
            actor=people.owner, title="Won earlier", value=300, stage=won
        )
        Deal.objects.filter(pk=earlier.pk).update(
            stage_entered_at=timezone.now() - timedelta(days=2), position=-100
        )
        services.deal_create(actor=people.owner, title="Won lately", value=700, stage=won)
        old = services.deal_create(actor=people.owner, title="Won long ago", value=900, stage=won)
        gone = services.deal_create(
            actor=people.owner, title="Lost long ago", value=50, stage=_stage(pipeline, "Lead in")
        )
        reason = LostReason.objects.filter(archived=False).first()
        services.deal_move(actor=people.owner, deal=gone, stage=lost, lost_reason=reason)
        long_ago = timezone.now() - timedelta(days=selectors.BOARD_CLOSED_DAYS + 1)
        Deal.objects.filter(pk__in=[old.pk, gone.pk]).update(stage_entered_at=long_ago)
    html = owner_client_a.get(f"/deals/board/{pipeline.pk}/").content.decode()
    assert "Won lately" in html and "Won long ago" not in html and "Lost long ago" not in html
    won_totals = html.split(f'id="totals-{won.pk}"')[1].split("</div>")[0]
    assert "2 deals" in won_totals and "1,000 USD" in won_totals
    # Most recently closed first, whatever their positions.
    assert html.index("Won lately") < html.index("Won earlier")
    lost_totals = html.split(f'id="totals-{lost.pk}"')[1].split("</div>")[0]
    assert "0 deals" in lost_totals
    assert "last 30 days" in html.split(f'id="stage-{won.pk}-name"')[1].split("</h2>")[0]
    # The deals are still there: the list and the API show every one.
    assert "Won long ago" in owner_client_a.get("/deals/?status=won").content.decode()


def test_board_first_paint_is_a_fixed_number_of_queries(
    ctx: Any, people: Any, owner_client_a: Client
) -> None:
    pipeline = _pipeline(ctx, people)

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert owner_client_a.get(f"/deals/board/{pipeline.pk}/").status_code == 200
        return len(queries)

    with schema_context(ctx.tenant.schema_name):
        stage = _stage(pipeline, "Lead in")
        services.deal_create(actor=people.owner, title="One", stage=stage, tags=["a"])
    few = count()
    with schema_context(ctx.tenant.schema_name):
        company = company_create(actor=people.owner, name="Many Co", allow_duplicate=True)
        for index in range(60):
            services.deal_create(
                actor=people.owner,
                title=f"Many {index}",
                stage=pipeline.stages.all()[index % 3],
                tags=[f"t{index % 4}"],
                companies=[company],
            )
    assert count() == few


def test_board_first_paint_query_budget(
    ctx: Any, people: Any, owner_client_a: Client, django_assert_max_num_queries: Any
) -> None:
    pipeline = _pipeline(ctx, people)
    with schema_context(ctx.tenant.schema_name):
        for index in range(40):
            services.deal_create(
                actor=people.owner, title=f"Q {index}", stage=pipeline.stages.all()[index % 3]
            )
    with django_assert_max_num_queries(25):
        owner_client_a.get(f"/deals/board/{pipeline.pk}/")


def test_board_filters_and_rotting(ctx: Any, people: Any, owner_client_a: Client) -> None:
    pipeline = _pipeline(ctx, people)
    with schema_context(ctx.tenant.schema_name):
        lead_in = _stage(pipeline, "Lead in")
        soon = services.deal_create(
            actor=people.owner,
            title="Closing soon",
            stage=lead_in,
            value=10,
            expected_close=date.today() + timedelta(days=3),
            tags=["Hot"],
        )
        services.deal_create(
            actor=people.rep,
            title="Rep later",
            stage=lead_in,
            value=20,
            expected_close=date.today() + timedelta(days=90),
        )
        old = services.deal_create(actor=people.owner, title="Stale one", stage=lead_in)
        Deal.objects.filter(pk=old.pk).update(stage_entered_at=timezone.now() - timedelta(days=9))

    def titles(query: str) -> set[str]:
        response = owner_client_a.get(f"/deals/board/{pipeline.pk}/?{query}")
        assert response.status_code == 200
        return set(re.findall(r'class="deal-title"[^>]*>([^<]+)<', response.content.decode()))

    assert titles("") == {"Closing soon", "Rep later", "Stale one"}
    assert titles("owner=me") == {"Closing soon", "Stale one"}
    assert titles(f"owner={people.rep.pk}") == {"Rep later"}
    assert titles("tag=hot") == {"Closing soon"}
    # Filters travel URL-encoded to each column's "Load more" and to the board's moves.
    with schema_context(ctx.tenant.schema_name):
        services.deal_update(actor=people.owner, deal=soon, tags=["R&D team"])
    encoded = owner_client_a.get(f"/deals/board/{pipeline.pk}/?tag=R%26D+team").content.decode()
    assert 'data-query="tag=R%26D+team"' in encoded and "Closing soon" in encoded
    until = (date.today() + timedelta(days=10)).isoformat()
    assert titles(f"close_to={until}") == {"Closing soon"}
    assert titles(f"close_from={until}") == {"Rep later"}
    # A bad date is named, and the board still shows.
    bad = owner_client_a.get(f"/deals/board/{pipeline.pk}/?close_from=tomorrow")
    assert "Dates are written like" in bad.content.decode()
    # Filtered totals.
    filtered = owner_client_a.get(f"/deals/board/{pipeline.pk}/?tag=R%26D+team").content.decode()
    totals = filtered.split(f'id="totals-{lead_in.pk}"')[1].split("</div>")[0]
    assert "1 deal" in totals and "10 USD" in totals
    # htmx asks for the board alone.
    partial = owner_client_a.get(
        f"/deals/board/{pipeline.pk}/?owner=me", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="board"
    )
    assert partial.content.decode().startswith('<div id="board"')
    # The stale card is highlighted, the fresh ones not.
    html = owner_client_a.get(f"/deals/board/{pipeline.pk}/").content.decode()
    stale = html.split(f'id="deal-{old.pk}"')[0].rsplit("<li", 1)[1]
    fresh = html.split(f'id="deal-{soon.pk}"')[0].rsplit("<li", 1)[1]
    assert "rotting" in stale and "rotting" not in fresh


def test_board_move_answers_totals_and_refuses_what_it_must(
    ctx: Any, people: Any, owner_client_a: Client
) -> None:
    pipeline = _pipeline(ctx, people)
    with schema_context(ctx.tenant.schema_name):
        lead_in, proposal = _stage(pipeline, "Lead in"), _stage(pipeline, "Proposal")
        lost = pipeline.stages.get(kind="lost")
        first = services.deal_create(actor=people.owner, title="Top", stage=proposal, value=1)
        second = services.deal_create(actor=people.owner, title="Bottom", stage=proposal, value=1)
        mover = services.deal_create(actor=people.owner, title="Mover", stage=lead_in, value=400)
        rep_deal = services.deal_create(actor=people.rep, title="Rep's own", stage=lead_in)
        reason = LostReason.objects.filter(archived=False).first()
        assert reason is not None
    # Dropped between Top and Bottom.
    moved = owner_client_a.post(
        f"/deals/{mover.pk}/move/", {"stage": proposal.pk, "index": "1"}, headers=JSON_ANSWER
    )
    assert moved.status_code == 200
    body = moved.json()
    assert body["stage"] == proposal.pk and "Moved Mover to Proposal" in body["message"]
    assert "3 deals" in body["totals"][str(proposal.pk)]
    assert "402 USD" in body["totals"][str(proposal.pk)]
    assert "201 weighted" in body["totals"][str(proposal.pk)]
    assert "1 deal" in body["totals"][str(lead_in.pk)]
    assert f'id="deal-{mover.pk}"' in body["card"]
    with schema_context(ctx.tenant.schema_name):
        order = list(
            Deal.objects.filter(stage=proposal)
            .order_by("position", "id")
            .values_list("title", flat=True)
        )
    assert order == ["Bottom", "Mover", "Top"]  # new deals start at the top of a column
    # Totals follow the board's filters.
    filtered = owner_client_a.post(
        f"/deals/{mover.pk}/move/",
        {"stage": proposal.pk, "index": "0", "owner": str(people.rep.pk)},
        headers=JSON_ANSWER,
    )
    assert "0 deals" in filtered.json()["totals"][str(proposal.pk)]
    # Lost needs a reason: 400 naming it; the deal stays.
    refused = owner_client_a.post(
        f"/deals/{mover.pk}/move/", {"stage": lost.pk}, headers=JSON_ANSWER
    )
    assert refused.status_code == 400
    assert refused.json()["error"] == {
        "code": "lost_reason_required",
        "message": "Choose why the deal was lost.",
        "field": "lost_reason",
    }
    done = owner_client_a.post(
        f"/deals/{mover.pk}/move/",
        {"stage": lost.pk, "lost_reason": reason.pk},
        headers=JSON_ANSWER,
    )
    assert done.json()["status"] == "lost"
    nowhere = owner_client_a.post(f"/deals/{mover.pk}/move/", {"stage": "x"}, headers=JSON_ANSWER)
    assert nowhere.status_code == 400 and nowhere.json()["error"]["field"] == "stage"
    # A rep may not move the owner's deal (shared to view): 403, unchanged.
    with schema_context(ctx.tenant.schema_name):
        services.deal_share(actor=people.owner, deal=first, user=people.rep, level="view")
    rep = client_for(ctx.tenant, people.rep.email)
    denied = rep.post(
        f"/deals/{first.pk}/move/", {"stage": lead_in.pk, "index": "0"}, headers=JSON_ANSWER
    )
    assert denied.status_code == 403 and denied.json()["error"]["code"] == "permission_denied"
    assert (
        rep.post(
            f"/deals/{second.pk}/move/", {"stage": lead_in.pk}, headers=JSON_ANSWER
        ).status_code
        == 404
    )
    # Without JavaScript: the card's "Move to…" form redirects back to the board.
    plain = rep.post(f"/deals/{rep_deal.pk}/move/", {"stage": proposal.pk})
    assert plain.status_code == 302 and plain["Location"] == f"/deals/board/{pipeline.pk}/"
    back = rep.post(
        f"/deals/{rep_deal.pk}/move/", {"stage": lost.pk, "next": f"/deals/{rep_deal.pk}/"}
    )
    assert back["Location"] == f"/deals/{rep_deal.pk}/"
    evil = rep.post(
        f"/deals/{rep_deal.pk}/move/", {"stage": proposal.pk, "next": "https://evil.example/"}
    )
    assert evil["Location"] == f"/deals/board/{pipeline.pk}/"
    plain_denied = rep.post(f"/deals/{first.pk}/move/", {"stage": lead_in.pk})
    assert plain_denied.status_code == 403
    readonly = client_for(ctx.tenant, people.readonly.email)
    assert (
        readonly.post(
            f"/deals/{first.pk}/move/", {"stage": lead_in.pk}, headers=JSON_ANSWER
        ).status_code
        == 403
    )
    with schema_context(ctx.tenant.schema_name):
        assert Deal.objects.get(pk=first.pk).stage == proposal
        assert Deal.objects.get(pk=rep_deal.pk).stage == proposal
    # A rep's board shows only their own and shared deals.
    board = rep.get(f"/deals/board/{pipeline.pk}/").content.decode()
    assert "Rep&#x27;s own" in board and "Top" in board and "Bottom" not in board


def test_settings_pipelines_page(ctx: Any, people: Any, owner_client_a: Client) -> None:
    pipeline = _pipeline(ctx, people, name="Settings test")
    page = owner_client_a.get("/settings/pipelines/")
    assert page.status_code == 200 and "Settings test" in page.content.decode()
    assert "Lost reasons" in page.content.decode()
    rep = client_for(ctx.tenant, people.rep.email)
    assert rep.get("/settings/pipelines/").status_code == 403
    assert rep.post("/settings/pipelines/new/", {"name": "Nope"}).status_code == 403

    def ok(url: str, data: dict[str, Any]) -> str:
        response = owner_client_a.post(url, data, follow=True)
        assert response.status_code == 200
        return response.content.decode()

    assert "Pipeline created" in ok(
        "/settings/pipelines/new/", {"name": "From settings", "stages": "One\nTwo"}
    )
    with schema_context(ctx.tenant.schema_name):
        created = Pipeline.objects.get(name="From settings")
        assert [s.name for s in created.stages.all()] == ["One", "Two", "Won", "Lost"]
        lead_in = _stage(pipeline, "Lead in")
        proposal = _stage(pipeline, "Proposal")
        deal = services.deal_create(actor=people.owner, title="In lead", stage=lead_in)
    assert "Pipeline saved" in ok(
        f"/settings/pipelines/{created.pk}/", {"name": "Renamed", "order": "3", "is_default": "1"}
    )
    assert "Numbers are whole numbers" in ok(
        f"/settings/pipelines/{created.pk}/", {"name": "Renamed", "order": "x"}
    )
    assert "Stage added" in ok(
        f"/settings/pipelines/{pipeline.pk}/stages/",
        {"name": "Review", "probability": "70", "rotting_days": "3", "order": "2"},
    )
    assert "saved" in ok(
        f"/settings/pipelines/stages/{lead_in.pk}/",
        {"name": "Lead", "probability": "15", "rotting_days": "", "order": "2"},
    )
    assert "A probability is" in ok(
        f"/settings/pipelines/stages/{lead_in.pk}/", {"name": "Lead", "probability": "300"}
    )
    assert "choose the stage to move them to" in ok(
        f"/settings/pipelines/stages/{lead_in.pk}/delete/", {}
    )
    assert "Deleted the stage" in ok(
        f"/settings/pipelines/stages/{lead_in.pk}/delete/", {"move_to": str(proposal.pk)}
    )
    with schema_context(ctx.tenant.schema_name):
        deal.refresh_from_db()
        assert deal.stage == proposal
        assert _stage(pipeline, "Review").probability == 70
    assert "choose the pipeline" in ok(f"/settings/pipelines/{pipeline.pk}/delete/", {})
    assert "Deleted the pipeline" in ok(
        f"/settings/pipelines/{pipeline.pk}/delete/", {"move_to": str(created.pk)}
    )
    assert "Lost reason added" in ok("/settings/pipelines/lost-reasons/", {"name": "Gone quiet"})
    with schema_context(ctx.tenant.schema_name):
        reason = LostReason.objects.get(name="Gone quiet")
    assert "Lost reason saved" in ok(
        f"/settings/pipelines/lost-reasons/{reason.pk}/", {"name": "Went quiet", "order": "1"}
    )
    assert "Removed" in ok(f"/settings/pipelines/lost-reasons/{reason.pk}/delete/", {})
    with schema_context(ctx.tenant.schema_name):
        assert not LostReason.objects.filter(pk=reason.pk).exists()


def test_read_only_and_rep_pages(ctx: Any, people: Any) -> None:
    pipeline = _pipeline(ctx, people)
    with schema_context(ctx.tenant.schema_name):
        theirs = services.deal_create(
            actor=people.owner, title="Owner only", stage=_stage(pipeline, "Lead in")
        )
    readonly = client_for(ctx.tenant, people.readonly.email)
    assert readonly.get("/deals/new/").status_code == 403
    assert readonly.get(f"/deals/board/{pipeline.pk}/").status_code == 200
    assert readonly.get(f"/deals/{theirs.pk}/").status_code == 200
    assert readonly.get(f"/deals/{theirs.pk}/edit/").status_code == 403
    # Read-only sees the card but cannot pick it up or move it.
    board = readonly.get(f"/deals/board/{pipeline.pk}/").content.decode()
    card = board[board.index(f'id="deal-{theirs.pk}"') - 120 :]
    assert "view-only" in card[:300] and "View only" in card and "Move to" not in card
    rep = client_for(ctx.tenant, people.rep.email)
    assert rep.get(f"/deals/{theirs.pk}/").status_code == 404
    assert rep.get("/deals/new/").status_code == 200
    # Shared to view, the rep's board shows it as view only; shared to edit, movable.
    with schema_context(ctx.tenant.schema_name):
        mine = services.deal_create(
            actor=people.rep, title="Rep's own", stage=_stage(pipeline, "Lead in")
        )
        services.deal_share(actor=people.owner, deal=theirs, user=people.rep, level="view")
    board = rep.get(f"/deals/board/{pipeline.pk}/").content.decode()
    assert re.search(rf'class="deal-card[^"]*view-only[^"]*" id="deal-{theirs.pk}"', board)
    assert not re.search(rf'class="deal-card[^"]*view-only[^"]*" id="deal-{mine.pk}"', board)
    with schema_context(ctx.tenant.schema_name):
        services.deal_share(actor=people.owner, deal=theirs, user=people.rep, level="edit")
    board = rep.get(f"/deals/board/{pipeline.pk}/").content.decode()
    assert not re.search(rf'class="deal-card[^"]*view-only[^"]*" id="deal-{theirs.pk}"', board)


def test_more_pages_search_share_and_merge_refusal(
    ctx: Any, people: Any, owner_client_a: Client
) -> None:
    pipeline = _pipeline(ctx, people)
    with schema_context(ctx.tenant.schema_name):
        lead_in, proposal = _stage(pipeline, "Lead in"), _stage(pipeline, "Proposal")
        lost = pipeline.stages.get(kind="lost")
        reason = LostReason.objects.filter(archived=False).first()
        assert reason is not None
        one = services.deal_create(actor=people.owner, title="Quasar optics", stage=lead_in)
        two = services.deal_create(actor=people.owner, title="Pulsar timing", stage=lead_in)
    # The top bar's search finds deals, typos and all.
    found = owner_client_a.get("/search/?q=quasr").content.decode()
    assert "Quasar optics" in found and f"/deals/{one.pk}/" in found
    # The board's own search box.
    html = owner_client_a.get(f"/deals/board/{pipeline.pk}/?q=pulsar").content.decode()
    assert "Pulsar timing" in html and "Quasar optics" not in html
    # Created straight into Lost, with an owner, from the form.
    created = owner_client_a.post(
        "/deals/new/",
        {
            "title": "Born lost",
            "currency": "USD",
            "stage": lost.pk,
            "owner": people.rep.pk,
            "lost_reason": reason.pk,
            "lost_note": "Gone",
        },
    )
    assert created.status_code == 302
    # Edited back into an open stage: the lost reason goes.
    with schema_context(ctx.tenant.schema_name):
        born = Deal.objects.get(title="Born lost")
        assert born.owner == people.rep and born.lost_reason == reason
    edited = owner_client_a.post(
        f"/deals/{born.pk}/edit/",
        {"title": "Born lost", "currency": "USD", "stage": proposal.pk, "lost_reason": reason.pk},
    )
    assert edited.status_code == 302
    with schema_context(ctx.tenant.schema_name):
        born.refresh_from_db()
        assert born.status == "open" and born.lost_reason is None
    # Dropped at the bottom of a column; bad board filters only drop the totals' filter.
    moved = owner_client_a.post(
        f"/deals/{one.pk}/move/",
        {"stage": proposal.pk, "index": "9", "close_from": "soon"},
        headers=JSON_ANSWER,
    )
    assert moved.status_code == 200 and moved.json()["totals"][str(proposal.pk)]
    with schema_context(ctx.tenant.schema_name):
        order = list(
            Deal.objects.filter(stage=proposal)
            .order_by("position", "id")
            .values_list("title", flat=True)
        )
    assert order[-1] == "Quasar optics"
    # Dropped just after the last card.
    owner_client_a.post(
        f"/deals/{two.pk}/move/", {"stage": proposal.pk, "index": "2"}, headers=JSON_ANSWER
    )
    with schema_context(ctx.tenant.schema_name):
        last = Deal.objects.filter(stage=proposal).order_by("position", "id").last()
        assert last is not None and last.title == "Pulsar timing"
    # Sharing from the API; merging deals is refused with a message.
    shared = owner_client_a.post(
        f"/api/v1/deals/{two.pk}/share/",
        {"user": people.rep.pk, "level": "view"},
        content_type="application/json",
    )
    assert shared.status_code == 200
    page = owner_client_a.get(f"/deals/merge/?ids={one.pk}&ids={two.pk}")
    assert page.status_code == 200
    refused = owner_client_a.post(
        "/deals/merge/", {"ids": [one.pk, two.pk], "survivor": one.pk}, follow=True
    )
    assert "Deals cannot be merged" in refused.content.decode()


def test_record_deals_tag_without_a_user() -> None:
    from apps.deals.templatetags.deals import record_deals

    assert record_deals({}, None) == []
