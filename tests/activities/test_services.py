"""Activity services: times, links, permissions, completion, rescheduling, sharing, audit and
the timelines of linked records."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from apps.accounts.models import User
from apps.activities import services
from apps.activities.models import Activity
from apps.audit.models import AuditEntry
from apps.companies.services import company_create
from apps.contacts.services import contact_create
from apps.records import timeline

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def test_meeting_with_links_tags_and_custom_fields(owner: User) -> None:
    contact = contact_create(actor=owner, first_name="Ada", last_name="Lovelace")
    company = company_create(actor=owner, name="Analytical Engines")
    meeting = services.activity_create(
        actor=owner,
        type="meeting",
        subject="  Demo with Acme ",
        start_at=T0,
        contacts=[contact.pk],
        companies=[company],
        tags=["demo"],
        location="Room 1",
    )
    assert meeting.subject == "Demo with Acme"
    assert meeting.end_at == T0 + timedelta(minutes=30)  # a meeting's default length
    assert meeting.scheduled_at == T0
    assert meeting.owner == owner and meeting.created_by == owner
    assert list(meeting.contacts.all()) == [contact]
    assert list(meeting.companies.all()) == [company]
    assert [t.name for t in meeting.tags.all()] == ["demo"]
    assert AuditEntry.objects.filter(action="activity.created", target_id=str(meeting.pk)).exists()
    assert meeting.history.count() == 1


def test_scheduled_at_follows_start_then_due_then_now(owner: User) -> None:
    task = services.activity_create(actor=owner, type="task", subject="Send quote", due_at=T0)
    assert task.scheduled_at == T0
    before = timezone.now()
    note = services.activity_create(actor=owner, type="note", subject="Met at the fair")
    assert note.scheduled_at >= before
    call = services.activity_create(
        actor=owner, type="call", subject="Call", due_at=T0, start_at=T0 + timedelta(hours=2)
    )
    assert call.scheduled_at == T0 + timedelta(hours=2)


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"type": "meeting"}, "start_at"),
        ({"type": "meeting", "start_at": T0, "end_at": T0}, "end_at"),
        ({"type": "meeting", "start_at": T0, "end_at": T0 - timedelta(hours=1)}, "end_at"),
        ({"type": "task", "end_at": T0}, "start_at"),
        ({"type": "party"}, "type"),
        ({"type": "task", "subject": "  "}, "subject"),
        ({"type": "task", "outcome": "won"}, "outcome"),
        ({"type": "task", "subject": "x" * 201}, "subject"),
        ({"type": "task", "contacts": [999999]}, "contacts"),
        ({"type": "task", "companies": ["abc"]}, "companies"),
        ({"type": "task", "deals": [999999]}, "deals"),
        ({"type": "task", "leads": [999999]}, "leads"),
        ({"type": "task", "custom_fields": {"nope": 1}}, "custom_fields.nope"),
    ],
)
def test_bad_input_names_the_field(owner: User, fields: dict, field: str) -> None:
    fields.setdefault("subject", "Something")
    with pytest.raises(ValidationError) as caught:
        services.activity_create(actor=owner, **fields)
    assert field in caught.value.message_dict
    assert not Activity.objects.filter(subject="Something").exists()


def test_links_must_be_visible_to_the_actor(owner: User, rep: User) -> None:
    hidden = contact_create(actor=owner, first_name="Hidden", last_name="Person")
    with pytest.raises(ValidationError) as caught:
        services.activity_create(actor=rep, type="task", subject="Peek", contacts=[hidden.pk])
    assert "contacts" in caught.value.message_dict


def test_inactive_assignee_refused(owner: User, rep: User) -> None:
    rep.is_active = False
    rep.save()
    with pytest.raises(ValidationError) as caught:
        services.activity_create(actor=owner, type="task", subject="x", owner=rep)
    assert "owner" in caught.value.message_dict


def test_all_day_dates_are_taken_in_the_assignees_time_zone(owner: User) -> None:
    owner.time_zone = "Asia/Tokyo"
    owner.save()
    # 26 Nov 00:30 in Tokyo is still 25 Nov in UTC: the day is the 26th.
    tokyo = datetime(2026, 11, 25, 15, 30, tzinfo=UTC)
    offsite = services.activity_create(
        actor=owner,
        type="meeting",
        subject="Offsite",
        start_at=tokyo,
        end_at=tokyo + timedelta(days=1),
        all_day=True,
    )
    assert offsite.start_at == datetime(2026, 11, 26, tzinfo=UTC)
    assert offsite.end_at == datetime(2026, 11, 27, tzinfo=UTC)
    one_day = services.activity_create(
        actor=owner, type="task", subject="Holiday", due_at=date(2026, 12, 24), all_day=True
    )
    assert one_day.due_at == datetime(2026, 12, 24, tzinfo=UTC)
    with pytest.raises(ValidationError) as caught:
        services.activity_create(
            actor=owner,
            type="meeting",
            subject="Backwards",
            start_at=tokyo,
            end_at=tokyo - timedelta(days=2),
            all_day=True,
        )
    assert "end_at" in caught.value.message_dict


def test_naive_times_are_utc(owner: User) -> None:
    task = services.activity_create(
        actor=owner, type="task", subject="Naive", due_at=datetime(2026, 12, 1, 9, 0)
    )
    assert task.due_at == T0
    with pytest.raises(ValidationError):
        services.activity_create(actor=owner, type="task", subject="x", due_at="tomorrow")  # type: ignore[arg-type]


def test_update_replaces_links_and_audits(owner: User) -> None:
    a = contact_create(actor=owner, first_name="A", last_name="One")
    b = contact_create(actor=owner, first_name="B", last_name="Two")
    task = services.activity_create(actor=owner, type="task", subject="T", contacts=[a])
    services.activity_update(
        actor=owner,
        activity=task,
        subject="T2",
        contacts=[b.pk],
        tags=["x"],
        custom_fields={},
        done=True,
        outcome="completed",
    )
    task.refresh_from_db()
    assert task.subject == "T2" and task.done and task.done_at is not None
    assert list(task.contacts.all()) == [b]
    entry = AuditEntry.objects.filter(action="activity.changed", target_id=str(task.pk)).get()
    assert entry.detail["fields"] == [
        "contacts",
        "custom_fields",
        "done",
        "outcome",
        "subject",
        "tags",
    ]
    services.activity_update(actor=owner, activity=task, done=False)
    task.refresh_from_db()
    assert not task.done and task.done_at is None
    for bad, field in (
        ({"type": "party"}, "type"),
        ({"subject": ""}, "subject"),
        ({"owner": "x"}, "owner"),
        ({"colour": "red"}, "colour"),
        ({"custom_fields": {"nope": 1}}, "custom_fields.nope"),
    ):
        with pytest.raises(ValidationError) as caught:
            services.activity_update(actor=owner, activity=task, **bad)
        assert field in caught.value.message_dict


def test_rep_changes_only_own_and_shared_for_edit(owner: User, rep: User, other_rep: User) -> None:
    theirs = services.activity_create(actor=owner, type="task", subject="Boss's", owner=other_rep)
    for write in (
        lambda: services.activity_update(actor=rep, activity=theirs, subject="mine now"),
        lambda: services.activity_complete(actor=rep, activity=theirs),
        lambda: services.activity_reschedule(actor=rep, activity=theirs, start_at=T0),
        lambda: services.activity_delete(actor=rep, activity=theirs),
    ):
        with pytest.raises(PermissionDenied):
            write()
    services.activity_share(actor=owner, activity=theirs, user=rep, level="edit")
    services.activity_complete(actor=rep, activity=theirs, outcome="completed")
    with pytest.raises(PermissionDenied):  # editing is not deleting
        services.activity_delete(actor=rep, activity=theirs)
    mine = services.activity_create(actor=rep, type="call", subject="Mine", due_at=T0)
    pk = mine.pk
    services.activity_delete(actor=rep, activity=mine)
    assert not Activity.objects.filter(pk=pk).exists()
    assert AuditEntry.objects.filter(action="activity.deleted", target_id=str(pk)).exists()


def test_readonly_creates_nothing(readonly: User) -> None:
    with pytest.raises(PermissionDenied):
        services.activity_create(actor=readonly, type="task", subject="No")


def test_complete_and_reopen(owner: User) -> None:
    call = services.activity_create(actor=owner, type="call", subject="Call Ada", due_at=T0)
    services.activity_complete(actor=owner, activity=call, outcome="no_answer")
    call.refresh_from_db()
    assert call.done and call.outcome == "no_answer" and call.done_at
    first_done = call.done_at
    services.activity_complete(actor=owner, activity=call, outcome="connected")
    call.refresh_from_db()
    assert call.done_at == first_done and call.outcome == "connected"
    with pytest.raises(ValidationError):
        services.activity_complete(actor=owner, activity=call, outcome="bogus")
    services.activity_complete(actor=owner, activity=call, done=False)
    call.refresh_from_db()
    assert not call.done and call.done_at is None and call.outcome == ""


def test_reschedule_keeps_length_moves_due_and_switches_all_day(owner: User) -> None:
    meeting = services.activity_create(
        actor=owner, type="meeting", subject="M", start_at=T0, end_at=T0 + timedelta(hours=2)
    )
    moved = services.activity_reschedule(
        actor=owner, activity=meeting, start_at=T0 + timedelta(days=1)
    )
    assert moved.start_at == T0 + timedelta(days=1)
    assert moved.end_at == T0 + timedelta(days=1, hours=2)
    assert moved.scheduled_at == moved.start_at
    resized = services.activity_reschedule(
        actor=owner, activity=meeting, start_at=T0, end_at=T0 + timedelta(minutes=45)
    )
    assert resized.end_at == T0 + timedelta(minutes=45)
    whole_day = services.activity_reschedule(
        actor=owner, activity=meeting, start_at=datetime(2026, 12, 3, tzinfo=UTC), all_day=True
    )
    assert whole_day.all_day and whole_day.end_at == whole_day.start_at
    timed_again = services.activity_reschedule(
        actor=owner, activity=meeting, start_at=T0, all_day=False
    )
    assert timed_again.end_at == T0 + timedelta(minutes=30)
    task = services.activity_create(actor=owner, type="task", subject="Due", due_at=T0)
    services.activity_reschedule(actor=owner, activity=task, start_at=T0 + timedelta(days=2))
    task.refresh_from_db()
    assert task.due_at == T0 + timedelta(days=2) and task.start_at is None
    assert task.scheduled_at == task.due_at
    with pytest.raises(ValidationError):
        services.activity_reschedule(actor=owner, activity=task, start_at=None)  # type: ignore[arg-type]
    assert AuditEntry.objects.filter(action="activity.rescheduled").count() == 5


def test_activities_appear_on_linked_timelines(owner: User) -> None:
    contact = contact_create(actor=owner, first_name="Tim", last_name="Line")
    company = company_create(actor=owner, name="Timeline Ltd")
    past = services.activity_create(
        actor=owner,
        type="meeting",
        subject="Demo with Acme",
        start_at=timezone.now() - timedelta(days=1),
        contacts=[contact],
        companies=[company],
        location="Zoom",
    )
    services.activity_complete(actor=owner, activity=past, outcome="completed")
    services.activity_create(
        actor=owner,
        type="call",
        subject="Follow up",
        due_at=timezone.now() + timedelta(days=3),
        contacts=[contact],
    )
    services.activity_create(
        actor=owner,
        type="task",
        subject="Late",
        due_at=timezone.now() - timedelta(days=3),
        contacts=[contact],
    )
    items, _ = timeline.timeline(contact, "contact")
    activity_items = [i for i in items if i.kind == "activity"]
    titles = {i.title for i in activity_items}
    assert titles == {"Meeting: Demo with Acme", "Call: Follow up", "Task: Late"}
    demo = next(i for i in activity_items if i.title == "Meeting: Demo with Acme")
    assert "Done" in demo.body and "Outcome: Completed" in demo.body and "Zoom" in demo.body
    assert demo.detail["done"] is True and demo.detail["url"] == f"/activities/{past.pk}/"
    late = next(i for i in activity_items if i.title == "Task: Late")
    assert "Overdue" in late.body
    only, _ = timeline.timeline(contact, "contact", kind="activity")
    assert {i.kind for i in only} == {"activity"}
    assert timeline.timeline(contact, "contact", kind="note")[0] == []
    company_items, _ = timeline.timeline(company, "company", kind="activity")
    assert [i.title for i in company_items] == ["Meeting: Demo with Acme"]


def test_calendar_feed_tokens(owner: User) -> None:
    feed, token = services.calendar_feed_create(actor=owner)
    assert feed.token_hash == services.feed_token_hash(token) and token not in feed.token_hash
    assert feed.prefix == token[:8]
    again, token2 = services.calendar_feed_create(actor=owner)
    assert token2 != token
    from apps.activities.models import CalendarFeed

    assert list(CalendarFeed.objects.filter(user=owner)) == [again]
    assert services.calendar_feed_revoke(actor=owner) is True
    assert services.calendar_feed_revoke(actor=owner) is False
    assert services.calendar_feed_revoke(actor="a key") is False
    with pytest.raises(PermissionDenied):
        services.calendar_feed_create(actor="a key")


def test_selector_search_and_assignee_from_a_plain_dict(owner: User, rep: User) -> None:
    from apps.activities import selectors

    services.activity_create(actor=owner, type="task", subject="Quarterly numbers", owner=rep)
    services.activity_create(actor=owner, type="task", subject="Lunch")
    found = selectors.activity_list(user=owner, search="quarterly")
    assert [a.subject for a in found] == ["Quarterly numbers"]
    mine = selectors.activity_list(user=owner, params={"assignee": str(rep.pk)})
    assert [a.subject for a in mine] == ["Quarterly numbers"]


def test_at_most_a_hundred_links_of_a_kind(owner: User) -> None:
    with pytest.raises(ValidationError) as caught:
        services.activity_create(
            actor=owner, type="task", subject="Too many", contacts=list(range(1, 102))
        )
    assert "contacts" in caught.value.message_dict


def test_unknown_time_zone_falls_back_to_utc(owner: User) -> None:
    owner.time_zone = "Mars/Olympus_Mons"
    owner.save()
    day = services.activity_create(
        actor=owner,
        type="task",
        subject="Somewhere",
        due_at=datetime(2026, 12, 1, 23, 30, tzinfo=UTC),
        all_day=True,
    )
    assert day.due_at == datetime(2026, 12, 1, tzinfo=UTC)
    naive = services.activity_create(
        actor=owner,
        type="meeting",
        subject="Naive all-day",
        start_at=datetime(2026, 12, 5, 10, 0),
        all_day=True,
    )
    assert naive.start_at == datetime(2026, 12, 5, tzinfo=UTC)
