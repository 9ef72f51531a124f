"""What a newcomer and an operator do, in a real browser."""

from __future__ import annotations

import re
import secrets
from typing import Any

import pytest
from django.core.management import call_command

from tenants.provisioning import tenant_provision
from tests.browser.conftest import assert_csp_clean, shot

pytestmark = [pytest.mark.browser, pytest.mark.slow]

OPERATOR = ("ops-browser@kestrel.test", "operator-browser-pass")


def _unique(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(3)}"


def test_newcomer_signs_up_and_lands_signed_in(
    page: Any, server: str, created: list[str], django_db_blocker: Any
) -> None:
    slug = _unique("initech")
    created.append(slug)
    page.goto(f"http://localhost:{server}/")
    assert page.get_by_role("heading", name="The CRM your sales team will actually use")
    assert_csp_clean(page)
    shot(page, "landing")

    page.get_by_role("link", name="Create your workspace").click()
    page.get_by_label("Organisation name").fill("Initech")
    page.get_by_label("Workspace address").fill("www")
    page.get_by_label("Your name").fill("Ada Lovelace")
    page.get_by_label("Work email").fill("ada@initech.test")
    page.get_by_label("Password").fill("analytical-engine-1843")
    page.get_by_role("button", name="Create workspace").click()
    error = page.locator(".field-invalid .field-error")
    assert "reserved" in error.inner_text()
    assert_csp_clean(page)
    shot(page, "signup-error")

    page.get_by_label("Workspace address").fill(slug)
    page.get_by_label("Password").fill("analytical-engine-1843")
    page.get_by_role("button", name="Create workspace").click()
    page.wait_for_url(f"http://{slug}.localhost:{server}/")
    assert page.get_by_role("heading", name="Welcome, Ada").is_visible()
    assert "Initech" in page.locator(".brand").inner_text()
    assert_csp_clean(page)
    shot(page, "workspace-home")

    cookies = {c["name"]: c for c in page.context.cookies()}
    assert cookies["sessionid"]["domain"] == f"{slug}.localhost"  # host-only, no leading dot

    # Signed in on this subdomain only: the public host and another organisation say no.
    page.goto(f"http://localhost:{server}/console/")
    assert "/console/login/" in page.url
    with django_db_blocker.unblock():
        other = _unique("other")
        tenant_provision(slug=other, name="Other Org", owner_email="o@other.test", use_pool=False)
        created.append(other)
    page.goto(f"http://{other}.localhost:{server}/")
    assert "/accounts/login/" in page.url
    assert page.get_by_role("heading", name="Sign in to Other Org").is_visible()


def test_unknown_subdomain_gets_a_friendly_page(page: Any, server: str) -> None:
    response = page.goto(f"http://no-such-org.localhost:{server}/")
    assert response.status == 404
    assert page.get_by_role("heading", name="There is no workspace here").is_visible()
    assert page.get_by_role("link", name="Find my workspace").is_visible()
    assert_csp_clean(page)
    shot(page, "unknown-workspace")


def test_operator_suspends_resumes_and_deletes(
    page: Any, server: str, created: list[str], django_db_blocker: Any
) -> None:
    slug = _unique("globex")
    created.append(slug)
    with django_db_blocker.unblock():
        call_command("create_operator", email=OPERATOR[0], password=OPERATOR[1])
        tenant_provision(
            slug=slug,
            name="Globex Corporation",
            owner_email="hank@globex.test",
            owner_password="cypress-creek-1996",
            use_pool=False,
        )

    page.goto(f"http://localhost:{server}/console/")
    page.get_by_label("Email").fill(OPERATOR[0])
    page.get_by_label("Password").fill(OPERATOR[1])
    page.get_by_role("button", name="Sign in").click()
    page.get_by_label("Search").fill(slug)
    page.get_by_role("button", name="Filter").click()
    assert page.get_by_role("link", name="Globex Corporation").is_visible()
    assert_csp_clean(page)
    page.get_by_label("Search").fill("")
    page.get_by_role("button", name="Filter").click()
    shot(page, "console-tenants")

    page.get_by_role("link", name="Globex Corporation").click()
    page.get_by_label("Reason").fill("invoice overdue")
    page.get_by_role("button", name="Suspend").click()
    assert page.get_by_text("is suspended").is_visible()

    tenant_page = page.context.new_page()
    response = tenant_page.goto(f"http://{slug}.localhost:{server}/accounts/login/")
    assert response.status == 403
    assert tenant_page.get_by_role("heading", name=re.compile("suspended")).is_visible()
    shot(tenant_page, "suspended")

    page.get_by_role("button", name="Resume").click()
    assert tenant_page.goto(f"http://{slug}.localhost:{server}/accounts/login/").status == 200

    page.get_by_role("link", name="Delete…").click()
    page.get_by_label("Type the organisation's address to confirm").fill(slug)
    page.get_by_role("button", name="Delete permanently").click()
    assert page.get_by_text("Deleted Globex Corporation").is_visible()
    assert tenant_page.goto(f"http://{slug}.localhost:{server}/").status == 404
    assert_csp_clean(page)


