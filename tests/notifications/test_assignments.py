"""Assigning a record to someone else tells them, once, with a link to the record: on creation,
on a change of owner, from a key, and from a web form's round robin (no person acting)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from apps.accounts.models import User
from apps.activities.services import activity_create, activity_update
from apps.apikeys.api.authentication import ApiKeyPrincipal
from apps.apikeys.services import api_key_create
from apps.companies.services import company_create, company_update
from apps.contacts.services import contact_create, contact_update
from apps.deals.services import deal_create, deal_update
from apps.leads.services import lead_create, lead_update
from apps.leads.webforms import webform_create, webform_submit
from apps.notifications.models import Notification

pytestmark = pytest.mark.django_db
WHEN = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)

# entity -> (create(actor, owner), update(actor, record, owner), expected title start, path)
ENTITIES: dict[str, tuple[Callable[..., Any], Callable[..., Any], str, str]] = {
    "contact": (
        lambda actor, owner: contact_create(
            actor=actor, first_name="Ada", last_name="Lovelace", owner=owner, allow_duplicate=True
        ),
        lambda actor, record, owner: contact_update(actor=actor, contact=record, owner=owner),
        "You were assigned a contact: Ada Lovelace",
        "/contacts/{}/",
    ),
    "company": (
        lambda actor, owner: company_create(
            actor=actor, name="Globex", owner=owner, allow_duplicate=True
        ),
        lambda actor, record, owner: company_update(actor=actor, company=record, owner=owner),
        "You were assigned a company: Globex",
        "/companies/{}/",
    ),
    "deal": (
        lambda actor, owner: deal_create(actor=actor, title="Globex renewal", owner=owner),
        lambda actor, record, owner: deal_update(actor=actor, deal=record, owner=owner),
        "You were assigned a deal: Globex renewal",
        "/deals/{}/",
    ),
    "lead": (
        lambda actor, owner: lead_create(
            actor=actor, first_name="Lee", last_name="Lead", owner=owner, allow_duplicate=True
        ),
        lambda actor, record, owner: lead_update(actor=actor, lead=record, owner=owner),
        "You were assigned a lead: Lee Lead",
        "/leads/{}/",
    ),
    "activity": (
        lambda actor, owner: activity_create(
            actor=actor, type="call", subject="Call the CFO", due_at=WHEN, owner=owner
        ),
        lambda actor, record, owner: activity_update(actor=actor, activity=record, owner=owner),
        "You were assigned a call: Call the CFO",
        "/activities/{}/",
    ),
}


def _assignments(user: User) -> list[Notification]:
    return list(Notification.objects.filter(recipient=user, kind="assignment"))


@pytest.mark.parametrize("entity", sorted(ENTITIES))
def test_creating_a_record_for_someone_else_tells_them(entity: str, owner: User, rep: User) -> None:
    create, _, title, path = ENTITIES[entity]
    record = create(owner, rep)
    [told] = _assignments(rep)
    assert told.title == title
    assert told.url == path.format(record.pk)
    assert told.actor == owner
    assert told.body == f"Assigned to you by {owner.get_full_name()}."
    assert _assignments(owner) == []


@pytest.mark.parametrize("entity", sorted(ENTITIES))
def test_records_of_ones_own_tell_nobody(entity: str, owner: User, rep: User) -> None:
    create, _, _, _ = ENTITIES[entity]
    create(rep, None)  # owner defaults to the actor
    create(rep, rep)
    assert Notification.objects.count() == 0


@pytest.mark.parametrize("entity", sorted(ENTITIES))
def test_changing_the_owner_tells_the_new_owner_only(
    entity: str, owner: User, rep: User, other_rep: User
) -> None:
    create, update, title, path = ENTITIES[entity]
    record = create(owner, None)
    assert Notification.objects.count() == 0
    update(owner, record, rep)
    [told] = _assignments(rep)
    assert told.title == title and told.url == path.format(record.pk)
    # A save that keeps the owner tells nobody again.
    update(owner, type(record).objects.get(pk=record.pk), rep)
    assert len(_assignments(rep)) == 1
    # Reassigned on to another: only the new owner hears of it.
    update(owner, type(record).objects.get(pk=record.pk), other_rep)
    assert len(_assignments(other_rep)) == 1 and len(_assignments(rep)) == 1
    # Taking it back oneself tells nobody.
    update(owner, type(record).objects.get(pk=record.pk), owner)
    assert _assignments(owner) == []


def test_a_key_assigns_in_the_name_of_its_maker(owner: User, rep: User) -> None:
    key = api_key_create(name="Sync", role="admin", created_by=owner).key
    deal = deal_create(actor=ApiKeyPrincipal(key), title="Initech", owner=rep)
    [told] = _assignments(rep)
    assert told.actor == owner and told.url == f"/deals/{deal.pk}/"
    assert "Sync" in told.body  # the key's label says how it happened


def test_round_robin_web_form_leads_tell_each_owner(
    owner: User, rep: User, other_rep: User
) -> None:
    form = webform_create(
        actor=owner,
        name="Contact us",
        fields=[{"target": "email", "label": "Email", "required": True}],
        assignment="round_robin",
        round_robin_users=[rep, other_rep],
    )
    first = webform_submit(form=form, values={"email": "a@example.com"}, tracking={})
    second = webform_submit(form=form, values={"email": "b@example.com"}, tracking={})
    [to_rep] = _assignments(rep)
    [to_other] = _assignments(other_rep)
    assert {to_rep.url, to_other.url} == {f"/leads/{first.pk}/", f"/leads/{second.pk}/"}
    for told in (to_rep, to_other):
        assert told.actor is None
        assert told.title == "You were assigned a lead: " + (
            "a@example.com" if told.url == f"/leads/{first.pk}/" else "b@example.com"
        )
        assert told.body == "Assigned to you in turn from the web form “Contact us”."


def test_a_failed_write_tells_nobody(owner: User, rep: User) -> None:
    from django.core.exceptions import ValidationError
    from django.db import transaction

    with pytest.raises(ValidationError), transaction.atomic():
        contact_create(actor=owner, first_name="", last_name="", owner=rep)
    assert Notification.objects.count() == 0
