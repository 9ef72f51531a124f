"""The deals board in a real browser: drag a card to another column and see the totals
change and the move persist; drop on Lost and give the reason; a rep's drop on a deal they
may only view is refused and the card goes back to where it was."""

from __future__ import annotations

import re
import secrets
from typing import Any

import pytest
from django_tenants.utils import schema_context

from apps.accounts.models import User
from apps.accounts.roles import Role
from apps.accounts.services import user_set_role
from apps.deals import services as deal_services
from apps.deals.models import Deal
from tenants.provisioning import tenant_provision
from tests.browser.conftest import assert_csp_clean, shot, sign_in
from tests.factories import make_user

pytestmark = [pytest.mark.browser, pytest.mark.slow]

OWNER = ("ada@engines.test", "analytical-engine-1843")
REP = ("rep@engines.test", "a-long-rep-password-1")


def _organisation(created: list[str], django_db_blocker: Any) -> dict[str, Any]:
    """An organisation with an owner, a rep and a few deals on the default board."""
    slug = f"engines-{secrets.token_hex(3)}"
    created.append(slug)
    with django_db_blocker.unblock():
        org = tenant_provision(
            slug=slug,
            name="Engines Ltd",
            owner_email=OWNER[0],
            owner_password=OWNER[1],
            owner_name="Ada Lovelace",
            use_pool=False,
        )
        with schema_context(org.tenant.schema_name):
            owner = User.objects.get(email=OWNER[0])
            rep = make_user(email=REP[0], password=REP[1], full_name="Rita Rep")
            user_set_role(user=rep, role=Role.REP)
            pipeline = deal_services.pipeline_default()
            stages = {s.name: s for s in pipeline.stages.all()}
            deal_services.deal_create(
                actor=owner, title="Difference engine", value=1000, stage=stages["Qualified"]
            )
            deal_services.deal_create(
                actor=owner, title="Loom cards", value=500, stage=stages["Qualified"]
            )
            deal_services.deal_create(
                actor=owner, title="Bernoulli tables", value=200, stage=stages["Contact made"]
            )
            shared = deal_services.deal_create(
                actor=owner, title="Owner's view-only deal", value=300, stage=stages["Negotiation"]
            )
            deal_services.deal_share(actor=owner, deal=shared, user=rep, level="edit")
            for index in range(26):  # more than one page of cards in a column
                deal_services.deal_create(
                    actor=rep,
                    title=f"Rep lead {index:02d}",
                    value=250 + 50 * index,
                    stage=stages["Proposal made"],
                )
    return {"tenant": org.tenant, "stages": {n: s.pk for n, s in stages.items()}}


def _sign_in(page: Any, base: str, email: str, password: str) -> None:
    sign_in(page, base, email, password)


def _drag(page: Any, card: Any, target: Any) -> None:
    """Press on the card, move in small steps over the target column, release (SortableJS
    runs in fallback mode: it follows the mouse events)."""
    page.evaluate("window.scrollTo(0, 0)")  # both ends in view: columns start at the top
    start = card.locator(".deal-meta").bounding_box()
    end = target.bounding_box()
    page.mouse.move(start["x"] + 10, start["y"] + start["height"] / 2)
    page.mouse.down()
    x, y = end["x"] + end["width"] / 2, end["y"] + 20
    page.mouse.move(start["x"] + 20, start["y"] + 10, steps=5)
    page.mouse.move(x, y, steps=20)
    page.mouse.move(x, y + 2, steps=2)
    page.mouse.up()


def _totals(page: Any, stage: int) -> str:
    return str(page.locator(f"#totals-{stage}").inner_text())


