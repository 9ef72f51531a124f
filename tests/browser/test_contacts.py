"""Contacts in a real browser: create, find again through search with a typo, merge a
duplicate and undo the merge; and search never crosses into another organisation."""

from __future__ import annotations

import re
import secrets
from typing import Any

import pytest
from django_tenants.utils import schema_context

from apps.contacts import services as contact_services
from tenants.models import Tenant
from tenants.provisioning import tenant_provision
from tests.browser.conftest import assert_csp_clean, shot, sign_in
from tests.conftest import BETA, PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.slow]

OWNER = ("charles@babbage.test", "difference-engine-1822")


def _organisation(created: list[str], django_db_blocker: Any) -> Any:
    slug = f"babbage-{secrets.token_hex(3)}"
    created.append(slug)
    with django_db_blocker.unblock():
        return tenant_provision(
            slug=slug,
            name="Babbage & Co",
            owner_email=OWNER[0],
            owner_password=OWNER[1],
            owner_name="Charles Babbage",
            use_pool=False,
        )


def _sign_in(page: Any, base: str, email: str, password: str) -> None:
    sign_in(page, base, email, password)


def _search(page: Any, text: str) -> Any:
    """Type into the top bar's search box; the results appear under it as you type."""
    page.locator("#global-search").press_sequentially(text, delay=30)
    results = page.locator("#search-results")
    # Both answers quote the query ("All results for …", "Nothing matches …"): wait for this
    # one's, not an answer to a prefix typed on the way.
    results.filter(has_text=f"“{text}”").wait_for()
    return results


