"""Report emails in a real browser: from a report, 'Email me this' opens the form filled in
with that report; subscribing lists it with its schedule; 'Send now' queues it, and once the
reports queue has run it, the page says it was sent. Nothing trips the strict CSP."""

from __future__ import annotations

import secrets
from typing import Any

import pytest
from django_tenants.utils import schema_context

from apps.accounts.models import User
from apps.deals import services as deal_services
from apps.reports.models import RunStatus, Subscription
from apps.reports.tasks import deliver_subscriptions
from tenants.provisioning import tenant_provision
from tests.browser.conftest import assert_csp_clean, shot, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.slow]

OWNER = ("grace@compilers.test", "cobol-and-moths-1947")


def test_subscribe_from_a_report_send_now_and_see_it_sent(
    page: Any, server: str, created: list[str], django_db_blocker: Any
) -> None:
    slug = f"subs-{secrets.token_hex(3)}"
    created.append(slug)
    with django_db_blocker.unblock():
        org = tenant_provision(
            slug=slug,
            name="Compilers Inc",
            owner_email=OWNER[0],
            owner_password=OWNER[1],
            owner_name="Grace Hopper",
            use_pool=False,
        )
        with schema_context(org.tenant.schema_name):
            owner = User.objects.get(email=OWNER[0])
            deal_services.pipeline_default()
            deal_services.deal_create(actor=owner, title="Mainframe", value=4200)
    base = f"http://{slug}.localhost:{server}"
    sign_in(page, base, *OWNER)

    page.goto(f"{base}/reports/subscriptions/")
    assert page.get_by_role("heading", name="No report emails yet").is_visible()

    page.goto(f"{base}/reports/pipeline-by-stage/")
    page.get_by_role("link", name="Email me this").click()
    assert page.get_by_label("Report").input_value() == "pipeline-by-stage"
    page.get_by_label("How often").select_option("weekly")
    page.get_by_label("Day of the week").select_option("0")
    page.get_by_label("At").select_option("8")
    shot(page, "report-subscription-form")
    page.get_by_role("button", name="Subscribe").click()

    page.wait_for_url(f"{base}/reports/subscriptions/")
    row = page.locator("table.report-subscriptions tbody tr")
    assert row.count() == 1
    assert "Pipeline by stage" in row.inner_text()
    assert "Every Monday at 08:00 (UTC)" in row.inner_text()
    assert "Not sent yet" in row.inner_text()

    row.get_by_role("button", name="Send now").click()
    assert page.get_by_text("it will be in your inbox in a minute").is_visible()

    # The reports queue's delivery (run here in-process, as beat would have it sent).
    with django_db_blocker.unblock(), schema_context(org.tenant.schema_name):
        assert deliver_subscriptions() == 1
        assert Subscription.objects.get().last_status == RunStatus.SENT
    page.reload()
    row = page.locator("table.report-subscriptions tbody tr")
    assert "Sent" in row.locator(".subscription-status").inner_text()
    shot(page, "report-subscriptions")
    assert_csp_clean(page)
