"""Activity pages: list, create (pre-filled from the query string), edit, detail, My day in
the user's time zone with inline check-off, the record pages' activity box, the calendar page,
its events JSON and reschedule endpoint, and the private iCalendar feed."""

from __future__ import annotations

import json
import secrets
from datetime import UTC, date, datetime, timedelta
from typing import Any
from unittest import mock

import pytest
from django.utils import timezone
from django_tenants.utils import schema_context
from icalendar import Calendar

from apps.accounts.models import Team, User
from apps.activities import services
from apps.activities.models import Activity, CalendarFeed
from apps.companies.services import company_create
from apps.contacts.services import contact_create
from tenants.models import Tenant
from tests.activities.conftest import client_for
from tests.conftest import tenant_client

pytestmark = pytest.mark.django_db
T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def test_create_form_prefills_links_and_times(tenant_a: Tenant, owner: User) -> None:
    contact = contact_create(actor=owner, first_name="Pre", last_name="Filled")
    company = company_create(actor=owner, name="Prefill Ltd")
    client = client_for(tenant_a, owner)
    page = client.get(
        f"/activities/new/?contact={contact.pk}&company={company.pk}"
        "&start=2026-12-01T10:00:00Z&end=2026-12-01T11:00:00Z&next=/activities/calendar/"
    )
    html = page.content.decode()
    assert page.status_code == 200
    assert "Pre Filled" in html and "Prefill Ltd" in html
    assert 'value="2026-12-01T10:00"' in html and 'value="2026-12-01T11:00"' in html
    assert '<option value="meeting" selected>' in html
    assert 'value="/activities/calendar/"' in html
    assert f'<option value="{owner.pk}" selected>' in html  # assigned to you unless changed
    all_day = client.get("/activities/new/?start=2026-12-02&end=2026-12-04&type=task").content
    assert b'value="2026-12-02T00:00"' in all_day and b'value="2026-12-03T00:00"' in all_day
    assert b'name="all_day" id="id_all_day" checked' in all_day
    assert b'<option value="task" selected>' in all_day
    made = client.post(
        "/activities/new/",
        {
            "type": "meeting",
            "subject": "Kick-off",
            "start_at": "2026-12-01T10:00",
            "end_at": "2026-12-01T11:00",
            "contacts": [str(contact.pk)],
            "companies": [str(company.pk)],
            "tags": "kickoff",
            "next": "/activities/calendar/",
        },
    )
    assert made.status_code == 302 and made["Location"] == "/activities/calendar/"
    with schema_context(tenant_a.schema_name):
        meeting = Activity.objects.get(subject="Kick-off")
        assert meeting.start_at == datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
        assert list(meeting.contacts.all()) == [contact]


def test_form_times_are_in_the_users_time_zone(tenant_a: Tenant, owner: User) -> None:
    owner.time_zone = "Europe/Berlin"
    owner.save()
    client = client_for(tenant_a, owner)
    made = client.post(
        "/activities/new/", {"type": "call", "subject": "Berlin call", "due_at": "2026-12-01T10:00"}
    )
    assert made.status_code == 302
    with schema_context(tenant_a.schema_name):
        call = Activity.objects.get(subject="Berlin call")
        assert call.due_at == datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    edit = client.get(f"/activities/{call.pk}/edit/").content.decode()
    assert 'value="2026-12-01T10:00"' in edit


def test_form_errors_and_inline_validation(tenant_a: Tenant, owner: User) -> None:
    client = client_for(tenant_a, owner)
    answer = client.post("/activities/new/", {"type": "meeting", "subject": "No start"})
    assert answer.status_code == 200 and "A meeting needs a start." in answer.content.decode()
    checked = client.post(
        "/activities/new/",
        {"type": "task", "subject": "Only checking", "validate_only": "1"},
        HTTP_HX_REQUEST="true",
    )
    assert checked.status_code == 200 and b"record-form" in checked.content
    with schema_context(tenant_a.schema_name):
        assert not Activity.objects.exists()


