"""Reports in a real browser: the dashboard's figures for a small, known set of deals, leads
and activities; a figure opens the deals behind it; the period picker (with its custom dates,
shown only when Custom is chosen); every report draws its chart with Chart.js above a table
with the same rows; and nothing trips the strict Content-Security-Policy."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, time, timedelta
from typing import Any

import pytest
from django.utils import timezone
from django_tenants.utils import schema_context

from apps.accounts.models import User
from apps.activities import services as activity_services
from apps.deals import services as deal_services
from apps.deals.models import Deal
from apps.leads import services as lead_services
from apps.leads.conversion import lead_convert
from tenants.provisioning import tenant_provision
from tests.browser.conftest import assert_csp_clean, shot, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.slow]

OWNER = ("ada@engines.test", "analytical-engine-1843")


def _organisation(created: list[str], django_db_blocker: Any) -> dict[str, Any]:
    """An organisation (reporting in USD, its owner in UTC) with, this month: two deals won
    (1,000 and 3,000), one lost (500, for Price), five open (0, 200, 1,500, 800, 600, the
    last three expected to close this month); one deal won last month (700); three new leads
    (two from Referral, one converted into a deal, one from Website); two activities done and
    one overdue."""
    slug = f"reports-{secrets.token_hex(3)}"
    created.append(slug)
    with django_db_blocker.unblock():
        org = tenant_provision(
            slug=slug,
            name="Engines Ltd",
            owner_email=OWNER[0],
            owner_password=OWNER[1],
            owner_name="Ada Lovelace",
            use_pool=False,
        )
        with schema_context(org.tenant.schema_name):
            owner = User.objects.get(email=OWNER[0])
            pipeline = deal_services.pipeline_default()
            stages = {s.name: s for s in pipeline.stages.all()}
            today = timezone.now().date()

            def closed(title: str, value: int, stage: str) -> Deal:
                made = deal_services.deal_create(
                    actor=owner, title=title, value=value, stage=stages["Qualified"]
                )
                reason = "Price" if stage == "Lost" else None
                return deal_services.deal_move(
                    actor=owner, deal=made, stage=stages[stage], lost_reason=reason
                )

            def open_deal(title: str, value: int, stage: str, closes: Any = None) -> None:
                deal_services.deal_create(
                    actor=owner,
                    title=title,
                    value=value,
                    stage=stages[stage],
                    expected_close=closes,
                )

            closed("Difference engine", 1000, "Won")
            closed("Analytical engine", 3000, "Won")
            closed("Loom cards", 500, "Lost")
            open_deal("Bernoulli tables", 200, "Qualified")
            open_deal("Jacquard loom", 1500, "Demo scheduled", today)
            open_deal("Babbage gears", 800, "Proposal made", today)
            open_deal("Napier's bones", 600, "Negotiation", today)
            orrery = closed("Old orrery", 700, "Won")
            # Won in the middle of last month (made three weeks before that): the dates are
            # set on the row, as a deal won back then would have them.
            month_start = today.replace(day=1)
            won_at = datetime.combine(month_start - timedelta(days=10), time(12), tzinfo=UTC)
            Deal.objects.filter(pk=orrery.pk).update(
                won_at=won_at, created_at=won_at - timedelta(days=21)
            )

            referral = lead_services.leadsource_create(actor=owner, name="Referral")
            website = lead_services.leadsource_create(actor=owner, name="Website")
            lead_services.lead_create(
                actor=owner, first_name="Grace", last_name="Hopper", source=referral
            )
            converted = lead_services.lead_create(
                actor=owner,
                first_name="Alan",
                last_name="Turing",
                company_name="Bletchley",
                source=referral,
            )
            lead_convert(  # its deal, "Bombe", opens in Qualified with no value
                actor=owner, lead=converted, create_deal=True, deal={"title": "Bombe"}
            )
            lead_services.lead_create(
                actor=owner, first_name="Charles", last_name="Babbage", source=website
            )

            now = timezone.now()
            activity_services.activity_create(
                actor=owner, type="call", subject="Call Ada", due_at=now, done=True
            )
            activity_services.activity_create(
                actor=owner, type="meeting", subject="Demo", start_at=now, done=True
            )
            activity_services.activity_create(
                actor=owner,
                type="task",
                subject="Send the proposal",
                due_at=now - timedelta(minutes=5),
            )
    return {"tenant": org.tenant, "today": today, "month_start": month_start}


def _figure(page: Any, key: str) -> str:
    return str(page.locator(f'[data-figure="{key}"] .report-figure-value').inner_text()).strip()


def _chart_drawn(page: Any) -> dict[str, Any]:
    """What Chart.js drew: its chart instance's type and data, and how many of the canvas's
    pixels are not transparent."""
    return dict(
        page.evaluate(
            """() => {
              const canvas = document.getElementById('report-chart');
              const chart = window.reportChart;
              const pixels = canvas.getContext('2d')
                .getImageData(0, 0, canvas.width, canvas.height).data;
              let painted = 0;
              for (let i = 3; i < pixels.length; i += 4) if (pixels[i] > 0) painted++;
              return {
                painted,
                type: chart ? chart.config.type : null,
                labels: chart ? chart.data.labels : [],
                datasets: chart ? chart.data.datasets.map(d => [d.label, d.type, d.data]) : [],
                indexAxis: chart ? chart.options.indexAxis : null,
                stacked: chart ? Boolean(chart.options.scales.x.stacked) : null,
                ticks: chart ? chart.scales[chart.options.indexAxis === 'y' ? 'x' : 'y']
                  .ticks.map(t => t.label) : [],
              };
            }"""
        )
    )


def _table(page: Any) -> list[list[str]]:
    rows = page.locator(".report-table tbody tr")
    return [
        [str(cell).strip() for cell in rows.nth(i).locator("td").all_inner_texts()]
        for i in range(rows.count())
    ]


def _listed(page: Any) -> set[str]:
    """The names in a record list (its second column)."""
    return {
        str(text).strip()
        for text in page.locator("#record-table tbody tr td:nth-child(2)").all_inner_texts()
    }


def _show(page: Any, report: str) -> dict[str, Any]:
    """Open a report from the reports' tabs; what its chart drew."""
    page.get_by_role("navigation", name="Reports").get_by_role("link", name=report).click()
    page.get_by_role("heading", level=1, name=report).wait_for()
    page.wait_for_function("() => window.reportChart !== undefined")
    drawn = _chart_drawn(page)
    assert drawn["painted"] > 5000, f"{report}: the chart canvas is blank"
    return drawn


