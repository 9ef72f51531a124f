"""The sales dashboard's figures against numbers worked out by hand on the `sales` fixture
(see tests/reports/conftest.py for every deal, lead and activity and their dates)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import ValidationError

from apps.accounts.models import User
from tests.reports.conftest import (
    NEW_YORK,
    build,
    client_as,
    figures,
    links,
    list_count,
    list_titles,
    previous,
)


def test_dashboard_last_month_for_an_admin(sales: Any) -> None:
    r = build("dashboard", sales.admin, period="last_month")
    # March 2026 against February 2026, UTC.
    assert (r.period.first.isoformat(), r.period.last.isoformat()) == ("2026-03-01", "2026-03-31")
    assert (r.previous.first.isoformat(), r.previous.last.isoformat()) == (
        "2026-02-01",
        "2026-02-28",
    )
    assert figures(r) == {
        # Open now: India 1000 + Juliet 2000 EUR * 1.10 = 2200 + Lima 400 + Mike 250 = 3850
        # (Kilo is in GBP, which has no rate).
        "open_pipeline": Decimal("3850.00"),
        # 1000 * 10 % + 2200 * 50 % (Juliet's own probability) + 400 * 40 % + 250 * 50 %
        # = 100 + 1100 + 160 + 125 = 1485.
        "weighted_pipeline": Decimal("1485.00"),
        # Won in March: Acme 1000, Bravo 2200, Crown (GBP: not summed), Echo 300 (lost in
        # February, reopened, won in March) = 3500. Hotel was won on 1 April UTC.
        "won_value": Decimal("3500.00"),
        # 4 won (Acme, Bravo, Crown, Echo), 1 lost (Delta): 4 / 5.
        "win_rate": 80.0,
        # 3500 over the three won deals that have a value in USD: 1166.666...
        "average_deal": Decimal("1166.67"),
        # Days from creation to won: Acme 14, Bravo 10, Crown 4, Echo 52 -> 80 / 4.
        "sales_cycle": 20.0,
        # Leads created in March: L1, L2; L1 became a deal.
        "new_leads": 2,
        "lead_conversion": 50.0,
        # A1 done on 5 March; A3 (1 April) is open and past at 10 April.
        "activities_done": 1,
        "activities_overdue": 1,
    }
    assert previous(r) == {
        "open_pipeline": None,
        "weighted_pipeline": None,
        # February: Golf 600 won (created 1 Feb, won 14 Feb: 13 days); Foxtrot lost. Echo was
        # lost in February but is won now, so February does not count it as lost.
        "won_value": Decimal("600.00"),
        "win_rate": 50.0,
        "average_deal": Decimal("600.00"),
        "sales_cycle": 13.0,
        # L3, created 5 Feb, converted.
        "new_leads": 1,
        "lead_conversion": 100.0,
        # A2 done 10 Feb.
        "activities_done": 1,
        "activities_overdue": None,
    }
    changes = {f.key: f.change for f in r.figures}
    # 3500 against 600: +483.3 %; 80 against 50: +60 %; 2 leads against 1: +100 %.
    assert changes["won_value"] == 483.3
    assert changes["win_rate"] == 60.0
    assert changes["new_leads"] == 100.0
    assert changes["activities_done"] == 0.0
    assert changes["open_pipeline"] is None
    # Crown (won in March) and Kilo (open) are in GBP.
    assert r.notes == [
        "2 deals in GBP are not included in money figures: there is no exchange rate from GBP "
        "to USD (Settings → Currencies)."
    ]
    help_ = {f.key: f.help for f in r.figures}
    assert help_["open_pipeline"] == "5 open deals, now."
    assert help_["won_value"] == "4 deals won in the period."
    assert help_["win_rate"] == "4 won, 1 lost in the period."


def test_dashboard_links_open_the_records_behind_each_figure(sales: Any) -> None:
    r = build("dashboard", sales.admin, period="last_month")
    client = client_as(sales.tenant, sales.admin)
    url = links(r)
    # Open pipeline and weighted: the five open deals.
    assert list_titles(client, url["open_pipeline"]) == ["India", "Juliet", "Kilo", "Lima", "Mike"]
    assert url["weighted_pipeline"] == url["open_pipeline"]
    # Won, average deal and cycle: the four won in March (UTC boundaries).
    assert list_titles(client, url["won_value"]) == ["Acme", "Bravo", "Crown", "Echo"]
    assert url["average_deal"] == url["sales_cycle"] == url["won_value"]
    # Win rate: the lost deals of March.
    assert list_titles(client, url["win_rate"]) == ["Delta"]
    assert list_count(client, url["new_leads"]) == figures(r)["new_leads"] == 2
    assert list_count(client, url["lead_conversion"]) == 1
    assert list_count(client, url["activities_done"]) == figures(r)["activities_done"] == 1
    assert list_titles(client, url["activities_done"]) == ["Call Lena"]
    assert list_count(client, url["activities_overdue"]) == figures(r)["activities_overdue"]
    assert list_titles(client, url["activities_overdue"]) == ["Chase Bravo"]


def test_dashboard_links_keep_the_owner_and_pipeline_filters(sales: Any) -> None:
    r = build("dashboard", sales.admin, period="last_month", owner=str(sales.rep2.pk))
    client = client_as(sales.tenant, sales.admin)
    url = links(r)
    # rep2's open deals: Juliet, Lima, Mike; won in March: Crown; lost: Delta.
    assert list_titles(client, url["open_pipeline"]) == ["Juliet", "Lima", "Mike"]
    assert list_titles(client, url["won_value"]) == ["Crown"]
    assert list_titles(client, url["win_rate"]) == ["Delta"]
    r = build("dashboard", sales.admin, period="last_month", pipeline=str(sales.partners.pk))
    assert list_titles(client, links(r)["open_pipeline"]) == ["Mike"]
    # Team East (the manager and rep): rep's records.
    r = build("dashboard", sales.admin, period="last_month", team=str(sales.team.pk))
    url = links(r)
    assert list_titles(client, url["open_pipeline"]) == ["India"]
    assert list_titles(client, url["won_value"]) == ["Acme", "Bravo", "Echo"]
    assert list_titles(client, url["win_rate"]) == []
    assert list_count(client, url["new_leads"]) == 2
    assert list_titles(client, url["activities_done"]) == ["Call Lena"]
    assert list_titles(client, url["activities_overdue"]) == ["Chase Bravo"]


def test_dashboard_filters(sales: Any) -> None:
    # Owner rep2: open Juliet 2200 + Lima 400 + Mike 250 = 2850; weighted 1100 + 160 + 125.
    # Won in March: Crown only, in GBP: value 0 and no average; lost Delta: 1 of 2.
    r = build("dashboard", sales.admin, period="last_month", owner=str(sales.rep2.pk))
    f = figures(r)
    assert f["open_pipeline"] == Decimal("2850.00")
    assert f["weighted_pipeline"] == Decimal("1385.00")
    assert f["won_value"] == Decimal("0.00")
    assert f["win_rate"] == 50.0
    assert f["average_deal"] is None
    assert f["sales_cycle"] == 4.0
    assert f["new_leads"] == 0
    assert f["lead_conversion"] is None
    assert f["activities_done"] == 0 and f["activities_overdue"] == 0
    assert previous(r)["new_leads"] == 1  # L3 (rep2's), February
    assert r.filters == {"period": "last_month", "owner": sales.rep2.pk}

    # Team East (the manager and rep): rep's deals. Open India 1000 (weighted 100); won Acme,
    # Bravo, Echo = 3500 over 3; cycles 14, 10, 52 -> 25.3; nothing lost.
    r = build("dashboard", sales.admin, period="last_month", team=str(sales.team.pk))
    f = figures(r)
    assert f["open_pipeline"] == Decimal("1000.00")
    assert f["weighted_pipeline"] == Decimal("100.00")
    assert f["won_value"] == Decimal("3500.00")
    assert f["win_rate"] == 100.0
    assert f["average_deal"] == Decimal("1166.67")
    assert f["sales_cycle"] == 25.3
    assert f["new_leads"] == 2 and f["lead_conversion"] == 50.0
    assert f["activities_done"] == 1 and f["activities_overdue"] == 1
    # February for the team: Golf won (600, 13 days), nothing lost.
    assert previous(r)["won_value"] == Decimal("600.00")
    assert previous(r)["win_rate"] == 100.0

    # Pipeline Partners: Mike only (250, 50 %); nothing closed: no rates, no averages.
    r = build("dashboard", sales.admin, period="last_month", pipeline=str(sales.partners.pk))
    f = figures(r)
    assert f["open_pipeline"] == Decimal("250.00")
    assert f["weighted_pipeline"] == Decimal("125.00")
    assert f["won_value"] == Decimal("0.00")
    assert f["win_rate"] is None
    assert f["average_deal"] is None
    assert f["sales_cycle"] is None
    assert r.notes == []


def test_dashboard_time_zone_at_a_month_boundary(sales: Any) -> None:
    # Hotel was won at 23:30 on 31 March in New York (03:30 UTC on 1 April).
    User.objects.filter(pk=sales.admin.pk).update(time_zone="America/New_York")
    sales.admin.refresh_from_db()
    r = build("dashboard", sales.admin, period="last_month")
    assert r.period.start.tzinfo == NEW_YORK
    f = figures(r)
    # March in New York: Acme, Bravo, Crown, Echo and Hotel 700 = 4200 over 4 priced deals.
    assert f["won_value"] == Decimal("4200.00")
    assert f["win_rate"] == round(5 * 100 / 6, 1)  # 5 won, Delta lost: 83.3
    assert f["average_deal"] == Decimal("1050.00")
    # Cycles 14, 10, 4, 52 and Hotel: 30 Mar 12:00 UTC to 1 Apr 03:30 UTC = 1.6458 days.
    assert f["sales_cycle"] == round((14 + 10 + 4 + 52 + 1 + 15.5 / 24) / 5, 1)
    client = client_as(sales.tenant, sales.admin)
    assert list_titles(client, links(r)["won_value"]) == ["Acme", "Bravo", "Crown", "Echo", "Hotel"]
    # For a UTC viewer Hotel is April's.
    User.objects.filter(pk=sales.admin.pk).update(time_zone="UTC")
    sales.admin.refresh_from_db()
    assert figures(build("dashboard", sales.admin, period="last_month"))["won_value"] == Decimal(
        "3500.00"
    )
    april = build("dashboard", sales.admin, period="this_month")
    assert figures(april)["won_value"] == Decimal("700.00")
    assert list_titles(client, links(april)["won_value"]) == ["Hotel"]


def test_dashboard_empty_period_has_no_rates(sales: Any) -> None:
    # January 2026: nothing happened; December 2025 neither.
    r = build("dashboard", sales.admin, period="custom", start="2026-01-01", end="2026-01-31")
    f = figures(r)
    assert f["won_value"] == Decimal("0.00")
    assert f["win_rate"] is None
    assert f["average_deal"] is None
    assert f["sales_cycle"] is None
    assert f["new_leads"] == 0
    assert f["lead_conversion"] is None
    assert f["activities_done"] == 0
    assert all(fig.change is None for fig in r.figures)
    # The previous period of a custom range: the same number of days just before.
    assert (r.previous.first.isoformat(), r.previous.last.isoformat()) == (
        "2025-12-01",
        "2025-12-31",
    )


@pytest.mark.parametrize(
    ("params", "field", "words"),
    [
        ({"period": "fortnight"}, "period", "Unknown period 'fortnight'"),
        (
            {"period": "custom", "start": "2026-03-10", "end": "2026-03-01"},
            "to",
            "last day of the period is before its first day",
        ),
        ({"from": "2026-03-10", "to": "2026-03-01"}, "to", "before its first day"),
        ({"from": "10/03/2026", "to": "2026-03-11"}, "from", "'10/03/2026' is not the first day"),
        ({"from": "2023-01-01", "to": "2026-03-11"}, "to", "at most 1098 days"),
        ({"owner": "999999"}, "owner", "no member with id 999999"),
        ({"owner": "bob"}, "owner", "must be an id"),
        ({"team": "999999"}, "team", "no team with id 999999"),
        ({"pipeline": "999999"}, "pipeline", "no pipeline with id 999999"),
    ],
)
def test_dashboard_refuses_bad_filters(sales: Any, params: dict[str, str], field: str, words: str):
    with pytest.raises(ValidationError) as raised:
        build("dashboard", sales.admin, **params)
    assert field in raised.value.message_dict
    assert words in " ".join(raised.value.message_dict[field])


def test_another_organisation_sees_none_of_it(sales: Any, tenant_b: Any) -> None:
    from django_tenants.utils import schema_context

    from tests.conftest import BETA

    with schema_context(tenant_b.schema_name):
        owner_b = User.objects.get(email=BETA.owner_email)
        f = figures(build("dashboard", owner_b, period="last_month"))
        assert f["open_pipeline"] == Decimal("0.00")
        assert f["won_value"] == Decimal("0.00")
        assert f["new_leads"] == 0
        assert f["activities_done"] == 0


def test_dashboard_weeks_quarters_and_years(sales: Any) -> None:
    # 10 April 2026 is a Friday: last week is Monday 30 March to Sunday 5 April, the week
    # before it 23 to 29 March.
    r = build("dashboard", sales.admin, period="last_week")
    assert (r.period.first.isoformat(), r.period.last.isoformat()) == ("2026-03-30", "2026-04-05")
    assert (r.previous.first.isoformat(), r.previous.last.isoformat()) == (
        "2026-03-23",
        "2026-03-29",
    )
    f, before = figures(r), previous(r)
    # Hotel (1 April 03:30 UTC, 700; created 30 March 12:00: 1.65 days); before it Echo
    # (25 March, 300; 52 days).
    assert (f["won_value"], f["win_rate"], f["average_deal"], f["sales_cycle"]) == (
        Decimal("700.00"),
        100.0,
        Decimal("700.00"),
        1.6,
    )
    assert (before["won_value"], before["win_rate"], before["sales_cycle"]) == (
        Decimal("300.00"),
        100.0,
        52.0,
    )
    assert (f["new_leads"], f["lead_conversion"], f["activities_done"]) == (0, None, 0)

    # This quarter (April to June): Hotel. The first quarter: Acme, Bravo, Crown, Echo and
    # Golf won (1000 + 2200 + 300 + 600 = 4100 over 4 priced deals), Delta and Foxtrot lost;
    # cycles 14 + 10 + 4 + 52 + 13 = 93 over 5; leads L1, L2, L3 (two converted); A1, A2.
    r = build("dashboard", sales.admin, period="this_quarter")
    assert figures(r)["won_value"] == Decimal("700.00")
    before = previous(r)
    assert before["won_value"] == Decimal("4100.00")
    assert before["win_rate"] == 71.4
    assert before["average_deal"] == Decimal("1025.00")
    assert before["sales_cycle"] == 18.6
    assert (before["new_leads"], before["lead_conversion"], before["activities_done"]) == (
        3,
        66.7,
        2,
    )

    # This year: all six won (4800 over 5 priced), two lost; 2025 had nothing.
    r = build("dashboard", sales.admin, period="this_year")
    f = figures(r)
    assert (f["won_value"], f["win_rate"], f["average_deal"], f["sales_cycle"]) == (
        Decimal("4800.00"),
        75.0,
        Decimal("960.00"),
        15.8,
    )
    assert previous(r)["win_rate"] is None and previous(r)["won_value"] == Decimal("0.00")
