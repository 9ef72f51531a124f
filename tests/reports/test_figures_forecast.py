"""The forecast against figures worked out by hand. Period: 1 March to 31 May 2026 (custom),
seen on 10 April 2026. Reporting currency USD, 1 EUR = 1.10 USD, GBP without a rate. Deals
of the Sales pipeline (Qualified 10 %, Proposal made 60 %, Negotiation 80 %), made through
the services; won dates set with .update() (the services stamp the current time):

  E1  open  1000 USD  Qualified, expected 20 Mar (slipping: the month has passed)
  E2  open  2000 EUR  Proposal made, expected 30 Apr  (= 2200 USD, weighted 1320)
  E3  open   500 USD  Negotiation with its own 25 %, expected 1 Apr (weighted 125)
  E4  open   300 GBP  Qualified, expected 10 May (no rate)
  E5  open   700 USD  expected 5 Jun: after the period
  E6  won    800 USD  won 10 Mar 12:00 UTC
  E7  won    400 EUR  won 31 Mar 23:30 in New York (1 Apr 03:30 UTC) (= 440 USD)
  E8  won    900 USD  won 20 Feb: before the period
  E9  lost   600 USD  expected 15 Apr: lost, so not forecast
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from apps.accounts.models import User
from apps.deals.models import LostReason
from apps.deals.services import deal_create, pipeline_default
from apps.reports.services import rate_set
from tests.reports.conftest import (
    NEW_YORK,
    at,
    build,
    client_as,
    close,
    figures,
    list_titles,
    rows,
    stage,
)

PERIOD = {"period": "custom", "start": "2026-03-01", "end": "2026-05-31"}


@pytest.fixture
def forecast(ctx: Any, people: Any) -> Any:
    rep = people.rep
    rate_set(user=people.owner, currency="EUR", rate="1.10")
    sales = pipeline_default()

    def new(title: str, value: str, currency: str = "USD", where: str = "Qualified", **kw: Any):
        return deal_create(
            actor=rep, title=title, value=value, currency=currency, stage=stage(sales, where), **kw
        )

    new("E1", "1000", expected_close="2026-03-20")
    new("E2", "2000", "EUR", "Proposal made", expected_close="2026-04-30")
    new("E3", "500", where="Negotiation", probability=25, expected_close="2026-04-01")
    new("E4", "300", "GBP", expected_close="2026-05-10")
    new("E5", "700", expected_close="2026-06-05")
    close(rep, new("E6", "800"), "Won", at(3, 10))
    close(rep, new("E7", "400", "EUR"), "Won", at(3, 31, 23, 30, tz=NEW_YORK))
    close(rep, new("E8", "900"), "Won", at(2, 20))
    close(
        rep,
        new("E9", "600", expected_close="2026-04-15"),
        "Lost",
        at(3, 1),
        reason=LostReason.objects.first(),
    )
    return people


def row(month: str, n: int, best: str, weighted: str, won_n: int, won: str, total: str) -> Any:
    return {
        "month": month,
        "open_deals": n,
        "best_case": Decimal(best),
        "weighted": Decimal(weighted),
        "won_deals": won_n,
        "won": Decimal(won),
        "expected_total": Decimal(total),
    }


def test_forecast_by_month(forecast: Any, ctx: Any) -> None:
    r = build("forecast", forecast.admin, **PERIOD)
    assert rows(r) == [
        # E1 (1000, 10 %) slipping; E6 won 800.
        row("Mar 2026", 1, "1000.00", "100.00", 1, "800.00", "900.00"),
        # E2 2200 at 60 % = 1320, E3 500 at 25 % = 125; E7 won 440 (1 April in UTC).
        row("Apr 2026", 2, "2700.00", "1445.00", 1, "440.00", "1885.00"),
        # E4 in GBP: counted, not summed.
        row("May 2026", 1, "0.00", "0.00", 0, "0.00", "0.00"),
    ]
    assert r.table is not None and r.table.totals == {
        "month": "Total",
        "open_deals": 4,
        "best_case": Decimal("3700.00"),
        "weighted": Decimal("1545.00"),
        "won_deals": 2,
        "won": Decimal("1240.00"),
        "expected_total": Decimal("2785.00"),
    }
    assert figures(r) == {
        "won": Decimal("1240.00"),
        "weighted": Decimal("1545.00"),
        "best_case": Decimal("3700.00"),
        "expected_total": Decimal("2785.00"),
    }
    assert r.notes == [
        "1 deal in GBP is not included in money figures: there is no exchange rate from GBP "
        "to USD (Settings → Currencies)."
    ]
    client = client_as(ctx.tenant, forecast.admin)
    assert [list_titles(client, cells["open_deals"]) for cells in r.table.links] == [
        ["E1"],
        ["E2", "E3"],
        ["E4"],
    ]
    assert [list_titles(client, cells["won"]) for cells in r.table.links] == [["E6"], ["E7"], []]


def test_forecast_won_month_in_the_viewers_time_zone(forecast: Any, ctx: Any) -> None:
    User.objects.filter(pk=forecast.admin.pk).update(time_zone="America/New_York")
    forecast.admin.refresh_from_db()
    r = build("forecast", forecast.admin, **PERIOD)
    # E7 was won on 31 March in New York.
    assert [(x["month"], x["won_deals"], x["won"]) for x in rows(r)] == [
        ("Mar 2026", 2, Decimal("1240.00")),
        ("Apr 2026", 0, Decimal("0.00")),
        ("May 2026", 0, Decimal("0.00")),
    ]
    client = client_as(ctx.tenant, forecast.admin)
    assert r.table is not None
    assert list_titles(client, r.table.links[0]["won"]) == ["E6", "E7"]


def test_forecast_default_period_is_this_quarter(forecast: Any) -> None:
    r = build("forecast", forecast.admin)
    # April to June 2026: E2 + E3 in April (E7 won then, UTC), E4 in May, E5 700 at 10 % in
    # June.
    assert [(x["month"], x["open_deals"], x["weighted"], x["won"]) for x in rows(r)] == [
        ("Apr 2026", 2, Decimal("1445.00"), Decimal("440.00")),
        ("May 2026", 1, Decimal("0.00"), Decimal("0.00")),
        ("Jun 2026", 1, Decimal("70.00"), Decimal("0.00")),
    ]


def test_forecast_for_someone_who_owns_none_of_it(forecast: Any) -> None:
    r = build("forecast", forecast.rep2, **PERIOD)
    assert figures(r) == {
        "won": Decimal("0.00"),
        "weighted": Decimal("0.00"),
        "best_case": Decimal("0.00"),
        "expected_total": Decimal("0.00"),
    }
    assert r.notes == []


def test_forecast_of_a_period_that_cuts_months(forecast: Any, ctx: Any) -> None:
    # 11 March to 15 April: E6 (won 10 March) and E2 (expected 30 April) fall outside; the
    # March row has E1 (20 Mar), the April row E3 (1 Apr) and E7 (won 1 Apr UTC).
    r = build("forecast", forecast.admin, period="custom", start="2026-03-11", end="2026-04-15")
    assert rows(r) == [
        row("Mar 2026", 1, "1000.00", "100.00", 0, "0.00", "100.00"),
        row("Apr 2026", 1, "500.00", "125.00", 1, "440.00", "565.00"),
    ]
    # Each cell's link opens exactly the deals counted in it.
    client = client_as(ctx.tenant, forecast.admin)
    assert r.table is not None
    assert [list_titles(client, cells["open_deals"]) for cells in r.table.links] == [
        ["E1"],
        ["E3"],
    ]
    assert [list_titles(client, cells["won"]) for cells in r.table.links] == [[], ["E7"]]
