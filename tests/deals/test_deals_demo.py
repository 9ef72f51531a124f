"""The demo deals: two pipelines, deals in every stage of the default one, rotting, won and
lost ones with reasons; seeding twice changes nothing."""

from __future__ import annotations

from typing import Any

import pytest

from apps.deals import selectors
from apps.deals.demo import DEALS, seed_deals
from apps.deals.models import Deal, Pipeline

pytestmark = pytest.mark.django_db


def test_seed_deals_is_idempotent_and_covers_the_board(ctx: Any) -> None:
    seed_deals()
    seed_deals()
    assert Deal.objects.count() == len(DEALS)
    sales = Pipeline.objects.get(is_default=True)
    assert sales.name == "Sales" and Pipeline.objects.filter(name="Partnerships").exists()
    assert set(Deal.objects.filter(pipeline=sales).values_list("stage__name", flat=True)) == {
        s.name for s in sales.stages.all()
    }
    assert Deal.objects.filter(status="won", won_at__isnull=False).count() >= 3
    lost = Deal.objects.filter(status="lost")
    assert lost.exists() and all(d.lost_reason for d in lost)
    assert any(selectors.is_rotting(d) for d in Deal.objects.select_related("stage"))
    assert {"USD", "EUR", "GBP"} <= set(Deal.objects.values_list("currency", flat=True))
    assert all(d.custom_fields.get("source") for d in Deal.objects.all())
