"""@-mentions in activities: who a text mentions, and who is told (once, and only if they may
see the activity)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from apps.accounts.models import User
from apps.activities.services import activity_create, activity_share, activity_update
from apps.notifications.mentions import mentioned_users
from apps.notifications.models import Notification

pytestmark = pytest.mark.django_db
WHEN = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "who"),
    [
        ("@Rita Rep can you call them?", {"rep"}),
        ("thanks @rita   REP!", {"rep"}),
        ("ask @member-rep.", {"rep"}),
        ("(@member-rep) and @member-rep2", {"rep", "other"}),
        ("@Otto Other, @Rita Rep: see below", {"rep", "other"}),
        ("@MEMBER-REP2 please", {"other"}),
        ("mail member-rep@alpha.test about it", set()),  # an address mentions nobody
        ("@Rita Reply is someone else", set()),
        ("@member-rep.lee is someone else", set()),
        ("@member-representative", set()),
        ("no at sign at all", set()),
        ("email@member-rep", set()),
    ],
)
def test_who_a_text_mentions(rep: User, other_rep: User, text: str, who: set[str]) -> None:
    names = {rep.pk: "rep", other_rep.pk: "other"}
    assert {names.get(u.pk, u.email) for u in mentioned_users(text)} == who


def test_inactive_people_are_never_mentioned(rep: User) -> None:
    rep.is_active = False
    rep.save(update_fields=["is_active"])
    assert mentioned_users("@Rita Rep") == []


def _mentions(user: User) -> list[Notification]:
    return list(Notification.objects.filter(recipient=user, kind="mention"))


def test_a_note_mentioning_people_tells_those_who_may_see_it(
    owner: User, rep: User, readonly: User
) -> None:
    note = activity_create(
        actor=owner,
        type="note",
        subject="Pricing call recap",
        body="@Rita Rep and @Rae Readonly: they want 10% off.\nSecond line.",
    )
    # Read-only users see every activity; a rep sees only their own and shared ones.
    [told] = _mentions(readonly)
    assert told.title == f"{owner.get_full_name()} mentioned you in a note: Pricing call recap"
    assert told.url == f"/activities/{note.pk}/"
    assert told.actor == owner
    assert told.body == "@Rita Rep and @Rae Readonly: they want 10% off. Second line."
    assert _mentions(rep) == []
    # Shared with Rita and edited: now she is told; Rae is not told twice.
    activity_share(actor=owner, activity=note, user=rep, level="view")
    activity_update(actor=owner, activity=note, body=note.body + " Thanks!")
    assert len(_mentions(rep)) == 1 and len(_mentions(readonly)) == 1


def test_each_person_is_told_once_per_activity(owner: User, readonly: User) -> None:
    task = activity_create(
        actor=owner, type="task", subject="Prepare quote", due_at=WHEN, body="cc @member-ro"
    )
    activity_update(actor=owner, activity=task, body="cc @member-ro, updated")
    activity_update(actor=owner, activity=task, body="")
    activity_update(actor=owner, activity=task, body="cc @Rae Readonly again")
    [told] = _mentions(readonly)
    assert told.title.endswith("in a task: Prepare quote")


def test_changes_that_leave_the_body_alone_tell_nobody(owner: User, readonly: User) -> None:
    task = activity_create(actor=owner, type="task", subject="Quote", due_at=WHEN, body="hello")
    activity_update(actor=owner, activity=task, subject="Quote v2", body="hello")
    assert _mentions(readonly) == []


def test_mentioning_oneself_tells_nobody(owner: User) -> None:
    owner.full_name = "Olive Owner"
    owner.save(update_fields=["full_name"])
    activity_create(actor=owner, type="note", subject="Me", body="note to self @Olive Owner")
    assert _mentions(owner) == []


def test_the_assignee_is_told_of_both_assignment_and_mention(owner: User, rep: User) -> None:
    activity_create(
        actor=owner,
        type="call",
        subject="Call Globex",
        due_at=WHEN,
        owner=rep,
        body="@Rita Rep they expect your call",
    )
    kinds = sorted(Notification.objects.filter(recipient=rep).values_list("kind", flat=True))
    assert kinds == ["assignment", "mention"]


def test_a_timeline_note_on_a_record_tells_mentioned_people_who_may_see_the_record(
    owner: User, rep: User, readonly: User
) -> None:
    from apps.contacts.services import contact_create
    from apps.records.services import note_add

    contact = contact_create(actor=owner, first_name="Ada", last_name="Byron")
    entry = note_add(
        actor=owner,
        entity="contact",
        record=contact,
        body="@Rae Readonly and @Rita Rep: she asked for the security review.",
    )
    # The Owner's contact is visible to read-only members, not to a rep who neither owns it
    # nor had it shared.
    told = _mentions(readonly)
    who = owner.get_full_name()
    assert [n.title for n in told] == [f"{who} mentioned you in a note on a contact: Ada Byron"]
    assert told[0].url == f"/contacts/{contact.pk}/"
    assert "security review" in told[0].body
    assert _mentions(rep) == []
    assert entry.pk is not None
