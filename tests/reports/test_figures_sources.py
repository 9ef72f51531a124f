"""Lead sources against figures worked out by hand. Leads (made through the lead services,
converted through the conversion service; creation dates set with .update() since the
services stamp the current time), all owned by rep unless said:

  S1  Web,   campaign spring, 3 Mar: converted, deal 1000 USD won
  S2  Web,   campaign spring, 4 Mar: converted, deal 2000 EUR won (= 2200 USD)
  S3  Web,   no campaign,     5 Mar: qualified
  S4  Event, campaign spring, 6 Mar: converted, deal 500 GBP won (no rate)
  S5  Event, no campaign,     7 Mar: new
  S6  no source,              20 Feb: new (February)
  S7  Web,   no campaign,     8 Mar: converted, deal 300 USD still open
  S8  Web,   no campaign,     31 Mar 23:30 in New York (1 Apr 03:30 UTC): new, owned by rep2
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from apps.accounts.models import User
from apps.deals.services import pipeline_default
from apps.leads.conversion import lead_convert
from apps.leads.models import Lead
from apps.leads.services import lead_create, lead_update, leadsource_create
from apps.reports.services import rate_set
from tests.reports.conftest import NEW_YORK, at, build, client_as, close, figures, list_count, rows


@pytest.fixture
def leads(ctx: Any, people: Any) -> Any:
    rep = people.rep
    rate_set(user=people.owner, currency="EUR", rate="1.10")
    pipeline_default()
    web = leadsource_create(actor=people.owner, name="Web")
    event = leadsource_create(actor=people.owner, name="Event")

    def lead(name: str, created: Any, source: Any = None, campaign: str = "", who: Any = rep):
        made = lead_create(
            actor=who,
            first_name=name,
            email=f"{name.lower()}@leads.test",
            source=source,
            utm_campaign=campaign,
        )
        Lead.objects.filter(pk=made.pk).update(created_at=created)
        return made

    def convert(made: Lead, value: str, currency: str, won: bool) -> None:
        deal = lead_convert(
            actor=rep,
            lead=made,
            create_deal=True,
            deal={"title": f"{made.first_name} deal", "value": value, "currency": currency},
        ).deal
        assert deal is not None
        if won:
            close(rep, deal, "Won", at(3, 20))

    convert(lead("S1", at(3, 3), web, "spring"), "1000", "USD", True)
    convert(lead("S2", at(3, 4), web, "spring"), "2000", "EUR", True)
    s3 = lead_update(actor=rep, lead=lead("S3", at(3, 5), web), status="qualified")
    # The update saved the lead as it was loaded, creation time included: date it again.
    Lead.objects.filter(pk=s3.pk).update(created_at=at(3, 5))
    convert(lead("S4", at(3, 6), event, "spring"), "500", "GBP", True)
    lead("S5", at(3, 7), event)
    lead("S6", at(2, 20))
    convert(lead("S7", at(3, 8), web), "300", "USD", False)
    lead("S8", at(3, 31, 23, 30, tz=NEW_YORK), web, who=people.rep2)
    return people


def row(group: str, n: int, qualified: int, converted: int, won: int, value: str, rate: Any):
    return {
        "group": group,
        "leads": n,
        "qualified": qualified,
        "converted": converted,
        "won": won,
        "won_value": Decimal(value),
        "conversion": rate,
    }


GBP_NOTE = (
    "1 deal in GBP is not included in money figures: there is no exchange rate from GBP to USD "
    "(Settings → Currencies)."
)


def test_lead_sources_by_source(leads: Any, ctx: Any) -> None:
    r = build("lead-sources", leads.admin, period="last_month")
    assert rows(r) == [
        # S1, S2, S3, S7: qualified all four (three converted, S3 qualified), won S1 1000 +
        # S2 2200.
        row("Web", 4, 4, 3, 2, "3200.00", 75.0),
        # S4 (won, GBP: not summed), S5 (new).
        row("Event", 2, 1, 1, 1, "0.00", 50.0),
    ]
    assert r.table is not None and r.table.totals == row("Total", 6, 5, 4, 3, "3200.00", 66.7)
    assert figures(r) == {
        "leads": 6,
        "qualified": 5,
        "converted": 4,
        "won_value": Decimal("3200.00"),
    }
    # The GBP deal is named, not silently left out of the won value.
    assert r.notes == [GBP_NOTE]
    client = client_as(ctx.tenant, leads.admin)
    web = r.table.links[0]
    assert list_count(client, web["leads"]) == 4
    assert list_count(client, web["converted"]) == 3
    assert list_count(client, web["won"]) == 2
    assert list_count(client, r.figures[0].link) == 6


def test_lead_sources_by_campaign(leads: Any, ctx: Any) -> None:
    r = build("lead-sources", leads.admin, period="last_month", group="campaign")
    assert rows(r) == [
        # S3, S5, S7.
        row("No campaign", 3, 2, 1, 0, "0.00", 33.3),
        # S1, S2, S4.
        row("spring", 3, 3, 3, 3, "3200.00", 100.0),
    ]
    client = client_as(ctx.tenant, leads.admin)
    assert r.table is not None
    assert [list_count(client, cells["leads"]) for cells in r.table.links] == [3, 3]
    assert [list_count(client, cells["won"]) for cells in r.table.links] == [0, 3]


def test_lead_sources_in_the_viewers_time_zone(leads: Any) -> None:
    User.objects.filter(pk=leads.admin.pk).update(time_zone="America/New_York")
    leads.admin.refresh_from_db()
    r = build("lead-sources", leads.admin, period="last_month")
    # S8 was created on 31 March in New York.
    assert rows(r)[0] == row("Web", 5, 4, 3, 2, "3200.00", 60.0)


def test_lead_sources_permissions_and_filters(leads: Any) -> None:
    # rep2 owns only S8 (April in UTC): nothing in March.
    r = build("lead-sources", leads.rep2, period="last_month")
    assert rows(r) == []
    assert figures(r) == {"leads": 0, "qualified": 0, "converted": 0, "won_value": Decimal("0.00")}
    assert r.table is not None and r.table.totals is not None
    assert r.table.totals["conversion"] is None
    r = build("lead-sources", leads.admin, period="this_month", owner=str(leads.rep2.pk))
    assert rows(r) == [row("Web", 1, 0, 0, 0, "0.00", 0.0)]
    r = build("lead-sources", leads.rep, period="last_month")
    assert figures(r)["leads"] == 6