def test_detail_edit_list_and_delete(tenant_a: Tenant, owner: User) -> None:
    contact = contact_create(actor=owner, first_name="Detail", last_name="Person")
    meeting = services.activity_create(
        actor=owner,
        type="meeting",
        subject="Detail demo",
        start_at=T0,
        contacts=[contact],
        location="HQ",
    )
    client = client_for(tenant_a, owner)
    page = client.get(f"/activities/{meeting.pk}/").content.decode()
    assert "Meeting: Detail demo" in page and "HQ" in page and "Detail Person" in page
    listed = client.get("/activities/?type=meeting&cols=subject&cols=done").content.decode()
    assert "Detail demo" in listed
    # Activities are not merged: their list offers no duplicates page nor a bulk merge, and
    # a yes/no column reads as words.
    assert "Duplicates</a>" not in listed and '<option value="merge">' not in listed
    assert "<td>No</td>" in listed and "False" not in listed
    edited = client.post(
        f"/activities/{meeting.pk}/edit/",
        {
            "type": "meeting",
            "subject": "Detail demo (moved)",
            "start_at": "2026-12-02T09:00",
            "end_at": "2026-12-02T10:00",
            "contacts": [str(contact.pk)],
        },
    )
    assert edited.status_code == 302
    done = client.post(f"/activities/{meeting.pk}/complete/", {"done": "1", "outcome": "completed"})
    assert done.status_code == 302
    with schema_context(tenant_a.schema_name):
        meeting.refresh_from_db()
        assert meeting.subject == "Detail demo (moved)" and meeting.done
        assert meeting.outcome == "completed"
    bad = client.post(f"/activities/{meeting.pk}/complete/", {"done": "1", "outcome": "nope"})
    assert bad.status_code == 302
    assert client.post(f"/activities/{meeting.pk}/delete/").status_code == 302
    assert client.get(f"/activities/{meeting.pk}/").status_code == 404


def test_rep_cannot_open_change_or_tick_others_activities(
    tenant_a: Tenant, owner: User, rep: User, readonly: User
) -> None:
    hidden = services.activity_create(actor=owner, type="task", subject="Boss only", due_at=T0)
    shared = services.activity_create(actor=owner, type="task", subject="Look only", due_at=T0)
    services.activity_share(actor=owner, activity=shared, user=rep, level="view")
    client = client_for(tenant_a, rep)
    assert client.get(f"/activities/{hidden.pk}/").status_code == 404
    assert client.post(f"/activities/{hidden.pk}/complete/").status_code == 404
    assert client.get(f"/activities/{shared.pk}/").status_code == 200
    assert client.get(f"/activities/{shared.pk}/edit/").status_code == 403
    assert client.post(f"/activities/{shared.pk}/complete/").status_code == 403
    ro = client_for(tenant_a, readonly)
    assert ro.get("/activities/new/").status_code == 403
    with schema_context(tenant_a.schema_name):
        shared.refresh_from_db()
        assert not shared.done


def test_my_day_buckets_follow_the_users_day(tenant_a: Tenant, owner: User) -> None:
    owner.time_zone = "America/New_York"
    owner.save()
    # 23:30 on 1 Dec in New York is 04:30 UTC on 2 Dec: "now" for this test.
    now = datetime(2026, 12, 2, 4, 30, tzinfo=UTC)
    make = services.activity_create
    late_task = make(
        actor=owner, type="task", subject="Overdue task", due_at=now - timedelta(days=2)
    )
    old_done = make(actor=owner, type="task", subject="Old done", due_at=now - timedelta(days=2))
    services.activity_complete(actor=owner, activity=old_done)
    # 22:00 on 1 Dec in New York (03:00 UTC on the 2nd): today, even though UTC says tomorrow.
    tonight = make(
        actor=owner, type="call", subject="Late call", due_at=now - timedelta(hours=1, minutes=30)
    )
    # 00:30 on 2 Dec in New York: tomorrow, so upcoming.
    tomorrow = make(
        actor=owner, type="meeting", subject="Breakfast", start_at=now + timedelta(hours=1)
    )
    whole_day = make(
        actor=owner,
        type="task",
        subject="Holiday prep",
        due_at=date(2026, 12, 1),
        all_day=True,
    )
    far = make(actor=owner, type="task", subject="Far away", due_at=now + timedelta(days=12))
    someone_else = make(
        actor=owner,
        type="task",
        subject="Not mine",
        due_at=now,
        owner=User.objects.create_user("nm@alpha.test", "x" * 20),
    )
    ancient = make(actor=owner, type="task", subject="Ancient", due_at=now - timedelta(days=60))
    client = client_for(tenant_a, owner)
    with mock.patch("django.utils.timezone.now", return_value=now):
        page = client.get("/activities/today/")
    html = page.content.decode()
    sections = {
        key: html.split(f'id="day-{key}"')[1].split("</section>")[0]
        for key in ("overdue", "today", "upcoming")
    }
    assert "Overdue task" in sections["overdue"] and "Ancient" in sections["overdue"]
    assert "Old done" not in html
    assert "Late call" in sections["today"] and "Holiday prep" in sections["today"]
    assert "Breakfast" in sections["upcoming"]
    assert "Far away" not in html and "Not mine" not in html
    del late_task, tonight, tomorrow, whole_day, far, someone_else, ancient


