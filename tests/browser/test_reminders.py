"""Reminders in a real browser: the owner plans a meeting with two reminders in the form, the
reminders fall due, the dispatcher delivers them (its real code path, from the test process),
and the bell on the still-open page counts them without a reload; the meeting's page then
says they were sent. All under the strict CSP."""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any

import pytest
from django.core.cache import caches
from django.utils import timezone
from django_tenants.utils import schema_context

from apps.activities.models import Activity, Reminder
from tenants import jobs
from tenants.provisioning import tenant_provision
from tenants.tasks import dispatch_due_jobs, dispatch_marker
from tests.browser.conftest import assert_csp_clean, shot, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.slow]

OWNER = ("grace@remind.test", "compiler-pioneer-1952")


def test_reminders_set_in_the_form_ring_the_bell_without_reload(
    page: Any, server: str, created: list[str], django_db_blocker: Any
) -> None:
    slug = f"remind-{secrets.token_hex(3)}"
    created.append(slug)
    with django_db_blocker.unblock():
        org = tenant_provision(
            slug=slug,
            name="Reminder Works",
            owner_email=OWNER[0],
            owner_password=OWNER[1],
            owner_name="Grace Hopper",
            use_pool=False,
        )
    schema = org.tenant.schema_name
    base = f"http://{slug}.localhost:{server}"
    sign_in(page, base, OWNER[0], OWNER[1])

    start = (timezone.now() + timedelta(hours=3)).replace(second=0, microsecond=0)
    page.goto(f"{base}/activities/new/")
    page.get_by_label("Type").select_option("meeting")
    page.get_by_label("Subject").fill("Compiler review")
    page.get_by_label("Starts").fill(start.strftime("%Y-%m-%dT%H:%M"))
    # The owner's default (15 minutes before) is ticked already; add "At the time".
    assert page.get_by_label("15 minutes before").is_checked()
    page.get_by_label("At the time").check()
    shot(page, "activity-reminders-form")
    page.get_by_role("button", name="Create").click()
    page.get_by_text("Created Compiler review.").wait_for()
    details = page.locator(".facts").inner_text()
    assert "At the time · at" in details
    assert "15 minutes before · at" in details
    assert page.locator("#notification-badge .notification-count").count() == 0

    # Both reminders fall due; beat's dispatcher sends them through the organisation's queue.
    with django_db_blocker.unblock():
        with schema_context(schema):
            meeting = Activity.objects.get(subject="Compiler review")
            assert meeting.start_at == start
            past = timezone.now() - timedelta(seconds=1)
            for reminder in meeting.reminders.all():
                Reminder.objects.filter(pk=reminder.pk).update(remind_at=past)
                jobs.schedule(kind="reminder", object_id=reminder.pk, due_at=past)
        for kind in ("reminder", "email"):
            caches["platform"].delete(dispatch_marker(schema, kind))
        with schema_context("public"):
            assert dispatch_due_jobs() >= 1

    count = page.locator("#notification-badge .notification-count")
    count.filter(has_text="2").wait_for(timeout=25_000)
    page.get_by_role("link", name="Notifications 2 unread").click()
    page.wait_for_url(f"{base}/notifications/")
    listed = page.locator(".notification-item.is-unread").all_inner_texts()
    assert any("Meeting now: Compiler review" in text for text in listed)
    assert any("Meeting starts in 15 minutes: Compiler review" in text for text in listed)
    shot(page, "notifications-reminders")
    page.get_by_role("link", name="Meeting now: Compiler review").click()
    page.wait_for_url(f"{base}/activities/{meeting.pk}/")
    assert page.locator(".facts").inner_text().count("· sent ") == 2

    # A hidden tab does not poll the bell; shown again, it catches up at once.
    polls: list[str] = []

    def count_poll(request: Any) -> None:
        if "/notifications/badge/" in request.url:
            polls.append(request.url)

    page.on("request", count_poll)
    page.evaluate(
        "Object.defineProperty(document, 'hidden', {value: true, configurable: true});"
        "document.dispatchEvent(new Event('visibilitychange'));"
        "htmx.trigger(document.body, 'notifications-changed');"
    )
    page.wait_for_timeout(500)
    assert polls == []
    with page.expect_request(lambda r: "/notifications/badge/" in r.url):
        page.evaluate(
            "Object.defineProperty(document, 'hidden', {value: false, configurable: true});"
            "document.dispatchEvent(new Event('visibilitychange'));"
        )
    assert len(polls) == 1
    assert_csp_clean(page)
