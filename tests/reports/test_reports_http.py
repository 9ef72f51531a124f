"""The reports over HTTP: the web pages and the JSON API show what the registry builds, name a
bad filter, respect API key scopes, and a change to the records shows on the next load even
though reports are cached."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.apikeys.services import api_key_create
from apps.audit.models import AuditEntry
from apps.deals.models import Deal, Stage, StageKind
from apps.deals.services import (
    deal_create,
    deal_move,
    deal_share,
    pipeline_default,
    stage_delete,
)
from apps.reports import registry
from apps.reports.models import ExchangeRate
from tests.conftest import ALPHA, PASSWORD, login
from tests.deals.conftest import ctx, people  # noqa: F401
from tests.notifications.conftest import SchemaKeepingClient

NAMES = [
    "dashboard",
    "pipeline-by-stage",
    "won-lost",
    "lead-sources",
    "activities",
    "funnel",
    "forecast",
]


def _figure(data: dict[str, Any], key: str) -> Any:
    return next(f["value"] for f in data["figures"] if f["key"] == key)


def _won(owner: Any, title: str, value: str, currency: str = "USD") -> Deal:
    pipeline = pipeline_default()
    deal = deal_create(actor=owner, title=title, value=value, currency=currency, pipeline=pipeline)
    won = Stage.objects.get(pipeline=pipeline, kind=StageKind.WON)
    return deal_move(actor=owner, deal=deal, stage=won)


def tenant_client(tenant: Any) -> SchemaKeepingClient:
    return SchemaKeepingClient(HTTP_HOST=f"{tenant.slug}.localhost")


def _key_client(tenant: Any, owner: Any, scopes: str) -> SchemaKeepingClient:
    secret = api_key_create(
        name=f"reports {scopes}", role="admin", scopes=scopes, created_by=owner
    ).secret
    return SchemaKeepingClient(
        HTTP_HOST=f"{tenant.slug}.localhost", HTTP_AUTHORIZATION=f"Bearer {secret}"
    )


def test_the_api_lists_every_report_and_serves_each_as_json(ctx, people) -> None:  # noqa: F811
    _won(people.owner, "Won deal", "1200")
    client = login(tenant_client(ctx.tenant), ctx.tenant, ALPHA.owner_email)
    listed = client.get("/api/v1/reports/").json()["results"]
    assert [r["name"] for r in listed] == NAMES
    for name in NAMES:
        data = client.get(f"/api/v1/reports/{name}/?period=this_year").json()
        assert data["name"] == name
        assert data["currency"] == "USD"
    dashboard = client.get("/api/v1/reports/dashboard/").json()
    assert _figure(dashboard, "won_value") == "1200.00"
    assert dashboard["period"]["key"] == "this_month"


def test_a_bad_filter_is_named_in_the_error_envelope(ctx, people) -> None:  # noqa: F811
    client = login(tenant_client(ctx.tenant), ctx.tenant, ALPHA.owner_email)
    bad = client.get("/api/v1/reports/dashboard/?period=fortnight")
    assert bad.status_code == 400
    assert "fortnight" in str(bad.json())
    bad = client.get("/api/v1/reports/funnel/?period=custom&start=2026-05-01&end=2026-04-01")
    assert bad.status_code == 400 and "before its first day" in str(bad.json())
    assert client.get("/api/v1/reports/no-such-report/").status_code == 404
    page = client.get("/reports/won-lost/?group=colour")
    assert page.status_code == 400
    assert "Unknown grouping" in page.content.decode()


def test_api_key_scopes_decide_who_reads_reports(ctx, people) -> None:  # noqa: F811
    deals_only = _key_client(ctx.tenant, people.owner, "deals:read")
    assert deals_only.get("/api/v1/reports/dashboard/").status_code == 403
    reports = _key_client(ctx.tenant, people.owner, "reports:read")
    assert reports.get("/api/v1/reports/dashboard/").status_code == 200
    assert tenant_client(ctx.tenant).get("/api/v1/reports/").status_code == 401


def test_the_web_pages_show_figures_tables_and_links(ctx, people) -> None:  # noqa: F811
    _won(people.owner, "Globex renewal", "4321")
    client = login(tenant_client(ctx.tenant), ctx.tenant, ALPHA.owner_email)
    page = client.get("/reports/").content.decode()
    assert "Sales dashboard" in page
    assert "4,321 USD" in page
    assert "/deals/?status=won&amp;won_at__gte=" in page
    for name in NAMES[1:]:
        response = client.get(f"/reports/{name}/?period=this_year")
        assert response.status_code == 200, name
        assert 'id="report-chart-data"' in response.content.decode(), name
    assert client.get("/reports/dashboard/").status_code == 302
    # Signed out: the sign-in page, not the figures.
    assert tenant_client(ctx.tenant).get("/reports/").status_code == 302


def test_a_figure_link_lists_exactly_the_deals_behind_it(ctx, people) -> None:  # noqa: F811
    _won(people.owner, "Counted one", "100")
    _won(people.owner, "Counted two", "200")
    deal_create(actor=people.owner, title="Still open", value="999")
    client = login(tenant_client(ctx.tenant), ctx.tenant, ALPHA.owner_email)
    data = client.get("/api/v1/reports/dashboard/").json()
    link = next(f["link"] for f in data["figures"] if f["key"] == "won_value")
    page = client.get(link).content.decode()
    assert "Counted one" in page and "Counted two" in page and "Still open" not in page


def test_a_change_shows_on_the_next_load_although_reports_are_cached(ctx, people) -> None:  # noqa: F811
    client = login(tenant_client(ctx.tenant), ctx.tenant, ALPHA.owner_email)
    _won(people.owner, "First", "100")
    assert _figure(client.get("/api/v1/reports/dashboard/").json(), "won_value") == "100.00"
    # A second load comes from the cache: it reads no deal.
    with CaptureQueriesContext(connection) as queries:
        assert _figure(client.get("/api/v1/reports/dashboard/").json(), "won_value") == "100.00"
    assert not [q for q in queries.captured_queries if "deals_deal" in q["sql"]]
    _won(people.owner, "Second", "50")
    assert _figure(client.get("/api/v1/reports/dashboard/").json(), "won_value") == "150.00"
    # A rate for a currency that had none converts its deals on the next load.
    _won(people.owner, "Euro deal", "10", currency="EUR")
    data = client.get("/api/v1/reports/dashboard/").json()
    assert _figure(data, "won_value") == "150.00"
    assert any("EUR" in note for note in data["notes"])
    ExchangeRate.objects.create(currency="EUR", rate=Decimal("2"))
    assert _figure(client.get("/api/v1/reports/dashboard/").json(), "won_value") == "170.00"


def test_a_bulk_move_without_signals_still_refreshes_the_cache(ctx, people) -> None:  # noqa: F811
    pipeline = pipeline_default()
    first, second = Stage.objects.filter(pipeline=pipeline, kind=StageKind.OPEN).order_by("order")[
        :2
    ]
    deal_create(actor=people.owner, title="Mover", value="70", stage=first)
    before = registry.build("pipeline", people.owner, {})
    assert before.table is not None and before.table.rows[0]["deals"] == 1
    # Deleting a stage moves its deals with one bulk update.
    stage_delete(actor=people.owner, stage=first, move_to=second)
    after = registry.build("pipeline", people.owner, {})
    assert after.table is not None
    assert [r["deals"] for r in after.table.rows if r["stage"] == second.name] == [1]


def test_currencies_are_admin_only_validated_and_audited(ctx, people) -> None:  # noqa: F811
    rep = login(tenant_client(ctx.tenant), ctx.tenant, people.rep.email, PASSWORD)
    assert rep.get("/settings/currencies/").status_code == 403
    owner = login(tenant_client(ctx.tenant), ctx.tenant, ALPHA.owner_email)
    assert "No exchange rates yet" in owner.get("/settings/currencies/").content.decode()
    bad = owner.post("/settings/currencies/", {"action": "rate", "currency": "EU", "rate": "1"})
    assert bad.status_code == 400 and "not a currency code" in bad.content.decode()
    bad = owner.post("/settings/currencies/", {"action": "rate", "currency": "EUR", "rate": "-2"})
    assert bad.status_code == 400 and "positive number" in bad.content.decode()
    bad = owner.post("/settings/currencies/", {"action": "rate", "currency": "USD", "rate": "2"})
    assert "is the reporting currency" in bad.content.decode()
    assert (
        owner.post(
            "/settings/currencies/", {"action": "rate", "currency": "eur", "rate": "1,1"}
        ).status_code
        == 302
    )
    assert ExchangeRate.objects.get(currency="EUR").rate == Decimal("1.1")
    assert AuditEntry.objects.filter(action="reports.rate_set").exists()
    owner.post("/settings/currencies/", {"action": "base", "base_currency": "EUR"})
    assert registry.build("dashboard", people.owner, {}).currency == "EUR"
    # The new base currency needs no rate of its own.
    assert not ExchangeRate.objects.filter(currency="EUR").exists()
    owner.post("/settings/currencies/", {"action": "rate", "currency": "USD", "rate": "0.9"})
    owner.post("/settings/currencies/", {"action": "delete", "currency": "USD"})
    assert not ExchangeRate.objects.exists()


@pytest.mark.parametrize("name", NAMES)
def test_every_report_renders_when_there_is_nothing_to_report(ctx, people, name) -> None:  # noqa: F811
    client = login(tenant_client(ctx.tenant), ctx.tenant, ALPHA.owner_email)
    response = client.get(f"/reports/{name}/" if name != "dashboard" else "/reports/")
    assert response.status_code == 200
    data = client.get(f"/api/v1/reports/{name}/").json()
    assert data["name"] == name


def test_from_and_to_choose_a_custom_period(ctx, people) -> None:  # noqa: F811
    client = login(tenant_client(ctx.tenant), ctx.tenant, ALPHA.owner_email)
    data = client.get("/api/v1/reports/won-lost/?from=2026-01-05&to=2026-02-04").json()
    assert data["period"]["key"] == "custom"
    assert (data["period"]["from"], data["period"]["to"]) == ("2026-01-05", "2026-02-04")
    # The previous period is as long, just before.
    assert (data["previous_period"]["from"], data["previous_period"]["to"]) == (
        "2025-12-05",
        "2026-01-04",
    )
    bad = client.get("/api/v1/reports/won-lost/?from=5%20January")
    assert bad.status_code == 400
    assert "'5 January' is not the first day of the period as a date" in str(bad.json())


def test_the_api_answers_a_report_as_csv(ctx, people) -> None:  # noqa: F811
    _won(people.owner, "Csv deal", "321")
    client = login(tenant_client(ctx.tenant), ctx.tenant, ALPHA.owner_email)
    response = client.get("/api/v1/reports/won-lost/csv/?group=owner")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    text = response.content.decode("utf-8-sig")
    assert text.splitlines()[0].startswith("Owner,Won,Won value")
    assert "321" in text


def test_sharing_and_role_permissions_change_a_cached_report_at_once(ctx, people) -> None:  # noqa: F811
    from django.contrib.auth.models import Group

    from apps.accounts.models import User
    from apps.accounts.roles import Role
    from apps.accounts.services import role_set_permissions

    deal = _won(people.owner, "Shared win", "500")
    rep = login(tenant_client(ctx.tenant), ctx.tenant, people.rep.email, PASSWORD)
    assert _figure(rep.get("/api/v1/reports/dashboard/").json(), "won_value") == "0.00"
    deal_share(actor=people.owner, deal=deal, user=User.objects.get(pk=people.rep.pk), level="view")
    assert _figure(rep.get("/api/v1/reports/dashboard/").json(), "won_value") == "500.00"
    # A role without "view deal" sees no deal in any report, from the next load on.
    rep_group = Group.objects.get(name="Sales rep")
    keep = set(rep_group.permissions.exclude(codename="view_deal").values_list("pk", flat=True))
    role_set_permissions(role=Role.REP, permission_ids=keep, actor=None)
    assert _figure(rep.get("/api/v1/reports/dashboard/").json(), "won_value") == "0.00"
    # A sign-in alone does not throw the organisation's cached reports away.
    owner = login(tenant_client(ctx.tenant), ctx.tenant, ALPHA.owner_email)
    owner.get("/api/v1/reports/dashboard/")
    with CaptureQueriesContext(connection) as queries:
        login(tenant_client(ctx.tenant), ctx.tenant, ALPHA.owner_email)
        owner.get("/api/v1/reports/dashboard/")
    assert not [q for q in queries.captured_queries if "deals_deal" in q["sql"]]