def test_keyboard_reaches_the_form_through_the_skip_link(page: Any, server: str) -> None:
    page.goto(f"http://localhost:{server}/signup/")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "id_organisation"


def test_owner_invites_a_rep_who_cannot_open_settings(
    page: Any, browser: Any, server: str, created: list[str]
) -> None:
    slug = _unique("hooli")
    created.append(slug)
    page.goto(f"http://localhost:{server}/signup/")
    page.get_by_label("Organisation name").fill("Hooli")
    page.get_by_label("Workspace address").fill(slug)
    page.get_by_label("Your name").fill("Gavin Belson")
    page.get_by_label("Work email").fill("gavin@hooli.test")
    page.get_by_label("Password").fill("tethics-and-more-2026")
    page.get_by_role("button", name="Create workspace").click()
    page.wait_for_url(f"http://{slug}.localhost:{server}/")

    # Sign out and back in with the password, as the owner will from now on.
    page.locator("summary", has_text="Gavin Belson").click()
    page.get_by_role("button", name="Sign out").click()
    page.get_by_label("Email").fill("gavin@hooli.test")
    page.get_by_label("Password").fill("tethics-and-more-2026")
    page.get_by_role("button", name="Sign in").click()
    page.locator("summary", has_text="Settings").click()
    page.get_by_role("link", name="Users").click()
    page.get_by_label("Email", exact=True).fill("richard@hooli.test")
    page.get_by_label("Role", exact=True).select_option("rep")
    page.get_by_role("button", name="Send invitation").click()
    link = page.locator("#invite-link").inner_text()
    assert page.get_by_text("Invitation sent to richard@hooli.test").is_visible()
    assert_csp_clean(page)
    shot(page, "settings-users")

    invitee = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
    invitee.goto(link)
    assert invitee.get_by_text("Sales rep").first.is_visible()
    invitee.get_by_label("Your name").fill("Richard Hendricks")
    invitee.get_by_label("Choose a password").fill("middle-out-compression")
    invitee.get_by_role("button", name="Join").click()
    invitee.wait_for_url(f"http://{slug}.localhost:{server}/")
    assert "Sales rep" in invitee.locator(".topbar").inner_text()
    assert invitee.locator("summary", has_text="Settings").count() == 0
    refused = invitee.goto(f"http://{slug}.localhost:{server}/settings/users/")
    assert refused.status == 403
    assert invitee.get_by_role("heading", name="Admins only").is_visible()
    invitee.goto(f"http://{slug}.localhost:{server}/companies/")
    assert invitee.get_by_role("heading", name="No companies").is_visible()

    # The owner shares a company with the rep, and issues a read-only API key.
    page.get_by_role("link", name="Companies").click()
    page.get_by_role("link", name="New company").click()
    page.get_by_label("Name").fill("Pied Piper")
    page.get_by_role("button", name="Create").click()
    page.get_by_label("Share with").select_option(label="Richard Hendricks")
    page.get_by_label("Level").select_option("view")
    page.get_by_role("button", name="Share").click()
    assert page.get_by_text("Shared Pied Piper").is_visible()
    invitee.goto(f"http://{slug}.localhost:{server}/companies/")
    assert invitee.get_by_role("link", name="Pied Piper").is_visible()
    invitee.context.close()

    page.locator("summary", has_text="Settings").click()
    page.get_by_role("link", name="API keys").click()
    page.get_by_label("Name").fill("Board reporting")
    page.get_by_label("Role").select_option("readonly")
    page.get_by_label("Scopes").fill("*:read")
    page.get_by_role("button", name="Create key").click()
    assert page.locator("#new-key").inner_text().startswith("kst_")
    assert_csp_clean(page)

    page.goto(f"http://{slug}.localhost:{server}/settings/audit/")
    log = page.locator("table").inner_text()
    for action in ("user.invited", "user.joined", "record.shared", "api_key.created"):
        assert action in log, action
    shot(page, "audit-log")


def test_the_app_fits_a_phone_screen(
    browser: Any, server: str, created: list[str], django_db_blocker: Any
) -> None:
    slug = _unique("mobile")
    created.append(slug)
    with django_db_blocker.unblock():
        tenant_provision(
            slug=slug,
            name="Mobile Org",
            owner_email="m@mobile.test",
            owner_password="small-screens-2026",
            use_pool=False,
        )
    phone = browser.new_context(viewport={"width": 375, "height": 740}).new_page()
    phone.goto(f"http://{slug}.localhost:{server}/accounts/login/")
    phone.get_by_label("Email").fill("m@mobile.test")
    phone.get_by_label("Password").fill("small-screens-2026")
    phone.get_by_role("button", name="Sign in").click()
    for path in ("/", "/companies/", "/settings/users/", "/settings/audit/"):
        phone.goto(f"http://{slug}.localhost:{server}{path}")
        overflow = phone.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        culprits = phone.evaluate(
            "[...document.querySelectorAll('body *')]"
            ".filter(e => e.getBoundingClientRect().right > document.documentElement.clientWidth"
            " && !e.closest('.table'))"
            ".slice(0, 3).map(e => e.tagName + '.' + e.className)"
        )
        assert overflow <= 0, f"{path} scrolls sideways by {overflow}px: {culprits}"
    phone.context.close()