def test_my_day_empty_states_and_inline_check_off(tenant_a: Tenant, owner: User) -> None:
    client = client_for(tenant_a, owner)
    html = client.get("/activities/today/").content.decode()
    assert "Nothing overdue" in html and "Nothing planned for today" in html
    with schema_context(tenant_a.schema_name):
        task = services.activity_create(
            actor=owner,
            type="task",
            subject="Tick me",
            due_at=timezone.now() + timedelta(minutes=5),
        )
    assert "Tick me" in client.get("/activities/today/").content.decode()
    row = client.post(
        f"/activities/{task.pk}/complete/", {"done": "1"}, HTTP_HX_REQUEST="true"
    ).content.decode()
    assert f'id="activity-{task.pk}"' in row and "is-done" in row and 'aria-pressed="true"' in row
    again = client.post(
        f"/activities/{task.pk}/complete/", {"done": "0", "next": "/activities/today/"}
    )
    assert again["Location"] == "/activities/today/"
    with schema_context(tenant_a.schema_name):
        task.refresh_from_db()
        assert not task.done


def test_record_pages_show_open_activities(tenant_a: Tenant, owner: User) -> None:
    contact = contact_create(actor=owner, first_name="Box", last_name="Contact")
    company = company_create(actor=owner, name="Box Company")
    ring = services.activity_create(
        actor=owner,
        type="call",
        subject="Overdue ring",
        due_at=timezone.now() - timedelta(days=1),
        contacts=[contact],
        companies=[company],
    )
    services.activity_create(
        actor=owner,
        type="meeting",
        subject="Future demo",
        start_at=timezone.now() + timedelta(days=1),
        contacts=[contact],
    )
    client = client_for(tenant_a, owner)
    page = client.get(f"/contacts/{contact.pk}/").content.decode()
    assert "Overdue ring" in page and "Future demo" in page
    assert f"/activities/new/?contact={contact.pk}" in page
    assert "Call: Overdue ring" in page  # and on the timeline, with a link to it
    assert f'<a href="/activities/{ring.pk}/">Open</a>' in page
    company_page = client.get(f"/companies/{company.pk}/").content.decode()
    assert (
        "Overdue ring" in company_page and f"/activities/new/?company={company.pk}" in company_page
    )


def _events(client: Any, start: str, end: str, scope: str = "mine") -> list[dict[str, Any]]:
    answer = client.get(f"/activities/calendar/events/?start={start}&end={end}&scope={scope}")
    assert answer.status_code == 200, answer.content
    return answer.json()


