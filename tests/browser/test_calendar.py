"""The calendar in a real browser: switch views, click an empty slot to plan a meeting, see it
on the calendar, drag it to another day and time and find it there after a reload; My day;
all under the strict Content-Security-Policy."""

from __future__ import annotations

import re
import secrets
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from django.utils import timezone
from django_tenants.utils import schema_context

from apps.activities import services as activity_services
from apps.activities.models import Activity
from apps.contacts import services as contact_services
from tenants.provisioning import tenant_provision
from tests.browser.conftest import assert_csp_clean, shot, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.slow]

OWNER = ("grace@hopper.test", "cobol-compiler-1959")


def _organisation(created: list[str], django_db_blocker: Any) -> Any:
    slug = f"hopper-{secrets.token_hex(3)}"
    created.append(slug)
    with django_db_blocker.unblock():
        return tenant_provision(
            slug=slug,
            name="Hopper Systems",
            owner_email=OWNER[0],
            owner_password=OWNER[1],
            owner_name="Grace Hopper",
            use_pool=False,
        )


def _sign_in(page: Any, base: str) -> None:
    sign_in(page, base, OWNER[0], OWNER[1])


def _fetch_anonymously(address: str, port: str) -> tuple[int, str]:
    """GET a URL of the test server without the browser's session (as a calendar app would),
    sending the organisation's host name."""
    import urllib.error
    import urllib.parse
    import urllib.request

    parts = urllib.parse.urlsplit(address)
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{parts.path}", headers={"Host": parts.netloc}
    )
    try:
        # Always http://127.0.0.1 (built above), never a scheme taken from input.
        with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, ""


def _slot_point(page: Any, day: date, hour: float) -> tuple[float, float]:
    """The middle of a day's column at `hour` (plus a quarter hour, inside the slot) in the
    week view: columns line up under their headers; the day starts at the column's top."""
    label = page.locator(f".ec-body .ec-sidebar time[datetime$='T{int(hour):02d}:00:00']")
    label.evaluate("el => el.scrollIntoView({block: 'center'})")
    header = page.locator(f".ec-col-head:has(time[datetime='{day.isoformat()}'])").bounding_box()
    column = page.locator(".ec-body .ec-day").first.bounding_box()
    slot = float(
        page.evaluate(
            "parseFloat(getComputedStyle(document.querySelector('.ec-main'))"
            ".getPropertyValue('--ec-slot-height'))"
        )
    )
    return header["x"] + header["width"] / 2, column["y"] + (hour * 2 + 0.5) * slot


