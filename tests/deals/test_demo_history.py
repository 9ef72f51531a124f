"""The demo's sales history: a year of closed deals, leads and activities, so the reports show
trends the moment the demo opens: this month and last month both have won deals, the sales
cycle and the time in each stage are real durations, the forecast has won months behind and
weighted months ahead; the dates agree with each other; seeding twice adds nothing, and
another organisation sees none of it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from itertools import pairwise
from typing import Any

import pytest
from django.utils import timezone
from django_tenants.utils import schema_context

from apps.accounts.models import User
from apps.activities.models import Activity
from apps.deals.demo_history import MARK, seed_sales_history
from apps.deals.models import Deal, DealStageChange
from apps.leads.models import Lead
from apps.notifications.demo import DEMO_OWNER
from apps.reports.registry import build
from tenants.models import Tenant
from tests.conftest import DemoOrg

pytestmark = pytest.mark.django_db


def _figures(user: Any, report: str, **params: Any) -> dict[str, Any]:
    return {f.key: f for f in build(report, user, params, cached=False).figures}


def _rows(user: Any, report: str, **params: Any) -> list[dict[str, Any]]:
    table = build(report, user, params, cached=False).table
    assert table is not None
    return list(table.rows)


def _counts() -> tuple[int, int, int, int]:
    return (
        Deal.objects.count(),
        DealStageChange.objects.count(),
        Lead.all_objects.count(),
        Activity.objects.count(),
    )


@pytest.fixture
def demo_owner(db: None, demo_org: DemoOrg) -> Iterator[User]:
    """The demo's owner, in the demo organisation's schema: `seed_demo` (run once by demo_org)
    seeded its team, board, leads and the year of history."""
    with schema_context(demo_org.tenant.schema_name):
        yield User.objects.get(email=DEMO_OWNER)


def test_history_fills_the_reports_and_is_seeded_once(demo_owner: User, tenant_b: Tenant) -> None:
    owner = demo_owner

    # The dashboard: won deals this month and last month, a sales cycle of days.
    this_month = _figures(owner, "dashboard", period="this_month")
    last_month = _figures(owner, "dashboard", period="last_month")
    for figures in (this_month, last_month):
        assert figures["won_value"].value > 0
        assert figures["sales_cycle"].value > 0
        assert figures["new_leads"].value > 0
        assert figures["activities_done"].value > 0
    assert this_month["won_value"].previous == last_month["won_value"].value
    assert this_month["sales_cycle"].previous > 0

    # The funnel shows how long deals stayed in each stage; the forecast has what was won
    # behind and weighted open deals ahead.
    funnel = _rows(owner, "funnel", period="this_year")
    days = [row["days_in_stage"] for row in funnel if row["stage"] != "Won"]
    assert all(d is not None and d > 0 for d in days)
    today = timezone.localdate()
    behind = _rows(
        owner, "forecast", period="custom", start=str(today - timedelta(days=300)), end=str(today)
    )
    assert len([row for row in behind if row["won"] > 0]) >= 9
    ahead = _rows(
        owner, "forecast", period="custom", start=str(today), end=str(today + timedelta(days=90))
    )
    assert len([row for row in ahead if row["weighted"] > 0]) >= 2

    # Closed deals through the year, won and lost with reasons, some reopened then won,
    # some in euros and pounds; every deal's dates agree with its stage history.
    history = Deal.objects.filter(external_id__startswith=MARK)
    closed = history.exclude(status="open")
    assert 60 <= closed.count() <= 95
    assert all(d.lost_reason_id for d in history.filter(status="lost"))
    assert {"EUR", "GBP"} <= set(history.values_list("currency", flat=True))
    reopened = history.filter(status="won", stage_changes__from_stage__kind="lost").distinct()
    assert reopened.count() >= 2
    assert history.filter(status="open", expected_close__gt=today).count() >= 10
    for deal in history:
        moves = list(deal.stage_changes.order_by("changed_at", "pk"))
        assert moves[0].changed_at == deal.created_at
        assert moves[-1].changed_at == deal.stage_entered_at
        assert moves[-1].to_stage_id == deal.stage_id
        for before, after in pairwise(moves):
            assert after.seconds_in_previous == int(
                (after.changed_at - before.changed_at).total_seconds()
            )
        if deal.status == "won":
            assert deal.won_at == deal.stage_entered_at and deal.lost_at is None
        if deal.status == "lost":
            assert deal.lost_at == deal.stage_entered_at and deal.won_at is None

    # Leads across the months, some converted into deals that were won; activities done
    # with outcomes over the year, and a few overdue.
    leads = Lead.all_objects.filter(external_id__startswith=MARK)
    assert 60 <= leads.count() <= 100
    months = {lead.created_at.strftime("%Y-%m") for lead in leads}
    assert len(months) >= 12
    assert leads.exclude(utm_campaign="").exists()
    converted = leads.filter(converted_deal__isnull=False)
    assert converted.filter(converted_deal__status="won").exists()
    for lead in converted.select_related("converted_deal"):
        assert lead.converted_at is not None and lead.converted_at >= lead.created_at
        assert lead.converted_deal is not None
        assert lead.converted_deal.created_at == lead.converted_at
    activities = Activity.objects.filter(external_id__startswith=MARK)
    assert 120 <= activities.count() <= 200
    done = activities.filter(done=True)
    assert done.exclude(outcome="").count() == done.count() > 100
    assert len({f"{a.done_at:%Y-%m}" for a in done}) >= 10
    assert activities.filter(done=False, scheduled_at__lt=timezone.now()).count() >= 5

    # The board's deals were opened before they entered their stage, and closed when they
    # entered Won or Lost.
    for deal in Deal.objects.exclude(external_id__startswith=MARK):
        assert deal.stage_entered_at is not None
        assert deal.created_at <= deal.stage_entered_at + timedelta(seconds=1)
        assert deal.status != "won" or deal.won_at == deal.stage_entered_at
        assert deal.status != "lost" or deal.lost_at == deal.stage_entered_at

    # Seeding again adds nothing.
    counts = _counts()
    seed_sales_history()
    assert _counts() == counts

    # Another organisation has none of it.
    with schema_context(tenant_b.schema_name):
        assert not Deal.objects.filter(external_id__startswith=MARK).exists()
        assert not Lead.all_objects.exists()