def test_calendar_page_and_events(
    tenant_a: Tenant, owner: User, rep: User, other_rep: User
) -> None:
    with schema_context(tenant_a.schema_name):
        team = Team.objects.create(name="North")
        team.members.add(rep, other_rep)
    mine = services.activity_create(
        actor=rep,
        type="meeting",
        subject="Rep demo",
        start_at=T0,
        end_at=T0 + timedelta(hours=1),
    )
    offsite = services.activity_create(
        actor=rep,
        type="meeting",
        subject="Offsite",
        start_at=datetime(2026, 11, 30, tzinfo=UTC),
        end_at=datetime(2026, 12, 2, tzinfo=UTC),
        all_day=True,
    )
    mate = services.activity_create(
        actor=owner, type="call", subject="Mate call", due_at=T0, owner=other_rep
    )
    services.activity_share(actor=owner, activity=mate, user=rep, level="view")
    hidden = services.activity_create(
        actor=owner, type="call", subject="Mate private", due_at=T0, owner=other_rep
    )
    services.activity_create(
        actor=rep, type="task", subject="Next month", due_at=T0 + timedelta(days=40)
    )
    client = client_for(tenant_a, rep)
    page = client.get("/activities/calendar/").content.decode()
    assert "dist/calendar.js" in page and "Team North" in page and "Everyone" not in page
    events = _events(client, "2026-11-30T00:00:00Z", "2026-12-07T00:00:00Z")
    by_title = {e["title"]: e for e in events}
    assert set(by_title) == {"Rep demo", "Offsite"}
    demo = by_title["Rep demo"]
    assert demo["start"] == "2026-12-01T09:00:00Z" and demo["end"] == "2026-12-01T10:00:00Z"
    assert demo["editable"] is True and demo["extendedProps"]["url"] == f"/activities/{mine.pk}/"
    assert by_title["Offsite"]["allDay"] is True
    assert (
        by_title["Offsite"]["start"] == "2026-11-30" and by_title["Offsite"]["end"] == "2026-12-03"
    )
    # A multi-day activity that began before the range still shows.
    later = _events(client, "2026-12-01T00:00:00Z", "2026-12-08T00:00:00Z")
    assert {e["title"] for e in later} == {"Rep demo", "Offsite"}
    team_events = _events(client, "2026-11-30", "2026-12-07", scope="team")
    titles = {e["title"]: e for e in team_events}
    assert set(titles) == {"Rep demo · Rita", "Offsite · Rita", "Mate call · Otto"}
    assert titles["Mate call · Otto"]["editable"] is False  # shared to view only
    assert "Mate private" not in str(team_events)
    assert {
        e["title"] for e in _events(client, "2026-11-30", "2026-12-07", scope=str(team.pk))
    } == set(titles)
    for bad in (
        "start=x&end=2026-12-01",
        "start=2026-12-01&end=2026-11-01",
        "start=2026-01-01&end=2026-12-01",
        "start=2026-12-01&end=2026-12-07&scope=all",
        "start=2026-12-01&end=2026-12-07&scope=banana",
        "start=2026-12-01&end=2026-12-07&scope=999999",
    ):
        answer = client.get(f"/activities/calendar/events/?{bad}")
        assert answer.status_code == 400 and answer.json()["error"]["code"] == "validation_error"
    admin = client_for(tenant_a, owner)
    assert "Everyone" in admin.get("/activities/calendar/").content.decode()
    everyone = _events(admin, "2026-11-30", "2026-12-07", scope="all")
    assert {"Mate private · Otto", "Rep demo · Rita"} <= {e["title"] for e in everyone}
    assert all(e["editable"] for e in everyone)
    del offsite, hidden


def test_calendar_events_are_one_query(tenant_a: Tenant, owner: User) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for day in range(20):
        services.activity_create(
            actor=owner, type="call", subject=f"Call {day}", due_at=T0 + timedelta(days=day % 7)
        )
    client = client_for(tenant_a, owner)
    client.get("/activities/calendar/events/?start=2026-11-30&end=2026-12-07")  # warm up
    with schema_context(tenant_a.schema_name), CaptureQueriesContext(connection) as queries:
        events = _events(client, "2026-11-30", "2026-12-08")
    assert len(events) == 20
    activity_queries = [q for q in queries if 'FROM "activities_activity"' in q["sql"]]
    assert len(activity_queries) == 1


