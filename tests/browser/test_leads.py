"""A lead's whole journey in a real browser: a visitor fills in the website's form (once with a
mistake), the lead arrives with its campaign, and the owner converts it into a contact with a
deal."""

from __future__ import annotations

import re
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from django_tenants.utils import schema_context

from apps.accounts.models import User
from apps.leads.models import Lead
from apps.leads.webforms import webform_create
from tenants.provisioning import tenant_provision
from tests.browser.conftest import assert_csp_clean, shot, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.slow]

OWNER = ("grace@hopper.test", "cobol-compiler-1959")


def _organisation_with_form(created: list[str], django_db_blocker: Any) -> tuple[Any, str]:
    slug = f"hopper-{secrets.token_hex(3)}"
    created.append(slug)
    with django_db_blocker.unblock():
        org = tenant_provision(
            slug=slug,
            name="Hopper Labs",
            owner_email=OWNER[0],
            owner_password=OWNER[1],
            owner_name="Grace Hopper",
            use_pool=False,
        )
        with schema_context(org.tenant.schema_name):
            owner = User.objects.get(email=OWNER[0])
            form = webform_create(
                actor=owner,
                name="Contact us",
                title="Talk to our sales team",
                intro="We answer within a day.",
                fields=[
                    {"target": "first_name", "label": "First name", "required": True},
                    {"target": "last_name", "label": "Last name"},
                    {"target": "email", "label": "Work email", "required": True},
                    {"target": "company_name", "label": "Company"},
                ],
                thank_you_message="Thanks! A human will write back today.",
            )
    return org, form.public_id


def test_web_form_lead_converted_into_contact_with_deal(
    page: Any, server: str, created: list[str], django_db_blocker: Any
) -> None:
    org, public_id = _organisation_with_form(created, django_db_blocker)
    base = f"http://{org.tenant.slug}.localhost:{server}"

    # A visitor arrives from the spring newsletter and forgets their email.
    page.goto(
        f"{base}/f/{public_id}/?utm_source=newsletter&utm_medium=email&utm_campaign=spring-sale"
    )
    assert page.get_by_role("heading", name="Talk to our sales team").is_visible()
    # The honeypot is out of sight (moved off the page by the stylesheet).
    box = page.locator(".hp-field").bounding_box()
    assert box is not None and box["x"] + box["width"] <= 0
    page.get_by_label("First name").fill("Katherine")
    page.get_by_label("Last name").fill("Johnson")
    page.get_by_label("Company").fill("Langley Research")
    page.get_by_role("button", name="Send").click()
    page.wait_for_load_state()
    email_field = page.locator(".field").filter(has=page.get_by_label("Work email"))
    assert "This field is required." in email_field.inner_text()
    assert page.get_by_label("First name").input_value() == "Katherine"
    assert page.get_by_label("Company").input_value() == "Langley Research"
    assert_csp_clean(page)
    shot(page, "webform")
    page.get_by_label("Work email").fill("katherine@langley.example")
    page.get_by_role("button", name="Send").click()
    page.get_by_text("Thanks! A human will write back today.").wait_for()
    assert_csp_clean(page)
    with django_db_blocker.unblock(), schema_context(org.tenant.schema_name):
        lead = Lead.objects.get()
        assert lead.utm_campaign == "spring-sale" and lead.utm_source == "newsletter"

    # The owner finds the lead by its campaign.
    sign_in(page, base, OWNER[0], OWNER[1])
    page.goto(f"{base}/leads/?utm_campaign=spring-sale")
    page.get_by_role("link", name="Katherine Johnson").click()
    page.wait_for_url(re.compile(r"/leads/\d+/$"))
    assert page.locator("dt:text-is('UTM campaign') + dd").inner_text() == "spring-sale"
    assert_csp_clean(page)
    shot(page, "leads-detail")

    # Convert it into a contact, a new company and a deal.
    page.get_by_role("link", name="Convert").click()
    page.wait_for_url(re.compile(r"/leads/\d+/convert/$"))
    assert page.get_by_label("Create a new contact: Katherine Johnson").is_checked()
    assert page.get_by_label("Create a new company: Langley Research").is_checked()
    page.get_by_label("Create a deal").check()
    page.get_by_label("Deal title").fill("Langley: trajectory software")
    page.get_by_label("Value").fill("25000")
    assert_csp_clean(page)
    shot(page, "lead-convert")
    page.get_by_role("button", name="Convert").click()

    # Landed on the new contact, with the deal one click away.
    page.wait_for_url(re.compile(r"/contacts/\d+/$"))
    assert page.get_by_role("heading", name="Katherine Johnson").is_visible()
    assert page.get_by_text("Converted Katherine Johnson into this contact.").is_visible()
    deal_link = page.get_by_role("link", name="Langley: trajectory software")
    assert deal_link.first.is_visible()
    assert page.get_by_role("link", name="Langley Research").first.is_visible()
    assert page.get_by_text("From lead Katherine Johnson: Created").is_visible()
    assert_csp_clean(page)
    deal_link.first.click()
    page.wait_for_url(re.compile(r"/deals/\d+/$"))
    assert page.get_by_role("heading", name="Langley: trajectory software").is_visible()
    assert_csp_clean(page)

    # The form's page in Settings counts the submission and gives the embed code.
    page.goto(f"{base}/settings/web-forms/")
    page.get_by_role("link", name="Contact us").click()
    assert "1 submission" in page.locator(".webform-embed").inner_text()
    snippet = page.get_by_label(re.compile("Embed code"))
    assert f"/f/{public_id}/" in snippet.input_value()
    assert_csp_clean(page)
    shot(page, "webform-builder")


def test_embedded_form_works_inside_another_site(
    page: Any, server: str, created: list[str], django_db_blocker: Any
) -> None:
    """The embed code on the organisation's own website (another site): the framed form
    loads, takes a submission without any cookie, and records the embedding page's campaign
    and address."""
    from apps.leads.web.settings_views import _snippet

    org, public_id = _organisation_with_form(created, django_db_blocker)
    hosted = f"http://{org.tenant.slug}.localhost:{server}/f/{public_id}/"
    html = f"<!doctype html><title>Customer</title><h1>Our product</h1>{_snippet(hosted)}"
    with _website(html) as site:
        landing = f"{site}/pricing?utm_source=ads&utm_campaign=embed-test"
        page.goto(landing)
        frame = page.frame_locator("iframe.kestrel-form")
        frame.get_by_label("First name").fill("Dorothy")
        frame.get_by_label("Work email").fill("dorothy@vaughan.example")
        frame.get_by_role("button", name="Send").click()
        frame.get_by_text("Thanks! A human will write back today.").wait_for()
    with django_db_blocker.unblock(), schema_context(org.tenant.schema_name):
        lead = Lead.objects.get()
        assert (lead.first_name, lead.utm_source, lead.utm_campaign) == (
            "Dorothy",
            "ads",
            "embed-test",
        )
        assert lead.landing_page == landing


@contextmanager
def _website(html: str) -> Iterator[str]:
    """A customer's website on another site (127.0.0.1, not *.localhost) serving `html` at
    every path; yields its base URL."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = html.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