def test_create_find_with_a_typo_merge_and_undo(
    page: Any, server: str, created: list[str], django_db_blocker: Any
) -> None:
    org = _organisation(created, django_db_blocker)
    base = f"http://{org.tenant.slug}.localhost:{server}"
    _sign_in(page, base, *OWNER)

    # Create a contact; the company is created and linked on the way.
    page.goto(f"{base}/contacts/new/")
    page.get_by_label("First name").fill("Ada")
    page.get_by_label("Last name").fill("Lovelace")
    page.get_by_label("Emails").fill("ada@analytical.example")
    page.get_by_label("Company", exact=True).fill("Analytical Engines")
    page.get_by_role("button", name="Create").click()
    page.wait_for_url(re.compile(r"/contacts/\d+/$"))
    first_url = page.url
    assert page.get_by_role("heading", name="Ada Lovelace").is_visible()
    assert page.get_by_role("link", name="Analytical Engines").is_visible()
    assert_csp_clean(page)

    # A second Ada Lovelace: the form warns, and saves only when told to.
    page.goto(f"{base}/contacts/new/")
    page.get_by_label("First name").fill("Ada")
    page.get_by_label("Last name").fill("Lovelace")
    page.get_by_label("Emails").fill("countess@lovelace.example")
    page.get_by_label("Job title").fill("Countess")
    with page.expect_navigation():
        page.get_by_role("button", name="Create").click()
    warning = page.locator("#duplicate-warning")
    assert "This looks like a duplicate of" in warning.inner_text()
    assert warning.get_by_role("link", name="Ada Lovelace").is_visible()
    assert re.search(r"/contacts/new/$", page.url)
    # Ticking the box runs the form's inline validation, which swaps in a new form: the
    # warning and the ticked box must survive it.
    validated = page.locator("#record-form").element_handle()
    warning.get_by_label("Save it anyway").check()
    validated.wait_for_element_state("hidden")  # detached: the new form is in
    assert warning.get_by_label("Save it anyway").is_checked()
    page.get_by_role("button", name="Create").click()
    page.wait_for_url(re.compile(r"/contacts/\d+/$"))
    second_url = page.url
    assert second_url != first_url
    assert page.get_by_text("Created Ada Lovelace.").is_visible()
    assert_csp_clean(page)

    # A typo in the top bar's search still finds both, as you type.
    results = _search(page, "Lovelcae")
    found = results.get_by_role("option")
    assert found.filter(has_text="ada@analytical.example").count() == 1
    assert found.filter(has_text="countess@lovelace.example").count() == 1
    assert found.filter(has_text="Ada Lovelace").count() == 2
    assert_csp_clean(page)
    shot(page, "search-typo")

    # The duplicates page pairs them; merge the second into the first.
    page.goto(f"{base}/contacts/duplicates/")
    row = page.get_by_role("row").filter(has_text="Ada Lovelace")
    assert row.count() == 1
    assert "same name" in row.inner_text()
    row.get_by_role("link", name="Merge…").click()
    assert page.get_by_role("heading", name="Merge 2 contacts").is_visible()
    survivor_id = first_url.rstrip("/").rsplit("/", 1)[1]
    page.locator(f"input[name=survivor][value='{survivor_id}']").check()
    title_row = page.get_by_role("row").filter(has=page.get_by_role("rowheader", name="Job title"))
    title_row.get_by_label("Countess").check()
    assert_csp_clean(page)
    shot(page, "merge")
    page.get_by_role("button", name="Merge").click()

    page.wait_for_url(first_url)
    assert page.get_by_text("Merged 1 record(s) into Ada Lovelace.").is_visible()
    emails = page.locator("dt:text-is('Emails') + dd")
    assert "ada@analytical.example" in emails.inner_text()
    assert "countess@lovelace.example" in emails.inner_text()
    assert page.locator("dt:text-is('Job title') + dd").inner_text() == "Countess"
    timeline = page.locator("#timeline-items")
    assert timeline.locator(".timeline-item", has_text="Merged Ada Lovelace").count() == 1
    assert page.goto(second_url).status == 404
    page.goto(first_url)
    assert_csp_clean(page)
    shot(page, "contact-detail")

    # Undo: the merged contact is back, with its own email.
    page.get_by_role("button", name="Undo merge").click()
    assert page.get_by_text("Merge undone").is_visible()
    assert "countess@lovelace.example" not in page.locator("dt:text-is('Emails') + dd").inner_text()
    assert page.goto(second_url).status == 200
    assert page.get_by_role("link", name="countess@lovelace.example").is_visible()

    page.goto(f"{base}/contacts/")
    assert page.get_by_role("link", name="Ada Lovelace").count() == 2
    assert_csp_clean(page)
    shot(page, "contacts-list")


def test_search_does_not_reach_another_organisations_contacts(
    browser: Any,
    page: Any,
    server: str,
    created: list[str],
    tenant_b: Tenant,
    django_db_blocker: Any,
) -> None:
    org = _organisation(created, django_db_blocker)
    with django_db_blocker.unblock(), schema_context(org.tenant.schema_name):
        contact_services.contact_create(
            actor=org.owner,
            first_name="Ada",
            last_name="Lovelace",
            emails=["ada@analytical.example"],
        )

    # Its own organisation finds the contact...
    base_a = f"http://{org.tenant.slug}.localhost:{server}"
    _sign_in(page, base_a, *OWNER)
    assert (
        _search(page, "Lovelace").get_by_role("option", name=re.compile("Ada Lovelace")).count()
        == 1
    )

    # ...another organisation's owner, searching the same, finds nothing.
    other = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
    base_b = f"http://{tenant_b.slug}.localhost:{server}"
    _sign_in(other, base_b, BETA.owner_email, PASSWORD)
    results = _search(other, "Lovelace")
    assert "Nothing matches “Lovelace”." in results.inner_text()
    assert results.get_by_role("option").count() == 0
    other.goto(f"{base_b}/search/?q=Lovelace")
    assert other.get_by_role("heading", name="Nothing matches “Lovelace”").is_visible()
    assert other.get_by_role("link", name=re.compile("Lovelace")).count() == 0
    other.context.close()
