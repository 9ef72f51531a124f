"""Lead conversion: contact, company and deal in one transaction; custom fields by mapping;
tags, activities and the lead's timeline carried over; never twice; never half done."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from apps.accounts.models import User
from apps.activities.models import Activity
from apps.audit.models import AuditEntry
from apps.companies.models import Company
from apps.companies.services import company_create
from apps.contacts.models import Contact
from apps.contacts.services import contact_create
from apps.deals.models import Deal
from apps.leads.conversion import default_mapping, lead_convert
from apps.leads.models import Lead, LeadSource, LeadStatus
from apps.records import timeline
from apps.records.services import customfield_create, note_add
from tests.leads.conftest import make_lead

pytestmark = pytest.mark.django_db


def _lead(owner: User, **fields: object) -> Lead:
    values: dict = {
        "first_name": "Jane",
        "last_name": "Doe",
        "email": "jane@acme.example",
        "phone": "+44 20 7946 0958",
        "company_name": "Acme Rockets",
        "title": "CTO",
        "tags": ["hot"],
    }
    values.update(fields)
    return make_lead(owner, **values)


def test_convert_creates_contact_company_and_deal(owner: User, website: LeadSource) -> None:
    lead = _lead(owner, source=website)
    result = lead_convert(
        actor=owner,
        lead=lead,
        create_deal=True,
        deal={"title": "Rockets for Acme", "value": "12500", "currency": "EUR"},
    )
    contact, company, deal = result.contact, result.company, result.deal
    assert (contact.first_name, contact.last_name, contact.email) == ("Jane", "Doe", lead.email)
    assert contact.phone == "+442079460958" and contact.title == "CTO"
    assert contact.source == "Website" and contact.owner == lead.owner
    assert company is not None and company.name == "Acme Rockets"
    assert [c.pk for c in contact.companies.all()] == [company.pk]
    assert isinstance(deal, Deal) and deal.title == "Rockets for Acme"
    assert str(deal.value) == "12500.00" and deal.currency == "EUR"
    assert list(deal.contacts.all()) == [contact] and list(deal.companies.all()) == [company]
    # Tags move from the lead to the new records.
    assert [t.name for t in contact.tags.all()] == ["hot"]
    assert [t.name for t in deal.tags.all()] == ["hot"]
    lead.refresh_from_db()
    assert lead.status == LeadStatus.CONVERTED and lead.converted_at is not None
    assert (lead.converted_contact, lead.converted_company, lead.converted_deal) == (
        contact,
        company,
        deal,
    )
    assert not lead.tags.exists()
    assert AuditEntry.objects.filter(action="lead.converted", target_id=str(lead.pk)).exists()


def test_a_failing_deal_leaves_nothing_half_done(owner: User) -> None:
    lead = _lead(owner)
    contacts, companies = Contact.objects.count(), Company.objects.count()
    with pytest.raises(ValidationError) as caught:
        lead_convert(actor=owner, lead=lead, create_deal=True, deal={"value": "lots"})
    assert "deal.value" in caught.value.message_dict
    assert (Contact.objects.count(), Company.objects.count()) == (contacts, companies)
    lead.refresh_from_db()
    assert lead.status == LeadStatus.NEW and lead.converted_contact is None
    assert [t.name for t in lead.tags.all()] == ["hot"]
    with pytest.raises(ValidationError, match="Unknown deal field"):
        lead_convert(actor=owner, lead=lead, create_deal=True, deal={"colour": "red"})


def test_converted_once_only_and_only_by_who_may_change(
    owner: User, rep: User, other_rep: User
) -> None:
    lead = _lead(rep)
    with pytest.raises(PermissionDenied):
        lead_convert(actor=other_rep, lead=lead)
    lead_convert(actor=rep, lead=lead)
    with pytest.raises(ValidationError, match="already converted") as caught:
        lead_convert(actor=owner, lead=lead)
    assert caught.value.message_dict["lead"]
    with pytest.raises(ValidationError, match="company_mode"):
        lead_convert(actor=owner, lead=_lead(owner, email="x@y.example"), company_mode="maybe")


def test_links_existing_contact_and_company(owner: User) -> None:
    company = company_create(actor=owner, name="Acme Rockets Ltd", domain="acme.example")
    contact = contact_create(actor=owner, first_name="Jane", last_name="Doe", tags=["vip"])
    lead = _lead(owner, company_name="")
    result = lead_convert(actor=owner, lead=lead, contact=contact, company=company)
    assert result.contact == contact and result.company == company
    assert {t.name for t in contact.tags.all()} == {"vip", "hot"}
    assert list(contact.companies.all()) == [company]
    assert Contact.objects.filter(first_name="Jane").count() == 1
    # "auto" finds the company by the (work) email's domain when no name matches.
    other = _lead(owner, first_name="Joe", email="joe@acme.example", company_name="")
    assert lead_convert(actor=owner, lead=other).company == company
    # ... and by name; "new" always creates; "none" links none.
    by_name = _lead(owner, first_name="Kay", email="kay@gmail.com", company_name="acme rockets ltd")
    assert lead_convert(actor=owner, lead=by_name).company == company
    fresh = _lead(owner, first_name="Lou", email="lou@gmail.com", company_name="Acme Rockets Ltd")
    created = lead_convert(actor=owner, lead=fresh, company_mode="new").company
    assert created is not None and created != company
    alone = _lead(owner, first_name="Mo", email="mo@gmail.com")
    assert lead_convert(actor=owner, lead=alone, company_mode="none").company is None


def test_linking_what_the_actor_may_not_touch_is_refused(
    owner: User, rep: User, other_rep: User
) -> None:
    hidden_company = company_create(actor=other_rep, name="Secret Co")
    contact = contact_create(actor=other_rep, first_name="Theirs")
    lead = _lead(rep)
    with pytest.raises(ValidationError) as caught:
        lead_convert(actor=rep, lead=lead, company=hidden_company)
    assert "company" in caught.value.message_dict
    with pytest.raises(ValidationError) as caught:
        lead_convert(actor=rep, lead=lead, contact=contact)
    assert "contact" in caught.value.message_dict


def test_custom_fields_by_default_mapping_and_explicit_mapping(owner: User) -> None:
    customfield_create(actor=owner, entity="lead", label="Budget", type="number")
    customfield_create(actor=owner, entity="lead", label="Interest", type="text")
    customfield_create(actor=owner, entity="lead", label="Seats", type="number")
    customfield_create(actor=owner, entity="deal", label="Budget", type="number")
    customfield_create(actor=owner, entity="contact", label="Interest", type="text")
    customfield_create(actor=owner, entity="company", label="Seats", type="date")  # incompatible
    customfield_create(actor=owner, entity="company", label="Headcount", type="number")
    assert default_mapping() == {"budget": ["deal.budget"], "interest": ["contact.interest"]}
    lead = _lead(owner, custom_fields={"budget": 900, "interest": "Rockets", "seats": 40})
    result = lead_convert(actor=owner, lead=lead, create_deal=True)
    assert result.deal.custom_fields == {"budget": 900}
    assert result.contact.custom_fields == {"interest": "Rockets"}
    assert result.company is not None and result.company.custom_fields == {}
    other = _lead(
        owner,
        first_name="Ed",
        email="ed@b.example",
        company_name="Bee",
        custom_fields={"seats": 40, "interest": "x"},
    )
    mapped = lead_convert(
        actor=owner,
        lead=other,
        field_mapping={"seats": "company.headcount", "interest": None},
    )
    assert mapped.company is not None and mapped.company.custom_fields == {"headcount": 40}
    assert mapped.contact.custom_fields == {}
    for bad in ({"nope": "contact.x"}, {"seats": "contact.nope"}, {"seats": "planet.x"}):
        with pytest.raises(ValidationError) as caught:
            lead_convert(
                actor=owner,
                lead=_lead(owner, first_name="Z", email="z@z.example"),
                field_mapping=bad,
            )
        assert "field_mapping" in caught.value.message_dict
    with pytest.raises(ValidationError):
        not_a_dict: Any = ["x"]
        lead_convert(
            actor=owner,
            lead=_lead(owner, first_name="Y", email="y@z.example"),
            field_mapping=not_a_dict,
        )


def test_existing_company_gets_only_empty_custom_fields(owner: User) -> None:
    customfield_create(actor=owner, entity="lead", label="Region", type="text")
    customfield_create(actor=owner, entity="company", label="Region", type="text")
    full = company_create(actor=owner, name="Full", custom_fields={"region": "EU"})
    empty = company_create(actor=owner, name="Empty")
    lead = _lead(owner, custom_fields={"region": "US"})
    lead_convert(actor=owner, lead=lead, company=full)
    full.refresh_from_db()
    assert full.custom_fields == {"region": "EU"}
    other = _lead(owner, first_name="Q", email="q@q.example", custom_fields={"region": "US"})
    lead_convert(actor=owner, lead=other, company=empty)
    empty.refresh_from_db()
    assert empty.custom_fields == {"region": "US"}


def test_activities_and_timeline_follow_the_lead(owner: User) -> None:
    lead = _lead(owner)
    note_add(actor=owner, entity="lead", record=lead, body="Asked for a demo on Friday")
    activity = Activity.objects.create(
        subject="Call Jane", owner=owner, scheduled_at=timezone.now() + timedelta(days=1)
    )
    activity.leads.add(lead)
    result = lead_convert(actor=owner, lead=lead, create_deal=True)
    assert list(activity.contacts.all()) == [result.contact]
    assert list(activity.companies.all()) == [result.company]
    assert list(activity.deals.all()) == [result.deal]
    records: list[tuple[Any, str]] = [
        (result.contact, "contact"),
        (result.company, "company"),
        (result.deal, "deal"),
    ]
    for record, entity in records:
        items, _ = timeline.timeline(record, entity)
        titles = [i.title for i in items]
        assert f"From lead {lead}: Note" in titles, titles
        assert f"From lead {lead}: Created" in titles
        assert f"Converted from lead {lead}" in titles
        note = next(i for i in items if i.title.endswith(": Note"))
        assert note.body == "Asked for a demo on Friday"
    notes_only, _ = timeline.timeline(result.contact, "contact", kind="note")
    assert [i.title for i in notes_only] == [f"From lead {lead}: Note"]
    changes_only, _ = timeline.timeline(result.contact, "contact", kind="change")
    assert all(i.kind == "change" for i in changes_only)
    # Records that did not come from a lead show nothing extra.
    plain = contact_create(actor=owner, first_name="Plain")
    assert [i.title for i in timeline.timeline(plain, "contact")[0]] == ["Created"]
