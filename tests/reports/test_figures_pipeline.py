"""Pipeline by stage against figures worked out by hand on the `sales` fixture (see
tests/reports/conftest.py)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import ValidationError

from tests.reports.conftest import build, client_as, figures, list_titles, rows

STAGES = ["Qualified", "Contact made", "Demo scheduled", "Proposal made", "Negotiation"]


def row(stage: str, probability: int, deals: int, value: str, weighted: str) -> dict[str, Any]:
    return {
        "stage": stage,
        "probability": probability,
        "deals": deals,
        "value": Decimal(value),
        "weighted": Decimal(weighted),
    }


def test_pipeline_by_stage_for_an_admin(sales: Any) -> None:
    r = build("pipeline", sales.admin)
    # Open deals of the default pipeline (Sales) now; Mike is in Partners.
    assert rows(r) == [
        row("Qualified", 10, 1, "1000.00", "100.00"),  # India
        row("Contact made", 20, 0, "0.00", "0.00"),
        row("Demo scheduled", 40, 1, "400.00", "160.00"),  # Lima
        # Juliet: 2000 EUR = 2200 USD, at its own 50 %.
        row("Proposal made", 60, 1, "2200.00", "1100.00"),
        # Kilo: 100 GBP, no rate: counted, not summed.
        row("Negotiation", 80, 1, "0.00", "0.00"),
    ]
    assert r.table is not None and r.table.totals == {
        "stage": "Total",
        "deals": 4,
        "value": Decimal("3600.00"),
        "weighted": Decimal("1360.00"),
    }
    assert figures(r) == {
        "deals": 4,
        "value": Decimal("3600.00"),
        "weighted": Decimal("1360.00"),
    }
    assert r.notes == [
        "1 deal in GBP is not included in money figures: there is no exchange rate from GBP "
        "to USD (Settings → Currencies)."
    ]
    assert r.chart is not None and r.chart.labels == STAGES
    assert r.chart.series[0].values == [1000.0, 0.0, 400.0, 2200.0, 0.0]
    # Each stage's cells open that stage's open deals; the figures all of them.
    client = client_as(sales.tenant, sales.admin)
    assert [list_titles(client, cells["deals"]) for cells in r.table.links] == [
        ["India"],
        [],
        ["Lima"],
        ["Juliet"],
        ["Kilo"],
    ]
    assert list_titles(client, r.figures[0].link) == ["India", "Juliet", "Kilo", "Lima"]


def test_pipeline_of_another_pipeline_and_filters(sales: Any) -> None:
    r = build("pipeline", sales.admin, pipeline=str(sales.partners.pk))
    assert rows(r) == [row("Intro", 50, 1, "250.00", "125.00")]  # Mike
    r = build("pipeline", sales.admin, owner=str(sales.rep2.pk))
    # rep2's open Sales deals: Lima and Juliet.
    assert [x["deals"] for x in rows(r)] == [0, 0, 1, 1, 0]
    assert figures(r) == {
        "deals": 2,
        "value": Decimal("2600.00"),
        "weighted": Decimal("1260.00"),
    }
    assert r.notes == []
    r = build("pipeline", sales.admin, team=str(sales.team.pk))
    assert figures(r) == {"deals": 1, "value": Decimal("1000.00"), "weighted": Decimal("100.00")}


def test_pipeline_refuses_a_pipeline_that_does_not_exist(sales: Any) -> None:
    with pytest.raises(ValidationError) as raised:
        build("pipeline", sales.admin, pipeline="424242")
    assert raised.value.message_dict == {"pipeline": ["There is no pipeline with id 424242."]}