def test_plan_a_meeting_from_the_calendar_and_move_it(
    page: Any, server: str, created: list[str], django_db_blocker: Any
) -> None:
    org = _organisation(created, django_db_blocker)
    base = f"http://{org.tenant.slug}.localhost:{server}"
    today = timezone.localdate()
    monday = today + timedelta(days=7 - today.weekday())
    wednesday, friday = monday + timedelta(days=2), monday + timedelta(days=4)
    with django_db_blocker.unblock(), schema_context(org.tenant.schema_name):
        contact = contact_services.contact_create(
            actor=org.owner, first_name="Ada", last_name="Acme"
        )
        now = timezone.now()
        for subject, kind, when in (
            ("Send the Acme proposal", "task", now - timedelta(days=2)),
            ("Call Ada about pricing", "call", now + timedelta(minutes=30)),
            ("Prepare the demo", "task", now + timedelta(minutes=45)),
            ("Quarterly review", "meeting", now + timedelta(days=2)),
        ):
            activity_services.activity_create(
                actor=org.owner,
                type=kind,
                subject=subject,
                start_at=when if kind == "meeting" else None,
                due_at=None if kind == "meeting" else when,
                contacts=[contact],
            )
    _sign_in(page, base)

    # A mangled address still opens the month.
    page.goto(f"{base}/activities/calendar/?view=bogus&date=soon")
    page.locator("#calendar .ec-month-view").wait_for()

    # The week of next Monday; every view the toolbar offers.
    page.goto(f"{base}/activities/calendar/?view=timeGridWeek&date={monday.isoformat()}")
    calendar = page.locator("#calendar")
    calendar.locator(".ec-time-grid.ec-week-view").wait_for()
    calendar.get_by_role("button", name="Month", exact=True).click()
    calendar.locator(".ec-day-grid.ec-month-view").wait_for()
    calendar.get_by_role("button", name="Day", exact=True).click()
    calendar.locator(".ec-time-grid.ec-day-view").wait_for()
    calendar.get_by_role("button", name="Agenda", exact=True).click()
    calendar.locator(".ec-list").wait_for()
    calendar.get_by_role("button", name="Week", exact=True).click()
    calendar.locator(".ec-time-grid.ec-week-view").wait_for()
    assert_csp_clean(page)

    # Click Wednesday 10:00: the new-meeting form opens with the slot filled in.
    page.mouse.click(*_slot_point(page, wednesday, 10))
    page.wait_for_url(re.compile(r"/activities/new/\?"))
    assert page.get_by_label("Type").input_value() == "meeting"
    assert page.get_by_label("Starts").input_value() == f"{wednesday.isoformat()}T10:00"
    assert page.get_by_label("Ends").input_value() == f"{wednesday.isoformat()}T10:30"
    page.get_by_label("Subject").fill("Demo with Acme")
    page.get_by_label("Location").fill("Acme HQ")
    page.get_by_role("button", name="Create").click()

    # Back on the calendar, in the same week: the meeting sits on Wednesday.
    page.wait_for_url(re.compile(r"/activities/calendar/"))
    event = calendar.locator(".ec-event", has_text="Demo with Acme")
    event.wait_for()
    wednesday_head = page.locator(f".ec-col-head:has(time[datetime='{wednesday.isoformat()}'])")
    box, head = event.bounding_box(), wednesday_head.bounding_box()
    assert head["x"] - 5 <= box["x"] <= head["x"] + head["width"]
    assert_csp_clean(page)

    # Drag it to Friday 14:00; the server keeps the move.
    target = _slot_point(page, friday, 14)  # scrolls the afternoon into view
    box = event.bounding_box()
    start = (box["x"] + box["width"] / 2, box["y"] + 6)
    page.mouse.move(*start)
    page.mouse.down()
    page.mouse.move(start[0] + 10, start[1] + 10, steps=5)
    page.mouse.move(target[0], target[1] - 6 + (start[1] - box["y"]), steps=20)
    page.mouse.up()
    page.locator("#calendar-status", has_text="Moved").wait_for()
    page.reload()
    event = calendar.locator(".ec-event", has_text="Demo with Acme")
    event.wait_for()
    friday_head = page.locator(f".ec-col-head:has(time[datetime='{friday.isoformat()}'])")
    box, head = event.bounding_box(), friday_head.bounding_box()
    assert head["x"] - 5 <= box["x"] <= head["x"] + head["width"]
    with django_db_blocker.unblock(), schema_context(org.tenant.schema_name):
        meeting = Activity.objects.get(subject="Demo with Acme")
        assert timezone.localtime(meeting.start_at).replace(tzinfo=None) == datetime.combine(
            friday, datetime.min.time()
        ).replace(hour=14)
        assert meeting.end_at - meeting.start_at == timedelta(minutes=30)  # type: ignore[operator]
    assert_csp_clean(page)

    # The agenda lists it, and so does the month.
    calendar.get_by_role("button", name="Agenda", exact=True).click()
    calendar.locator(".ec-list .ec-event", has_text="Demo with Acme").wait_for()
    calendar.get_by_role("button", name="Month", exact=True).click()
    calendar.locator(".ec-month-view .ec-event", has_text="Demo with Acme").wait_for()
    page.evaluate("window.scrollTo(0, 0)")
    assert_csp_clean(page)
    shot(page, "calendar")

    # A private feed address for Google Calendar or Outlook, shown once, readable without
    # signing in; revoking it stops it.
    page.get_by_role("button", name="Create my feed address").click()
    address = page.get_by_label("Feed address").input_value()
    assert re.fullmatch(rf"{re.escape(base)}/activities/feed/[\w-]+\.ics", address)
    status, body = _fetch_anonymously(address, server)
    assert status == 200 and "BEGIN:VCALENDAR" in body and "Demo with Acme" in body
    assert_csp_clean(page)
    page.get_by_role("button", name="Revoke").click()
    page.get_by_text("Calendar feed revoked").wait_for()
    assert _fetch_anonymously(address, server)[0] == 404

    # My day shows today's work, and a tick marks one done.
    page.goto(f"{base}/activities/today/")
    assert page.locator("#day-overdue + ul").get_by_text("Send the Acme proposal").is_visible()
    today_list = page.locator("#day-today + ul")
    assert today_list.get_by_text("Call Ada about pricing").is_visible()
    page.get_by_role("button", name="Mark Call Ada about pricing done").click()
    page.get_by_role("button", name="Open Call Ada about pricing again").wait_for()
    assert page.locator("#day-upcoming + ul").get_by_text("Quarterly review").is_visible()
    assert_csp_clean(page)
    shot(page, "my-day")
    with django_db_blocker.unblock(), schema_context(org.tenant.schema_name):
        assert Activity.objects.get(subject="Call Ada about pricing").done


