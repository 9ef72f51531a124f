"""The bell in a real browser: a colleague assigns the owner a deal, the count appears without a
reload; the owner opens the list with the keyboard, marks one read (the count follows at
once) and follows another to its deal, all under the strict CSP."""

from __future__ import annotations

import secrets
from typing import Any

import pytest
from django_tenants.utils import schema_context

from apps.accounts.models import User
from apps.accounts.roles import Role
from apps.accounts.services import user_set_role
from apps.deals.services import deal_create
from apps.notifications.services import notify
from tenants.provisioning import tenant_provision
from tests.browser.conftest import assert_csp_clean, shot, sign_in
from tests.factories import make_user

pytestmark = [pytest.mark.browser, pytest.mark.slow]

OWNER = ("ada@bell.test", "analytical-engine-1843")


def test_the_bell_counts_without_reload_and_the_list_works_by_keyboard(
    page: Any, server: str, created: list[str], django_db_blocker: Any
) -> None:
    slug = f"bell-{secrets.token_hex(3)}"
    created.append(slug)
    with django_db_blocker.unblock():
        org = tenant_provision(
            slug=slug,
            name="Bell Works",
            owner_email=OWNER[0],
            owner_password=OWNER[1],
            owner_name="Ada Lovelace",
            use_pool=False,
        )
        schema = org.tenant.schema_name
        with schema_context(schema):
            owner = User.objects.get(email=OWNER[0])
            colleague = make_user(email="charles@bell.test", full_name="Charles Babbage")
            user_set_role(user=colleague, role=Role.ADMIN)
            notify(recipient=owner, kind="reminder", title="Reminder: Call the CFO at 15:00")
    base = f"http://{slug}.localhost:{server}"
    sign_in(page, base, OWNER[0], OWNER[1])
    bell = page.get_by_role("link", name="Notifications")
    count = page.locator("#notification-badge .notification-count")
    assert count.inner_text() == "1"

    # A colleague hands a deal over while the page stays open: the bell catches up by itself.
    with django_db_blocker.unblock(), schema_context(schema):
        deal = deal_create(actor=colleague, title="Analytical Engine", owner=owner)
    count.filter(has_text="2").wait_for(timeout=25_000)
    assert page.get_by_role("link", name="Notifications 2 unread").count() == 1
    shot(page, "notifications-bell")

    bell.focus()
    page.keyboard.press("Enter")
    page.wait_for_url(f"{base}/notifications/")
    items = page.locator(".notification-item.is-unread")
    assert items.count() == 2
    assert "You were assigned a deal: Analytical Engine" in items.first.inner_text()
    shot(page, "notifications-list")

    # Mark the reminder read with the keyboard: the item and the bell change at once.
    mark = page.get_by_role("button", name="Mark read “Reminder: Call the CFO at 15:00”")
    mark.focus()
    page.keyboard.press("Enter")
    page.get_by_text("Marked read").wait_for()
    count.filter(has_text="1").wait_for(timeout=5_000)
    assert page.locator(".notification-item.is-unread").count() == 1

    # Following the assignment goes to the deal and leaves nothing unread.
    page.get_by_role("link", name="You were assigned a deal: Analytical Engine").click()
    page.wait_for_url(f"{base}/deals/{deal.pk}/")
    assert page.locator("#notification-badge .notification-count").count() == 0
    page.goto(f"{base}/notifications/?unread=1")
    assert "Nothing unread" in page.content()

    # Settings: untick mention emails, tick "1 day before" as well, save with the keyboard.
    page.get_by_role("link", name="Notification settings").click()
    page.get_by_label("Mentions of me in activities").uncheck()
    page.get_by_label("1 day before").check()
    shot(page, "notifications-settings")
    page.get_by_role("button", name="Save").focus()
    page.keyboard.press("Enter")
    page.get_by_text("Notification settings saved.").wait_for()
    assert page.get_by_label("1 day before").is_checked()
    assert page.get_by_label("15 minutes before").is_checked()
    assert not page.get_by_label("Mentions of me in activities").is_checked()
    assert_csp_clean(page)