def test_drag_a_deal_across_the_board(
    page: Any, server: str, created: list[str], django_db_blocker: Any
) -> None:
    org = _organisation(created, django_db_blocker)
    stages = org["stages"]
    base = f"http://{org['tenant'].slug}.localhost:{server}"
    _sign_in(page, base, *OWNER)
    page.goto(f"{base}/deals/board/")
    assert "2 deals" in _totals(page, stages["Qualified"])
    assert "1,500 USD" in _totals(page, stages["Qualified"])
    assert "0" in _totals(page, stages["Demo scheduled"])

    card = page.locator(".deal-card", has_text="Difference engine")
    _drag(page, card, page.locator(f"#cards-{stages['Demo scheduled']}"))
    page.locator("#board-message", has_text="Moved Difference engine to Demo scheduled").wait_for()
    demo = page.locator(f"#totals-{stages['Demo scheduled']}")
    assert "1 deal" in demo.inner_text() and "1,000 USD" in demo.inner_text()
    assert "400 weighted" in demo.inner_text()
    assert "1 deal" in _totals(page, stages["Qualified"])
    assert page.locator(f"#cards-{stages['Demo scheduled']} .deal-card").count() == 1
    shot(page, "deals-board")

    # Persisted: a reload shows it in its new column.
    page.reload()
    moved = page.locator(f"#cards-{stages['Demo scheduled']} .deal-card")
    assert moved.count() == 1 and "Difference engine" in moved.inner_text()

    # Dropping on Lost asks why; the answer goes with the move.
    _drag(
        page,
        page.locator(".deal-card", has_text="Loom cards"),
        page.locator(f"#cards-{stages['Lost']}"),
    )
    dialog = page.locator("#lost-dialog")
    dialog.wait_for(state="visible")
    dialog.get_by_label("Reason").select_option(label="Price")
    dialog.get_by_role("button", name="Mark as lost").click()
    page.locator("#board-message", has_text="Moved Loom cards to Lost").wait_for()
    assert "1 deal" in _totals(page, stages["Lost"])
    with django_db_blocker.unblock(), schema_context(org["tenant"].schema_name):
        lost = Deal.objects.select_related("lost_reason").get(title="Loom cards")
        assert lost.status == "lost" and lost.lost_reason and lost.lost_reason.name == "Price"

    # Without the mouse: the card's "Move to…" menu.
    bernoulli = page.locator(".deal-card", has_text="Bernoulli tables")
    bernoulli.get_by_text("Move to…").click()
    bernoulli.get_by_label("Stage").select_option(label="Won")
    with page.expect_navigation():
        bernoulli.get_by_role("button", name="Move").click()
    assert page.locator(f"#cards-{stages['Won']} .deal-card", has_text="Bernoulli").count() == 1

    # Filters redraw the board in place (htmx); the redrawn columns still take drops.
    page.get_by_label("Owner").select_option(label="Rita Rep")
    page.wait_for_url(re.compile(r"owner=\d+"))
    page.locator(".deal-card", has_text="Difference engine").wait_for(state="detached")
    assert "0 deals" in _totals(page, stages["Demo scheduled"])
    page.get_by_label("Owner").select_option(label="Anyone")
    page.locator(".deal-card", has_text="Difference engine").wait_for()
    _drag(
        page,
        page.locator(".deal-card", has_text="Difference engine"),
        page.locator(f"#cards-{stages['Proposal made']}"),
    )
    page.locator("#board-message", has_text="Moved Difference engine to Proposal made").wait_for()
    assert "27 deals" in _totals(page, stages["Proposal made"])
    assert_csp_clean(page)

    # The deal's page tells its stage history; Settings → Pipelines edits the stages.
    page.locator(".deal-card", has_text="Difference engine").get_by_role("link").click()
    page.get_by_role("heading", name="Stage history").wait_for()
    history = page.locator(".stage-history tbody tr")
    assert history.count() == 3  # created, then two moves
    assert "Moved to Proposal made" in page.locator(".timeline").inner_text()
    shot(page, "deals-detail")
    page.goto(f"{base}/settings/pipelines/")
    page.get_by_label("Rotting days of Qualified").fill("9")
    page.locator("tr", has=page.get_by_label("Name of Qualified")).get_by_role(
        "button", name="Save"
    ).click()
    page.locator(".messages", has_text="Stage Qualified saved").wait_for()
    assert page.get_by_label("Rotting days of Qualified").input_value() == "9"
    shot(page, "deals-pipelines-settings")
    assert_csp_clean(page)


def test_a_refused_drop_puts_the_card_back(
    page: Any, server: str, created: list[str], django_db_blocker: Any
) -> None:
    org = _organisation(created, django_db_blocker)
    stages = org["stages"]
    base = f"http://{org['tenant'].slug}.localhost:{server}"
    _sign_in(page, base, *REP)
    page.goto(f"{base}/deals/board/")
    # The rep sees only their own deals and the one shared with them; a long column shows
    # its first 25 cards and loads the rest on request.
    proposal = page.locator(f"#cards-{stages['Proposal made']} .deal-card")
    assert proposal.count() == 25
    assert "26 deals" in _totals(page, stages["Proposal made"])
    page.locator(f"#more-{stages['Proposal made']}").click()
    page.locator(".deal-card", has_text="Rep lead 00").wait_for()
    assert proposal.count() == 26
    assert page.locator(f"#more-{stages['Proposal made']}").count() == 0
    assert page.locator(".deal-card").count() == 27
    assert page.locator(".deal-card", has_text="Difference engine").count() == 0
    card = page.locator(".deal-card", has_text="Owner's view-only deal")
    assert "View only" not in card.inner_text()  # shared to edit when the board was drawn
    # Meanwhile the owner narrows the share to viewing: the drop is refused.
    with django_db_blocker.unblock(), schema_context(org["tenant"].schema_name):
        deal_services.deal_share(
            actor=User.objects.get(email=OWNER[0]),
            deal=Deal.objects.get(title="Owner's view-only deal"),
            user=User.objects.get(email=REP[0]),
            level="view",
        )
    before = _totals(page, stages["Negotiation"])
    _drag(page, card, page.locator(f"#cards-{stages['Qualified']}"))
    page.locator("#board-message", has_text="You may not move this deal.").wait_for()
    back = page.locator(f"#cards-{stages['Negotiation']} .deal-card")
    assert back.count() == 1 and "view-only" in back.inner_text()
    assert page.locator(f"#cards-{stages['Qualified']} .deal-card").count() == 0
    assert _totals(page, stages["Negotiation"]) == before
    assert re.search(r"is-error", page.locator("#board-message").get_attribute("class") or "")
    page.reload()
    assert page.locator(f"#cards-{stages['Negotiation']} .deal-card").count() == 1
    # Redrawn, the card says it is view only, offers no Move menu and cannot be picked up.
    card = page.locator(".deal-card", has_text="Owner's view-only deal")
    assert "View only" in card.inner_text() and card.locator(".move-menu").count() == 0
    _drag(page, card, page.locator(f"#cards-{stages['Qualified']}"))
    assert page.locator(f"#cards-{stages['Qualified']} .deal-card").count() == 0
    assert page.locator(f"#cards-{stages['Negotiation']} .deal-card").count() == 1
    assert_csp_clean(page)