def test_log_a_call_from_a_contact_and_find_it_on_the_timeline(
    page: Any, server: str, created: list[str], django_db_blocker: Any
) -> None:
    org = _organisation(created, django_db_blocker)
    base = f"http://{org.tenant.slug}.localhost:{server}"
    with django_db_blocker.unblock(), schema_context(org.tenant.schema_name):
        contact = contact_services.contact_create(
            actor=org.owner, first_name="Ada", last_name="Acme"
        )
    _sign_in(page, base)
    page.goto(f"{base}/contacts/{contact.pk}/")
    box = page.locator(".record-activities")
    assert "No open activities." in box.inner_text()
    box.get_by_role("link", name="Add activity").click()
    page.wait_for_url(re.compile(rf"/activities/new/\?contact={contact.pk}$"))
    assert page.get_by_label("Ada Acme").is_checked()
    page.get_by_label("Type").select_option("call")
    page.get_by_label("Subject").fill("Pricing call")
    page.get_by_label("Due").fill((timezone.localdate() + timedelta(days=1)).isoformat() + "T10:00")
    page.get_by_label("Description").fill("Wants the annual plan with SSO.")
    assert_csp_clean(page)
    page.evaluate("window.scrollTo(0, 0)")
    shot(page, "activities-form")
    page.get_by_role("button", name="Create").click()
    page.wait_for_url(re.compile(r"/activities/\d+/$"))
    assert page.get_by_role("heading", name="Call: Pricing call").is_visible()
    assert page.get_by_role("link", name="Ada Acme").is_visible()
    page.get_by_role("button", name="Mark done").click()
    assert page.get_by_text("Marked done.").is_visible()
    assert_csp_clean(page)
    shot(page, "activities-detail")

    # The contact's timeline shows the call, done, with a link back to it.
    page.goto(f"{base}/contacts/{contact.pk}/")
    item = page.locator(".timeline-item.kind-activity", has_text="Call: Pricing call")
    assert "Done" in item.inner_text()
    item.get_by_role("link", name="Open").click()
    page.wait_for_url(re.compile(r"/activities/\d+/$"))
    page.goto(f"{base}/activities/?owner=me")
    assert page.get_by_role("link", name="Pricing call").is_visible()
    assert_csp_clean(page)
    shot(page, "activities-list")
