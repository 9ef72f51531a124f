"""The same data seen by an admin, a rep and the rep's manager: each sees exactly what the
lists show them (see tests/reports/conftest.py for the `sales` fixture)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django_tenants.utils import schema_context

from apps.accounts.models import User
from tests.conftest import BETA
from tests.reports.conftest import build, client_as, figures, links, list_titles, previous


def test_rep_sees_own_and_shared_deals_admin_sees_all(sales: Any) -> None:
    admin = figures(build("dashboard", sales.admin, period="last_month"))
    rep = figures(build("dashboard", sales.rep, period="last_month"))
    # Admin: every deal (worked out in test_figures_dashboard).
    assert admin["open_pipeline"] == Decimal("3850.00")
    assert admin["won_value"] == Decimal("3500.00")
    assert admin["win_rate"] == 80.0
    # Rep: own India (1000, 10 %) and Lima, shared with them (400, 40 %), open; own Acme,
    # Bravo and Echo won in March (1000 + 2200 + 300), nothing lost; own leads L1, L2; own
    # activities A1 (done) and A3 (overdue).
    assert rep == {
        "open_pipeline": Decimal("1400.00"),
        "weighted_pipeline": Decimal("260.00"),
        "won_value": Decimal("3500.00"),
        "win_rate": 100.0,
        "average_deal": Decimal("1166.67"),
        "sales_cycle": 25.3,  # (14 + 10 + 52) / 3
        "new_leads": 2,
        "lead_conversion": 50.0,
        "activities_done": 1,
        "activities_overdue": 1,
    }
    # February for the rep: Golf won (600); Foxtrot (rep2's) is not theirs; L3 neither.
    rep_before = previous(build("dashboard", sales.rep, period="last_month"))
    assert rep_before["won_value"] == Decimal("600.00")
    assert rep_before["win_rate"] == 100.0
    assert rep_before["new_leads"] == 0
    assert rep_before["lead_conversion"] is None
    assert rep_before["activities_done"] == 0
    # The rep's links show the rep the same deals.
    report = build("dashboard", sales.rep, period="last_month")
    assert report.notes == []
    client = client_as(sales.tenant, sales.rep)
    assert list_titles(client, links(report)["open_pipeline"]) == ["India", "Lima"]
    assert list_titles(client, links(report)["won_value"]) == ["Acme", "Bravo", "Echo"]


def test_pipeline_and_won_lost_for_a_rep_and_an_admin(sales: Any) -> None:
    assert figures(build("pipeline", sales.admin)) == {
        "deals": 4,
        "value": Decimal("3600.00"),
        "weighted": Decimal("1360.00"),
    }
    assert figures(build("pipeline", sales.rep)) == {
        "deals": 2,  # India, Lima (shared)
        "value": Decimal("1400.00"),
        "weighted": Decimal("260.00"),
    }
    assert figures(build("won-lost", sales.admin, period="last_month")) == {
        "won": 4,
        "lost": 1,
        "won_value": Decimal("3500.00"),
        "win_rate": 80.0,
    }
    assert figures(build("won-lost", sales.rep, period="last_month")) == {
        "won": 3,
        "lost": 0,
        "won_value": Decimal("3500.00"),
        "win_rate": 100.0,
    }
    # A rep filtering on someone else sees only what is shared with them.
    assert figures(build("pipeline", sales.rep, owner=str(sales.rep2.pk)))["deals"] == 1  # Lima
    # Read-only members see everything, like admins.
    assert figures(build("pipeline", sales.readonly)) == figures(build("pipeline", sales.admin))


def test_manager_sees_their_teams_records(sales: Any) -> None:
    # The manager's team is the manager and rep: rep's records, but not Lima (shared with
    # the rep personally, owned by rep2, who is in no team of theirs).
    m = figures(build("dashboard", sales.manager, period="last_month"))
    assert m["open_pipeline"] == Decimal("1000.00")
    assert m["weighted_pipeline"] == Decimal("100.00")
    assert m["won_value"] == Decimal("3500.00")
    assert m["win_rate"] == 100.0
    assert m["new_leads"] == 2
    assert m["activities_done"] == 1 and m["activities_overdue"] == 1
    assert figures(build("pipeline", sales.manager)) == {
        "deals": 1,
        "value": Decimal("1000.00"),
        "weighted": Decimal("100.00"),
    }
    assert figures(build("won-lost", sales.manager, period="last_month"))["won"] == 3


@pytest.mark.parametrize(
    "name",
    [
        "dashboard",
        "pipeline-by-stage",
        "won-lost",
        "lead-sources",
        "activities",
        "funnel",
        "forecast",
    ],
)
def test_another_organisation_sees_none_of_these_records(
    sales: Any, tenant_b: Any, name: str
) -> None:
    with schema_context(tenant_b.schema_name):
        owner_b = User.objects.get(email=BETA.owner_email)
        r = build(name, owner_b, period="this_year")
        # Organisation B has no deals, leads or activities: every count and sum is nothing.
        for figure in r.figures:
            assert figure.value in (0, Decimal("0.00"), None), (name, figure.key, figure.value)
        assert r.notes == []
