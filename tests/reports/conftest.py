"""A small sales organisation for checking report figures by hand.

Everything is made through the real services (deals, leads and their conversion, activities,
teams, sharing, exchange rates). The services stamp records with the current time, so the
fixture then sets the dates the reports read (created_at, won_at, lost_at, done_at, a stage
change's changed_at and seconds) with queryset .update() calls: a report only ever sees the
stored dates, so this is what a deal closed on that day looks like.

The clock of every report is NOW (10 April 2026, 12:00 UTC): "last month" is March 2026
(the previous period February 2026), "this month" April 2026.

Money: the reporting currency is USD; 1 EUR = 1.10 USD; GBP has no rate.

People: owner (Owner role), admin (Admin), rep and rep2 (Reps), manager (Manager of team
"East", whose members are the manager and rep), readonly.

Deals of the "Sales" pipeline (stages Qualified 10 %, Contact made 20 %, Demo scheduled 40 %,
Proposal made 60 %, Negotiation 80 %, then Won and Lost), and one of "Partners":

  name     owner  money      status  dates (UTC unless said)
  Acme     rep    1000 USD   won     created 1 Mar 12:00, won 15 Mar 12:00 (from lead L1)
  Bravo    rep    2000 EUR   won     created 10 Mar 12:00, won 20 Mar 12:00 (= 2200 USD)
  Crown    rep2    500 GBP   won     created 1 Mar 12:00, won 5 Mar 12:00 (no rate)
  Delta    rep2    800 USD   lost    created 5 Feb 12:00, lost 12 Mar 12:00, reason Price
                                     (from lead L3)
  Echo     rep     300 USD   won     created 1 Feb 12:00, lost 10 Feb, reopened, won 25 Mar
  Foxtrot  rep2    400 USD   lost    created 1 Feb 12:00, lost 20 Feb 12:00, reason Timing
  Golf     rep     600 USD   won     created 1 Feb 12:00, won 14 Feb 12:00
  Hotel    rep     700 USD   won     created 30 Mar 12:00, won 31 Mar 23:30 New York
                                     = 1 Apr 03:30 UTC
  India    rep    1000 USD   open    Qualified (10 %), created 2 Mar
  Juliet   rep2   2000 EUR   open    Proposal made (60 %), deal probability 50 %, created 2 Mar
  Kilo     admin   100 GBP   open    Negotiation (80 %), created 2 Mar
  Lima     rep2    400 USD   open    Demo scheduled (40 %), shared with rep (view), created 2 Mar
  Mike     rep2    250 USD   open    Partners pipeline, stage Intro (50 %), created 2 Mar

Leads: L1 (rep, source Web, created 3 Mar, converted into Acme), L2 (rep, no source, UTM
campaign "spring", created 8 Mar, new), L3 (rep2, source Web, created 5 Feb, converted into
Delta).

Activities: A1 (rep, call, due 5 Mar 10:00, done 5 Mar 11:00, outcome "connected"),
A2 (rep2, task, due 10 Feb 10:00, done 10 Feb 11:00), A3 (rep, task, due 1 Apr 09:00, open:
overdue at NOW), A4 (rep, meeting, due 20 Apr 09:00, open, not yet due).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test import Client

from apps.accounts.models import User
from apps.accounts.roles import Role
from apps.accounts.services import team_create, team_update
from apps.activities.models import Activity
from apps.activities.services import activity_complete, activity_create
from apps.deals.models import Deal, DealStageChange, LostReason, Pipeline, Stage
from apps.deals.services import (
    deal_create,
    deal_move,
    deal_share,
    pipeline_create,
    pipeline_default,
)
from apps.leads.conversion import lead_convert
from apps.leads.models import Lead
from apps.leads.services import lead_create, leadsource_create
from apps.reports import registry
from apps.reports.base import Report
from apps.reports.services import base_currency_set, rate_set
from tests.conftest import login, tenant_client
from tests.deals.conftest import ctx, member, people  # noqa: F401

UTC = ZoneInfo("UTC")
NEW_YORK = ZoneInfo("America/New_York")
BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime(2026, 4, 10, 12, 0, tzinfo=UTC)


def at(month: int, day: int, hour: int = 12, minute: int = 0, tz: ZoneInfo = UTC) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=tz)


def build(name: str, user: Any, **params: Any) -> Report:
    return registry.build(name, user, params, cached=False, now=NOW)


def figures(report: Report) -> dict[str, Any]:
    return {f.key: f.value for f in report.figures}


def previous(report: Report) -> dict[str, Any]:
    return {f.key: f.previous for f in report.figures}


def links(report: Report) -> dict[str, str]:
    return {f.key: f.link for f in report.figures}


def rows(report: Report) -> list[dict[str, Any]]:
    assert report.table is not None
    return report.table.rows


def money(text: str) -> Decimal:
    return Decimal(text)


def set_dates(record: Any, **fields: Any) -> None:
    """Set stored dates directly (fixture only: the services stamp the current time)."""
    type(record).objects.filter(pk=record.pk).update(**fields)


def stage(pipeline: Pipeline, name: str) -> Stage:
    return Stage.objects.get(pipeline=pipeline, name=name)


def close(actor: Any, deal: Deal, stage_name: str, when: datetime, reason: Any = None) -> Deal:
    """Move `deal` to its pipeline's Won or Lost stage, dated `when`."""
    deal = deal_move(
        actor=actor, deal=deal, stage=stage(deal.pipeline, stage_name), lost_reason=reason
    )
    field = "won_at" if stage_name == "Won" else "lost_at"
    set_dates(deal, **{field: when, "stage_entered_at": when})
    DealStageChange.objects.filter(deal=deal, to_stage__name=stage_name).update(changed_at=when)
    return deal