def test_dashboard_figures_periods_and_every_report_chart(
    page: Any, browser: Any, server: str, created: list[str], django_db_blocker: Any
) -> None:
    org = _organisation(created, django_db_blocker)
    today, month_start = org["today"], org["month_start"]
    base = f"http://{org['tenant'].slug}.localhost:{server}"
    sign_in(page, base, *OWNER)

    # The dashboard: this month against last month.
    page.get_by_role("link", name="Reports").click()
    page.wait_for_url(f"{base}/reports/")
    assert _figure(page, "won_value") == "4,000 USD"
    won = page.locator('[data-figure="won_value"]')
    assert "Previous period: 700 USD" in won.inner_text()
    assert "2 deals won in the period" in won.inner_text()
    assert won.locator(".report-change.up").inner_text() == "▲ +471.4%"
    assert _figure(page, "open_pipeline") == "3,100 USD"
    assert _figure(page, "weighted_pipeline") == "1,580 USD"
    assert _figure(page, "win_rate") == "66.7%"
    assert _figure(page, "new_leads") == "3"
    assert _figure(page, "lead_conversion") == "33.3%"
    assert _figure(page, "activities_done") == "2"
    assert _figure(page, "activities_overdue") == "1"
    # The custom dates only show for a custom period.
    assert page.get_by_label("Period").input_value() == "this_month"
    assert (
        page.get_by_label("From", exact=True).is_hidden()
        and page.get_by_label("To", exact=True).is_hidden()
    )
    shot(page, "reports-dashboard")
    assert_csp_clean(page)

    # A figure opens the records behind it: exactly this month's two won deals.
    won.get_by_role("link", name="4,000 USD").click()
    page.wait_for_url(f"{base}/deals/**")
    assert _listed(page) == {"Difference engine", "Analytical engine"}
    page.go_back()

    # Last month: the old orrery alone; a named period sends no dates.
    page.get_by_label("Period").select_option("last_month")
    page.get_by_role("button", name="Show").click()
    page.wait_for_url("**period=last_month**")
    assert "from=" not in page.url and "start=" not in page.url
    assert _figure(page, "won_value") == "700 USD"
    assert page.get_by_label("From", exact=True).is_hidden()

    # Custom: choosing it shows the dates; from mid-last-month to today holds all three wins.
    page.get_by_label("Period").select_option("custom")
    assert (
        page.get_by_label("From", exact=True).is_visible()
        and page.get_by_label("To", exact=True).is_visible()
    )
    page.get_by_label("From", exact=True).fill((month_start - timedelta(days=15)).isoformat())
    page.get_by_label("To", exact=True).fill(today.isoformat())
    page.get_by_role("button", name="Show").click()
    page.wait_for_url("**period=custom**")
    assert _figure(page, "won_value") == "4,700 USD"
    assert page.get_by_label("From", exact=True).is_visible()  # still shown after the reload
    assert (
        page.get_by_label("From", exact=True).input_value()
        == (month_start - timedelta(days=15)).isoformat()
    )
    assert_csp_clean(page)

    # Every report: a chart Chart.js drew, over a table with the same figures.
    page.goto(f"{base}/reports/")
    page.set_viewport_size({"width": 1280, "height": 1000})  # the chart and its table in view
    drawn = _show(page, "Pipeline by stage")
    open_stages = ["Qualified", "Contact made", "Demo scheduled", "Proposal made", "Negotiation"]
    assert drawn["type"] == "bar" and drawn["labels"] == open_stages
    assert drawn["datasets"] == [
        ["Value", "bar", [200, 0, 1500, 800, 600]],
        ["Weighted value", "bar", [20, 0, 600, 480, 480]],
    ]
    assert drawn["ticks"][-1].startswith("$")  # money on the value axis, in USD
    assert _table(page) == [
        ["Qualified", "10.0%", "2", "200 USD", "20 USD"],
        ["Contact made", "20.0%", "0", "0 USD", "0 USD"],
        ["Demo scheduled", "40.0%", "1", "1,500 USD", "600 USD"],
        ["Proposal made", "60.0%", "1", "800 USD", "480 USD"],
        ["Negotiation", "80.0%", "1", "600 USD", "480 USD"],
    ]
    shot(page, "reports-pipeline")

    drawn = _show(page, "Won and lost")
    assert drawn["stacked"] is True
    assert drawn["datasets"] == [["Won", "bar", [2, 0]], ["Lost", "bar", [0, 1]]]
    assert _table(page) == [
        ["Won, or no reason", "2", "4,000 USD", "0", "0 USD", "100.0%"],
        ["Price", "0", "0 USD", "1", "500 USD", "0.0%"],
    ]

    drawn = _show(page, "Lead sources")
    assert drawn["labels"] == ["Referral", "Website"]
    assert drawn["datasets"][0] == ["Leads", "bar", [2, 1]]
    assert _table(page) == [
        ["Referral", "2", "1", "1", "50.0%", "0", "0 USD"],
        ["Website", "1", "0", "0", "0.0%", "0", "0 USD"],
    ]

    drawn = _show(page, "Activities")
    assert drawn["stacked"] is True and drawn["labels"] == ["Call", "Meeting", "Task"]
    assert drawn["datasets"] == [
        ["Done", "bar", [1, 1, 0]],
        ["Open", "bar", [0, 0, 0]],
        ["Overdue", "bar", [0, 0, 1]],
    ]
    assert _table(page) == [
        ["Call", "1", "1", "0", "0", "100.0%"],
        ["Meeting", "1", "1", "0", "0", "100.0%"],
        ["Task", "1", "0", "0", "1", "0.0%"],
    ]

    drawn = _show(page, "Conversion funnel")
    assert drawn["indexAxis"] == "y"  # horizontal bars, widest stage first
    reached = [8, 5, 5, 4, 3, 2]
    assert drawn["labels"] == [*open_stages, "Won"]
    assert drawn["datasets"] == [["Deals", "bar", reached]]
    assert [row[:2] for row in _table(page)] == [
        [stage, str(n)] for stage, n in zip([*open_stages, "Won"], reached, strict=True)
    ]

    drawn = _show(page, "Forecast")
    month = today.strftime("%b %Y")
    assert [d[:2] for d in drawn["datasets"]] == [
        ["Won", "bar"],
        ["Weighted", "bar"],
        ["Best case", "line"],  # drawn as a line over the bars
    ]
    at = drawn["labels"].index(month)
    assert [d[2][at] for d in drawn["datasets"]] == [4000, 1560, 2900]
    rows = {row[0]: row[1:] for row in _table(page)}
    assert rows[month] == ["3", "2,900 USD", "1,560 USD", "2", "4,000 USD", "5,560 USD"]
    assert_csp_clean(page)


def test_custom_dates_work_without_javascript(
    browser: Any, server: str, created: list[str], django_db_blocker: Any
) -> None:
    """Without the script the dates are always there, and a custom period still works."""
    org = _organisation(created, django_db_blocker)
    base = f"http://{org['tenant'].slug}.localhost:{server}"
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    try:
        sign_in(page, base, *OWNER)
        page.goto(f"{base}/reports/")
        assert page.get_by_label("From", exact=True).is_visible()
        page.get_by_label("Period").select_option("custom")
        page.get_by_label("From", exact=True).fill(
            (org["month_start"] - timedelta(days=15)).isoformat()
        )
        page.get_by_label("To", exact=True).fill(org["today"].isoformat())
        page.get_by_role("button", name="Show").click()
        page.wait_for_url("**period=custom**")
        assert _figure(page, "won_value") == "4,700 USD"
        # No script, so no chart: the report's table still has every figure.
        page.goto(f"{base}/reports/won-lost/")
        assert _table(page)[0] == ["Won, or no reason", "2", "4,000 USD", "0", "0 USD", "100.0%"]
    finally:
        context.close()
