"""The conversion funnel against figures worked out by hand.

Pipeline "Funnel" has open stages A (10 %), B (30 %), C (60 %), then Won and Lost. Deals,
all rep's, made through the deal services; the fixture then dates their creation and the
time each stage change says the deal spent in the stage it left (.update() on created_at and
on the stage changes' seconds: the services stamp the current time):

  F1  created 2 Mar in A; A -> B (2 days in A), B -> C (4 days in B), C -> B (1 day in C):
      moved backwards, furthest stage C, open in B
  F2  created 3 Mar in A; A -> B (1 day in A), B -> Won (6 days in B)
  F3  created 4 Mar in A; A -> Lost (3 days in A)
  F4  created 5 Mar directly in B, open
  F5  created 15 Feb in A; A -> B (10 days in A): not of March's cohort
  F6  created 6 Mar in the Sales pipeline: another pipeline
  F7  created 1 Mar 00:30 in Berlin (28 Feb 23:30 UTC) in A, open
"""

from __future__ import annotations

from typing import Any

import pytest

from apps.accounts.models import User
from apps.deals.models import Deal, DealStageChange, LostReason
from apps.deals.services import deal_create, deal_move, pipeline_create, pipeline_default
from tests.reports.conftest import BERLIN, at, build, client_as, figures, list_titles, rows, stage

DAY = 86400


@pytest.fixture
def funnel(ctx: Any, people: Any) -> Any:
    rep = people.rep
    pipeline_default()
    sales = pipeline_create(
        actor=people.owner,
        name="Funnel",
        stages=[
            {"name": "A", "probability": 10},
            {"name": "B", "probability": 30},
            {"name": "C", "probability": 60},
        ],
    )
    reason = LostReason.objects.order_by("id").first()

    def new(title: str, created: Any, where: str = "A", pipeline: Any = sales) -> Deal:
        deal = deal_create(actor=rep, title=title, value="100", stage=stage(pipeline, where))
        Deal.objects.filter(pk=deal.pk).update(created_at=created)
        return deal

    def move(deal: Deal, to: str, days_in_previous: float) -> Deal:
        before = deal.stage_id
        deal = deal_move(
            actor=rep,
            deal=deal,
            stage=stage(sales, to),
            lost_reason=reason if to == "Lost" else None,
        )
        DealStageChange.objects.filter(deal=deal, from_stage_id=before, to_stage=deal.stage).update(
            seconds_in_previous=int(days_in_previous * DAY)
        )
        return deal

    f1 = new("F1", at(3, 2))
    f1 = move(f1, "B", 2)
    f1 = move(f1, "C", 4)
    f1 = move(f1, "B", 1)
    f2 = new("F2", at(3, 3))
    f2 = move(f2, "B", 1)
    move(f2, "Won", 6)
    move(new("F3", at(3, 4)), "Lost", 3)
    new("F4", at(3, 5), "B")
    move(new("F5", at(2, 15)), "B", 10)
    new("F6", at(3, 6), "Qualified", pipeline_default())
    new("F7", at(3, 1, 0, 30, tz=BERLIN))

    class Funnel:
        pipeline = sales

    f: Any = Funnel()
    f.rep, f.admin, f.tenant = rep, people.admin, ctx.tenant
    return f


def row(stage: str, reached: int, share: Any, to_next: Any, days: Any) -> dict[str, Any]:
    return {
        "stage": stage,
        "reached": reached,
        "share": share,
        "to_next": to_next,
        "days_in_stage": days,
    }


def test_funnel_counts_each_deal_once_at_its_furthest_stage(funnel: Any) -> None:
    r = build("funnel", funnel.admin, period="last_month", pipeline=str(funnel.pipeline.pk))
    # March's cohort (UTC): F1, F2, F3, F4 (F7 was created on 28 February UTC).
    # A: all 4. B: F1 (furthest C), F2 (won), F4 (created in B) = 3. C: F1, F2 (won) = 2.
    # Won: F2. Time in A: F1 2, F2 1, F3 3 days -> 2.0; in B: F1 4, F2 6 -> 5.0; in C: F1 1.
    # F5's 10 days in A are not of the cohort.
    assert rows(r) == [
        row("A", 4, 100.0, 75.0, 2.0),
        row("B", 3, 75.0, 66.7, 5.0),
        row("C", 2, 50.0, 50.0, 1.0),
        row("Won", 1, 25.0, None, None),
    ]
    assert figures(r) == {"created": 4, "won": 1, "conversion": 25.0}
    client = client_as(funnel.tenant, funnel.admin)
    links = {f.key: f.link for f in r.figures}
    assert list_titles(client, links["created"]) == ["F1", "F2", "F3", "F4"]
    assert list_titles(client, links["won"]) == ["F2"]


def test_funnel_cohort_in_the_viewers_time_zone(funnel: Any) -> None:
    User.objects.filter(pk=funnel.admin.pk).update(time_zone="Europe/Berlin")
    funnel.admin.refresh_from_db()
    r = build("funnel", funnel.admin, period="last_month", pipeline=str(funnel.pipeline.pk))
    # F7 (1 March 00:30 in Berlin) joins March's cohort, in A with no move.
    assert rows(r) == [
        row("A", 5, 100.0, 60.0, 2.0),
        row("B", 3, 60.0, 66.7, 5.0),
        row("C", 2, 40.0, 50.0, 1.0),
        row("Won", 1, 20.0, None, None),
    ]
    client = client_as(funnel.tenant, funnel.admin)
    assert list_titles(client, r.figures[0].link) == ["F1", "F2", "F3", "F4", "F7"]


def test_funnel_of_an_empty_period(funnel: Any) -> None:
    r = build(
        "funnel",
        funnel.admin,
        period="custom",
        start="2026-01-01",
        end="2026-01-31",
        pipeline=str(funnel.pipeline.pk),
    )
    assert rows(r) == [
        row("A", 0, None, None, None),
        row("B", 0, None, None, None),
        row("C", 0, None, None, None),
        row("Won", 0, None, None, None),
    ]
    assert figures(r) == {"created": 0, "won": 0, "conversion": None}


def test_funnel_for_a_rep_who_owns_none_of_it(funnel: Any, people: Any) -> None:
    r = build("funnel", people.rep2, period="last_month", pipeline=str(funnel.pipeline.pk))
    assert figures(r) == {"created": 0, "won": 0, "conversion": None}
    r = build("funnel", funnel.rep, period="last_month", pipeline=str(funnel.pipeline.pk))
    assert figures(r) == {"created": 4, "won": 1, "conversion": 25.0}
