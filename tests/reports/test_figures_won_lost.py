"""Won and lost deals against figures worked out by hand on the `sales` fixture (see
tests/reports/conftest.py)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import ValidationError

from apps.accounts.models import User
from apps.deals.services import deal_create, deal_move
from tests.reports.conftest import (
    at,
    build,
    client_as,
    close,
    figures,
    list_titles,
    name_of,
    rows,
    stage,
)


def row(group: str, won: int, won_value: str, lost: int, lost_value: str, rate: Any) -> Any:
    return {
        "group": group,
        "won": won,
        "won_value": Decimal(won_value),
        "lost": lost,
        "lost_value": Decimal(lost_value),
        "win_rate": rate,
    }


def test_won_lost_by_reason(sales: Any) -> None:
    r = build("won-lost", sales.admin, period="last_month", group="reason")
    # March: won Acme 1000, Bravo 2200, Crown (GBP, not summed), Echo 300 (reopened after
    # being lost in February: counted once, as won); lost Delta 800 (Price).
    assert rows(r) == [
        row("Won, or no reason", 4, "3500.00", 0, "0.00", 100.0),
        row("Price", 0, "0.00", 1, "800.00", 0.0),
    ]
    assert r.table is not None and r.table.totals == row("Total", 4, "3500.00", 1, "800.00", 80.0)
    assert figures(r) == {"won": 4, "lost": 1, "won_value": Decimal("3500.00"), "win_rate": 80.0}
    assert r.notes == [
        "1 deal in GBP is not included in money figures: there is no exchange rate from GBP "
        "to USD (Settings → Currencies)."
    ]
    client = client_as(sales.tenant, sales.admin)
    no_reason, price = r.table.links
    assert list_titles(client, no_reason["won"]) == ["Acme", "Bravo", "Crown", "Echo"]
    assert list_titles(client, no_reason["lost"]) == []
    assert list_titles(client, price["lost"]) == ["Delta"]
    assert list_titles(client, r.figures[0].link) == ["Acme", "Bravo", "Crown", "Echo"]
    assert list_titles(client, r.figures[1].link) == ["Delta"]


def test_won_lost_previous_month_does_not_count_the_reopened_deal_as_lost(sales: Any) -> None:
    # February: Golf won (600); Foxtrot lost (400, Timing). Echo was lost on 10 February
    # but has been won since: it is not a February loss any more.
    r = build("won-lost", sales.admin, period="custom", start="2026-02-01", end="2026-02-28")
    assert rows(r) == [
        row("Timing", 0, "0.00", 1, "400.00", 0.0),
        row("Won, or no reason", 1, "600.00", 0, "0.00", 100.0),
    ]
    assert figures(r)["win_rate"] == 50.0


def test_won_lost_by_owner_and_source(sales: Any) -> None:
    r = build("won-lost", sales.admin, period="last_month", group="owner")
    # rep: Acme, Bravo, Echo won (3500). rep2: Crown won (GBP), Delta lost (800).
    assert rows(r) == [
        row(name_of(sales.rep), 3, "3500.00", 0, "0.00", 100.0),
        row(name_of(sales.rep2), 1, "0.00", 1, "800.00", 50.0),
    ]
    client = client_as(sales.tenant, sales.admin)
    assert r.table is not None
    assert list_titles(client, r.table.links[1]["won"]) == ["Crown"]
    assert list_titles(client, r.table.links[1]["lost"]) == ["Delta"]
    r = build("won-lost", sales.admin, period="last_month", group="source")
    # Acme came from lead L1 and Delta from L3, both source Web; the rest from no lead.
    assert rows(r) == [
        row("No source", 3, "2500.00", 0, "0.00", 100.0),
        row("Web", 1, "1000.00", 1, "800.00", 50.0),
    ]


def test_won_lost_by_month_in_the_viewers_time_zone(sales: Any) -> None:
    r = build(
        "won-lost",
        sales.admin,
        period="custom",
        start="2026-02-01",
        end="2026-04-30",
        group="month",
    )
    # UTC: Hotel (31 March 23:30 in New York) is April's.
    assert rows(r) == [
        row("Feb 2026", 1, "600.00", 1, "400.00", 50.0),
        row("Mar 2026", 4, "3500.00", 1, "800.00", 80.0),
        row("Apr 2026", 1, "700.00", 0, "0.00", 100.0),
    ]
    User.objects.filter(pk=sales.admin.pk).update(time_zone="America/New_York")
    sales.admin.refresh_from_db()
    r = build(
        "won-lost",
        sales.admin,
        period="custom",
        start="2026-02-01",
        end="2026-04-30",
        group="month",
    )
    assert rows(r) == [
        row("Feb 2026", 1, "600.00", 1, "400.00", 50.0),
        row("Mar 2026", 5, "4200.00", 1, "800.00", 83.3),
    ]
    r = build("won-lost", sales.admin, period="last_month")
    assert figures(r) == {"won": 5, "lost": 1, "won_value": Decimal("4200.00"), "win_rate": 83.3}


def test_won_lost_filters_and_empty_period(sales: Any) -> None:
    r = build("won-lost", sales.admin, period="last_month", pipeline=str(sales.partners.pk))
    assert rows(r) == []
    assert figures(r) == {"won": 0, "lost": 0, "won_value": Decimal("0.00"), "win_rate": None}
    r = build("won-lost", sales.admin, period="last_month", team=str(sales.team.pk))
    assert figures(r) == {"won": 3, "lost": 0, "won_value": Decimal("3500.00"), "win_rate": 100.0}


def test_won_lost_refuses_an_unknown_grouping(sales: Any) -> None:
    with pytest.raises(ValidationError) as raised:
        build("won-lost", sales.admin, group="colour")
    assert raised.value.message_dict == {
        "group": ["Unknown grouping 'colour': use one of reason, owner, source, month."]
    }


def test_won_lost_month_rows_link_to_their_months_deals(sales: Any) -> None:
    r = build(
        "won-lost",
        sales.admin,
        period="custom",
        start="2026-02-01",
        end="2026-04-30",
        group="month",
    )
    client = client_as(sales.tenant, sales.admin)
    assert r.table is not None
    assert [list_titles(client, cells["won"]) for cells in r.table.links] == [
        ["Golf"],
        ["Acme", "Bravo", "Crown", "Echo"],
        ["Hotel"],
    ]
    assert [list_titles(client, cells["lost"]) for cells in r.table.links] == [
        ["Foxtrot"],
        ["Delta"],
        [],
    ]
    # A period that starts mid-month: the row and its link keep to the period's days.
    r = build(
        "won-lost",
        sales.admin,
        period="custom",
        start="2026-03-13",
        end="2026-03-31",
        group="month",
    )
    assert rows(r) == [row("Mar 2026", 3, "3500.00", 0, "0.00", 100.0)]  # Acme, Bravo, Echo
    assert r.table is not None
    assert list_titles(client, r.table.links[0]["won"]) == ["Acme", "Bravo", "Echo"]


def test_won_lost_source_rows_have_no_link_that_would_show_other_deals(sales: Any) -> None:
    # The deals list cannot filter by the source of the lead a deal came from, so a source
    # row links nowhere rather than to every deal closed in the period.
    r = build("won-lost", sales.admin, period="last_month", group="source")
    assert r.table is not None
    assert r.table.links == [{}, {}]


def test_won_lost_links_keep_the_pipeline_filter(sales: Any) -> None:
    client = client_as(sales.tenant, sales.admin)
    r = build("won-lost", sales.admin, period="last_month", pipeline=str(sales.partners.pk))
    # Nothing closed in Partners, so the links show nothing either.
    assert [list_titles(client, f.link) for f in r.figures if f.link] == [[], []]
    r = build("won-lost", sales.admin, period="last_month", pipeline=str(sales.pipeline.pk))
    assert [list_titles(client, f.link) for f in r.figures if f.link] == [
        ["Acme", "Bravo", "Crown", "Echo"],
        ["Delta"],
    ]


def test_a_reopened_deal_counts_only_once_it_closes_again(sales: Any) -> None:
    # Oscar (rep2, 900 USD): lost on 18 March, then reopened: not a March loss any more.
    oscar = deal_create(actor=sales.rep2, title="Oscar", value="900")
    close(sales.rep2, oscar, "Lost", at(3, 18), reason=sales.price)
    deal_move(actor=sales.rep2, deal=oscar, stage=stage(sales.pipeline, "Qualified"))
    r = build("won-lost", sales.admin, period="last_month")
    assert figures(r) == {"won": 4, "lost": 1, "won_value": Decimal("3500.00"), "win_rate": 80.0}
    # Lost again on 2 April: April's loss (with Hotel won: 1 of 2), once.
    close(sales.rep2, oscar, "Lost", at(4, 2), reason=sales.price)
    r = build("won-lost", sales.admin, period="this_month")
    assert figures(r) == {"won": 1, "lost": 1, "won_value": Decimal("700.00"), "win_rate": 50.0}
    assert rows(build("won-lost", sales.admin, period="last_month")) == [
        row("Won, or no reason", 4, "3500.00", 0, "0.00", 100.0),
        row("Price", 0, "0.00", 1, "800.00", 0.0),
    ]