def list_titles(client: Client, url: str) -> list[str]:
    """Follow a report link to its list page and read the records it shows."""
    schema = connection.schema_name  # type: ignore[attr-defined]
    response = client.get(url)
    # The request leaves the connection on another schema: come back to the test's.
    connection.set_schema(schema)  # type: ignore[attr-defined]
    assert response.status_code == 200, url
    assert not response.context["error"], response.context["error"]
    return sorted(str(r) for r, _ in response.context["rows"])


def list_count(client: Client, url: str) -> int:
    return len(list_titles(client, url))


@pytest.fixture
def sales(ctx: Any, people: Any) -> Iterator[Any]:  # noqa: F811
    owner, admin, rep, rep2 = people.owner, people.admin, people.rep, people.rep2
    manager = member(ctx.tenant, "report-manager@alpha.test", Role.MANAGER)
    team = team_create(name="East", manager=manager, actor=owner)
    team_update(team=team, manager=manager, members=[rep], actor=owner)
    base_currency_set(user=owner, currency="USD")
    rate_set(user=owner, currency="EUR", rate="1.10")

    sales_pipeline = pipeline_default()
    partners = pipeline_create(
        actor=owner, name="Partners", stages=[{"name": "Intro", "probability": 50}]
    )
    price = LostReason.objects.get(name="Price")
    timing = LostReason.objects.get(name="Timing")
    web = leadsource_create(actor=owner, name="Web")

    def deal(title: str, who: User, value: str, currency: str = "USD", **kw: Any) -> Deal:
        return deal_create(actor=who, title=title, value=value, currency=currency, owner=who, **kw)

    # Leads, and the two that became deals.
    l1 = lead_create(actor=rep, first_name="Lena", email="lena@one.test", source=web)
    l2 = lead_create(actor=rep, first_name="Lars", email="lars@two.test", utm_campaign="spring")
    l3 = lead_create(actor=rep2, first_name="Lou", email="lou@three.test", source=web)
    acme = lead_convert(
        actor=rep, lead=l1, create_deal=True, deal={"title": "Acme", "value": "1000"}
    ).deal
    delta = lead_convert(
        actor=rep2, lead=l3, create_deal=True, deal={"title": "Delta", "value": "800"}
    ).deal
    assert acme is not None and delta is not None
    set_dates(l1, created_at=at(3, 3))
    set_dates(l2, created_at=at(3, 8))
    set_dates(l3, created_at=at(2, 5))

    close(rep, acme, "Won", at(3, 15))
    set_dates(acme, created_at=at(3, 1))
    bravo = deal("Bravo", rep, "2000", "EUR")
    close(rep, bravo, "Won", at(3, 20))
    set_dates(bravo, created_at=at(3, 10))
    crown = deal("Crown", rep2, "500", "GBP")
    close(rep2, crown, "Won", at(3, 5))
    set_dates(crown, created_at=at(3, 1))
    close(rep2, delta, "Lost", at(3, 12), reason=price)
    set_dates(delta, created_at=at(2, 5))
    # Echo: lost in February, reopened, and won in March.
    echo = deal("Echo", rep, "300")
    close(rep, echo, "Lost", at(2, 10), reason=timing)
    deal_move(actor=rep, deal=echo, stage=stage(sales_pipeline, "Negotiation"))
    close(rep, echo, "Won", at(3, 25))
    set_dates(echo, created_at=at(2, 1))
    foxtrot = deal("Foxtrot", rep2, "400")
    close(rep2, foxtrot, "Lost", at(2, 20), reason=timing)
    set_dates(foxtrot, created_at=at(2, 1))
    golf = deal("Golf", rep, "600")
    close(rep, golf, "Won", at(2, 14))
    set_dates(golf, created_at=at(2, 1))
    hotel = deal("Hotel", rep, "700")
    close(rep, hotel, "Won", at(3, 31, 23, 30, tz=NEW_YORK))
    set_dates(hotel, created_at=at(3, 30))

    india = deal("India", rep, "1000")
    juliet = deal(
        "Juliet", rep2, "2000", "EUR", stage=stage(sales_pipeline, "Proposal made"), probability=50
    )
    kilo = deal("Kilo", admin, "100", "GBP", stage=stage(sales_pipeline, "Negotiation"))
    lima = deal("Lima", rep2, "400", stage=stage(sales_pipeline, "Demo scheduled"))
    deal_share(actor=rep2, deal=lima, level="view", user=rep)
    mike = deal("Mike", rep2, "250", pipeline=partners)
    for d in (india, juliet, kilo, lima, mike):
        set_dates(d, created_at=at(3, 2))

    a1 = activity_create(actor=rep, type="call", subject="Call Lena", due_at=at(3, 5, 10))
    activity_complete(actor=rep, activity=a1, outcome="connected")
    set_dates(a1, done_at=at(3, 5, 11))
    a2 = activity_create(actor=rep2, type="task", subject="Send terms", due_at=at(2, 10, 10))
    activity_complete(actor=rep2, activity=a2)
    set_dates(a2, done_at=at(2, 10, 11))
    a3 = activity_create(actor=rep, type="task", subject="Chase Bravo", due_at=at(4, 1, 9))
    a4 = activity_create(
        actor=rep, type="meeting", subject="Demo", start_at=at(4, 20, 9), end_at=at(4, 20, 10)
    )
    assert Activity.objects.filter(pk=a3.pk, scheduled_at=at(4, 1, 9)).exists()
    assert Activity.objects.filter(pk=a4.pk, scheduled_at=at(4, 20, 9)).exists()
    assert Lead.objects.filter(converted_deal__isnull=False).count() == 2

    class Sales:
        pass

    s: Any = Sales()
    s.owner, s.admin, s.rep, s.rep2, s.manager, s.readonly = (
        owner,
        admin,
        rep,
        rep2,
        manager,
        people.readonly,
    )
    s.tenant = ctx.tenant
    s.team, s.pipeline, s.partners, s.price, s.timing, s.web = (
        team,
        sales_pipeline,
        partners,
        price,
        timing,
        web,
    )
    yield s


def client_as(tenant: Any, user: User) -> Client:
    return login(tenant_client(tenant), tenant, user.email)


def name_of(user: User) -> str:
    return user.get_full_name() or user.email