def test_a_crowded_range_says_it_was_cut(
    tenant_a: Tenant, owner: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    from apps.activities import selectors

    monkeypatch.setattr(selectors, "CALENDAR_MAX_EVENTS", 3)
    for hour in range(4):
        services.activity_create(
            actor=owner, type="call", subject=f"Busy {hour}", due_at=T0 + timedelta(hours=hour)
        )
    client = client_for(tenant_a, owner)
    url = "/activities/calendar/events/?start=2026-11-30&end=2026-12-08"
    crowded = client.get(url)
    assert [e["title"] for e in crowded.json()][-1].endswith("Busy 2")
    assert len(crowded.json()) == 3 and crowded["X-Events-Truncated"] == "3"
    monkeypatch.setattr(selectors, "CALENDAR_MAX_EVENTS", 4)
    assert "X-Events-Truncated" not in client.get(url)


def test_reschedule_endpoint(tenant_a: Tenant, owner: User, rep: User) -> None:
    mine = services.activity_create(
        actor=rep, type="meeting", subject="Drag me", start_at=T0, end_at=T0 + timedelta(hours=1)
    )
    theirs = services.activity_create(actor=owner, type="meeting", subject="Not yours", start_at=T0)
    services.activity_share(actor=owner, activity=theirs, user=rep, level="view")
    hidden = services.activity_create(actor=owner, type="meeting", subject="Hidden", start_at=T0)
    client = client_for(tenant_a, rep)

    def post(pk: int, body: dict) -> object:
        return client.post(
            f"/activities/{pk}/reschedule/", json.dumps(body), content_type="application/json"
        )

    moved = post(mine.pk, {"start": "2026-12-03T14:00:00+01:00"})
    assert moved.status_code == 200, moved.content  # type: ignore[attr-defined]
    assert moved.json()["event"]["start"] == "2026-12-03T13:00:00Z"  # type: ignore[attr-defined]
    assert moved.json()["event"]["end"] == "2026-12-03T14:00:00Z"  # type: ignore[attr-defined]
    refused = post(theirs.pk, {"start": "2026-12-03T14:00:00Z"})
    assert refused.status_code == 403  # type: ignore[attr-defined]
    assert refused.json()["error"]["message"]  # type: ignore[attr-defined]
    assert post(hidden.pk, {"start": "2026-12-03T14:00:00Z"}).status_code == 404  # type: ignore[attr-defined]
    bad = post(mine.pk, {"start": "soon"})
    assert bad.status_code == 400 and bad.json()["error"]["field"] == "start"  # type: ignore[attr-defined]
    backwards = post(mine.pk, {"start": "2026-12-03T14:00:00Z", "end": "2026-12-03T13:00:00Z"})
    assert backwards.status_code == 400  # type: ignore[attr-defined]
    all_day = post(mine.pk, {"start": "2026-12-04", "end": "2026-12-06", "all_day": True})
    assert all_day.json()["event"]["start"] == "2026-12-04"  # type: ignore[attr-defined]
    assert all_day.json()["event"]["end"] == "2026-12-06"  # type: ignore[attr-defined]
    form = client.post(
        f"/activities/{mine.pk}/reschedule/", {"start": "2026-12-05T09:00", "all_day": "false"}
    )
    assert form.status_code == 200
    junk = client.post(f"/activities/{mine.pk}/reschedule/", "[1]", content_type="application/json")
    assert junk.status_code == 400
    broken = client.post(f"/activities/{mine.pk}/reschedule/", "{", content_type="application/json")
    assert broken.status_code == 400
    with schema_context(tenant_a.schema_name):
        theirs.refresh_from_db()
        assert theirs.start_at == T0
        mine.refresh_from_db()
        assert mine.start_at == datetime(2026, 12, 5, 9, 0, tzinfo=UTC) and not mine.all_day


def test_feed_create_show_once_revoke_and_content(tenant_a: Tenant, owner: User) -> None:
    contact = contact_create(actor=owner, first_name="Feed", last_name="Contact")
    now = timezone.now().replace(microsecond=0)
    meeting = services.activity_create(
        actor=owner,
        type="meeting",
        subject="Feed demo",
        start_at=now + timedelta(days=1),
        end_at=now + timedelta(days=1, hours=1),
        location="Zoom",
        body="Agenda",
        contacts=[contact],
    )
    day = services.activity_create(
        actor=owner,
        type="task",
        subject="Whole day",
        due_at=(now + timedelta(days=3)).date(),
        all_day=True,
    )
    offsite = services.activity_create(
        actor=owner,
        type="meeting",
        subject="Offsite",
        start_at=(now + timedelta(days=5)).date(),
        end_at=(now + timedelta(days=6)).date(),
        all_day=True,
    )
    services.activity_create(actor=owner, type="note", subject="A note", due_at=now)
    rang = services.activity_create(actor=owner, type="call", subject="Rang", due_at=now)
    services.activity_complete(actor=owner, activity=rang, outcome="cancelled")
    services.activity_create(
        actor=owner, type="call", subject="Too old", due_at=now - timedelta(days=120)
    )
    client = client_for(tenant_a, owner)
    page = client.get("/activities/calendar/").content.decode()
    assert "Create my feed address" in page
    created = client.post("/activities/calendar/feed/")
    assert created.status_code == 302
    page = client.get("/activities/calendar/").content.decode()
    url = page.split('id="feed-url" type="text" readonly value="')[1].split('"')[0]
    assert url.startswith("http://alpha.localhost/activities/feed/") and url.endswith(".ics")
    token = url.rsplit("/", 1)[1].removesuffix(".ics")
    # Shown once: the next visit shows the prefix only.
    later = client.get("/activities/calendar/").content.decode()
    assert token not in later and token[:8] in later and "Revoke" in later
    with schema_context(tenant_a.schema_name):
        assert token not in CalendarFeed.objects.get(user=owner).token_hash
    anonymous = tenant_client(tenant_a)
    answer = anonymous.get(f"/activities/feed/{token}.ics")
    assert answer.status_code == 200 and answer["Content-Type"].startswith("text/calendar")
    calendar = Calendar.from_ical(answer.content)
    events = {str(e["summary"]): e for e in calendar.walk("VEVENT")}
    assert set(events) == {"Feed demo", "Task: Whole day", "Offsite", "✓ Call: Rang"}
    call = events["✓ Call: Rang"]
    assert call.decoded("dtend") - call.decoded("dtstart") == timedelta(minutes=15)
    assert str(call["status"]) == "CANCELLED" and str(call["transp"]) == "TRANSPARENT"
    demo = events["Feed demo"]
    assert str(demo["uid"]) == f"activity-{meeting.pk}@alpha.localhost"
    assert demo.decoded("dtstart") == meeting.start_at
    assert demo.decoded("dtend") == meeting.end_at
    assert str(demo["location"]) == "Zoom" and "dtstamp" in demo and "last-modified" in demo
    assert str(demo["url"]) == f"http://alpha.localhost/activities/{meeting.pk}/"
    assert "Agenda" in str(demo["description"])
    whole = events["Task: Whole day"]
    assert day.due_at is not None and offsite.end_at is not None
    assert whole.decoded("dtstart") == day.due_at.date()  # a DATE value
    assert whole.decoded("dtend") == day.due_at.date() + timedelta(days=1)
    assert events["Offsite"].decoded("dtend") == offsite.end_at.date() + timedelta(days=1)
    # Stable UIDs: the same activity keeps its UID across fetches.
    again = Calendar.from_ical(anonymous.get(f"/activities/feed/{token}.ics").content)
    assert {str(e["uid"]) for e in again.walk("VEVENT")} == {
        str(e["uid"]) for e in calendar.walk("VEVENT")
    }
    # A new address replaces the old one; revoking stops the new one at once.
    client.post("/activities/calendar/feed/")
    assert anonymous.get(f"/activities/feed/{token}.ics").status_code == 404
    client.post("/activities/calendar/feed/revoke/")
    with schema_context(tenant_a.schema_name):
        assert not CalendarFeed.objects.filter(user=owner).exists()
    assert anonymous.get("/activities/feed/not-a-token.ics").status_code == 404
    assert client.post("/activities/calendar/feed/revoke/").status_code == 302


def test_feed_is_rate_limited(tenant_a: Tenant, owner: User) -> None:
    from tests.conftest import fresh_window

    with schema_context(tenant_a.schema_name):
        _, token = services.calendar_feed_create(actor=owner)
    anonymous = tenant_client(tenant_a)
    fresh_window(60, needed=10)
    address = f"198.18.{secrets.randbelow(250)}.{secrets.randbelow(250)}"
    codes = [
        anonymous.get(f"/activities/feed/{token}.ics", REMOTE_ADDR=address).status_code
        for _ in range(61)
    ]
    assert codes[:60] == [200] * 60 and codes[60] == 429


def test_all_day_edit_merge_refused_and_duplicates_page(tenant_a: Tenant, owner: User) -> None:
    offsite = services.activity_create(
        actor=owner,
        type="meeting",
        subject="Offsite days",
        start_at=date(2026, 12, 7),
        end_at=date(2026, 12, 8),
        all_day=True,
    )
    other = services.activity_create(actor=owner, type="task", subject="Other", due_at=T0)
    client = client_for(tenant_a, owner)
    form = client.get(f"/activities/{offsite.pk}/edit/").content.decode()
    assert 'value="2026-12-07T00:00"' in form and 'value="2026-12-08T00:00"' in form
    merge = client.post(
        "/activities/merge/", {"ids": [offsite.pk, other.pk], "survivor": str(offsite.pk)}
    )
    assert merge.status_code == 403
    assert client.get("/activities/duplicates/").status_code == 200
    with schema_context(tenant_a.schema_name):
        assert Activity.objects.filter(pk__in=[offsite.pk, other.pk]).count() == 2


def test_deal_and_lead_pages_show_their_activities(tenant_a: Tenant, owner: User) -> None:
    from apps.deals.services import deal_create
    from apps.leads.services import lead_create

    deal = deal_create(actor=owner, title="Acme expansion", value="1000")
    lead = lead_create(actor=owner, first_name="Lee", last_name="Lead", email="lee@lead.example")
    services.activity_create(
        actor=owner,
        type="meeting",
        subject="Negotiation",
        start_at=timezone.now() + timedelta(days=2),
        deals=[deal],
        leads=[lead],
    )
    client = client_for(tenant_a, owner)
    deal_page = client.get(f"/deals/{deal.pk}/").content.decode()
    assert "Negotiation" in deal_page and f"/activities/new/?deal={deal.pk}" in deal_page
    lead_page = client.get(f"/leads/{lead.pk}/").content.decode()
    assert "Negotiation" in lead_page and f"/activities/new/?lead={lead.pk}" in lead_page
    with schema_context(tenant_a.schema_name):
        meeting = Activity.objects.get(subject="Negotiation")
    detail = client.get(f"/activities/{meeting.pk}/").content.decode()
    assert f'href="/deals/{deal.pk}/"' in detail and f'href="/leads/{lead.pk}/"' in detail
    with schema_context(tenant_a.schema_name):
        from apps.records import timeline

        items, _ = timeline.timeline(deal, "deal", kind="activity")
        assert [i.title for i in items] == ["Meeting: Negotiation"]


def test_calendar_for_a_manager_and_a_read_only_user(
    tenant_a: Tenant, owner: User, rep: User, readonly: User
) -> None:
    from apps.accounts.roles import Role
    from tests.activities.conftest import member

    with schema_context(tenant_a.schema_name):
        boss = member("act-boss@alpha.test", Role.MANAGER, full_name="Mo Manager")
        team = Team.objects.create(name="South", manager=boss)
        team.members.add(rep)
    services.activity_create(actor=rep, type="meeting", subject="Rep pitch", start_at=T0)
    manager = client_for(tenant_a, boss)
    events = _events(manager, "2026-11-30", "2026-12-07", scope="team")
    assert [(e["title"], e["editable"]) for e in events] == [("Rep pitch · Rita", True)]
    moved = manager.post(
        f"/activities/{events[0]['id']}/reschedule/",
        json.dumps({"start": "2026-12-02T09:00:00Z"}),
        content_type="application/json",
    )
    assert moved.status_code == 200
    reader = client_for(tenant_a, readonly)
    seen = _events(reader, "2026-11-30", "2026-12-07", scope="all")
    assert [(e["title"], e["editable"]) for e in seen] == [("Rep pitch · Rita", False)]
    assert "Everyone" in reader.get("/activities/calendar/").content.decode()


def test_timelines_show_only_the_activities_the_viewer_may_see(
    tenant_a: Tenant, owner: User, rep: User
) -> None:
    from apps.contacts.services import contact_share

    contact = contact_create(actor=owner, first_name="Shared", last_name="Customer")
    contact_share(actor=owner, contact=contact, user=rep, level="view")
    services.activity_create(
        actor=owner, type="call", subject="Private pricing call", due_at=T0, contacts=[contact]
    )
    services.activity_create(
        actor=rep, type="task", subject="Rep follow-up", owner=rep, due_at=T0, contacts=[contact]
    )
    mine = client_for(tenant_a, owner).get(f"/contacts/{contact.pk}/timeline/")
    assert "Private pricing call" in mine.content.decode()
    theirs = client_for(tenant_a, rep)
    page = theirs.get(f"/contacts/{contact.pk}/timeline/").content.decode()
    assert "Rep follow-up" in page and "Private pricing call" not in page
    api = theirs.get(f"/api/v1/contacts/{contact.pk}/timeline/").json()
    titles = [item["title"] for item in api["results"]]
    assert "Task: Rep follow-up" in titles
    assert not any("Private pricing call" in t for t in titles)
