"""Lead services: create/update/delete with sources, statuses, custom fields, tags and search;
duplicates against leads and contacts; permissions; lead sources; merge."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from apps.accounts.models import User
from apps.audit.models import AuditEntry
from apps.contacts.services import contact_create
from apps.leads import selectors, services
from apps.leads.models import Lead, LeadSource, LeadStatus
from apps.records import search
from apps.records.services import customfield_create
from tests.leads.conftest import make_lead

pytestmark = pytest.mark.django_db


def test_create_with_source_status_utm_tags_and_custom_fields(
    owner: User, website: LeadSource
) -> None:
    customfield_create(actor=owner, entity="lead", label="Budget", type="number")
    lead = services.lead_create(
        actor=owner,
        first_name=" Jane ",
        last_name="Doe",
        email="JANE@Acme.example",
        phone="+44 20 7946 0958",
        company_name="Acme",
        source="website",
        status="contacted",
        utm_source="google",
        utm_campaign="spring-sale",
        referrer="https://www.google.com/",
        landing_page="https://acme.example/pricing",
        tags=["hot"],
        custom_fields={"budget": "5000"},
    )
    assert lead.first_name == "Jane" and lead.email == "jane@acme.example"
    assert lead.phone == "+442079460958"
    assert lead.source == website and lead.status == "contacted"
    assert lead.owner == owner and lead.custom_fields == {"budget": 5000}
    assert [t.name for t in lead.tags.all()] == ["hot"]
    assert AuditEntry.objects.filter(action="lead.created", target_id=str(lead.pk)).exists()
    # The search box finds it by name, company, email.
    for text in ("jane doe", "acme", "jane@acme"):
        assert lead in search.matching(Lead.objects.all(), text)
    # By id too, and sources may be given as objects.
    other = make_lead(owner, first_name="Other", source=str(website.pk))
    assert other.source == website
    assert make_lead(owner, first_name="Obj", source=website).source == website


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"title": "Nobody"}, "first_name"),
        ({"first_name": "X", "email": "not-an-email"}, "email"),
        ({"first_name": "X", "phone": "12"}, "phone"),
        ({"first_name": "X", "source": "Carrier pigeon"}, "source"),
        ({"first_name": "X", "status": "won"}, "status"),
        ({"first_name": "X", "status": "converted"}, "status"),
        ({"first_name": "X", "referrer": "not a url"}, "referrer"),
        ({"first_name": "X", "custom_fields": {"nope": 1}}, "custom_fields.nope"),
    ],
)
def test_bad_input_names_the_field(owner: User, fields: dict, field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        make_lead(owner, **fields)
    assert field in caught.value.message_dict


def test_duplicates_against_leads_and_contacts(owner: User) -> None:
    first = services.lead_create(actor=owner, first_name="Grace", email="grace@navy.example")
    with pytest.raises(services.LeadDuplicateSuspected) as caught:
        services.lead_create(actor=owner, first_name="G", email="GRACE@navy.example")
    assert caught.value.leads == [first] and caught.value.contacts == []
    contact = contact_create(
        actor=owner, first_name="Alan", last_name="Turing", phone="+441234567890"
    )
    with pytest.raises(services.LeadDuplicateSuspected) as caught:
        services.lead_create(actor=owner, first_name="Al", phone="+44 1234 567890")
    assert caught.value.contacts == [contact] and caught.value.ids == [contact.pk]
    with pytest.raises(services.LeadDuplicateSuspected):
        services.lead_create(actor=owner, first_name="Grace", last_name="")
    # Allowed anyway, and an edit checks only when asked.
    twin = services.lead_create(
        actor=owner, first_name="Grace", email="grace@navy.example", allow_duplicate=True
    )
    services.lead_update(actor=owner, lead=twin, title="Admiral")
    with pytest.raises(services.LeadDuplicateSuspected):
        services.lead_update(actor=owner, lead=twin, title="Rear admiral", allow_duplicate=False)
    pairs = selectors.lead_duplicate_pairs(user=owner)
    assert any(set(p["ids"]) == {first.pk, twin.pk} and "same email" in p["reasons"] for p in pairs)


def test_update_status_rules_and_delete(owner: User, website: LeadSource) -> None:
    lead = make_lead(owner, first_name="Kim", source=website)
    services.lead_update(actor=owner, lead=lead, status="qualified", source=None, tags=["a"])
    lead.refresh_from_db()
    assert lead.status == "qualified" and lead.source is None
    with pytest.raises(ValidationError) as caught:
        services.lead_update(actor=owner, lead=lead, status="converted")
    assert "status" in caught.value.message_dict
    with pytest.raises(ValidationError):
        services.lead_update(actor=owner, lead=lead, first_name="", last_name="", email="")
    lead.status = LeadStatus.CONVERTED
    lead.save()
    with pytest.raises(ValidationError, match="status stays"):
        services.lead_update(actor=owner, lead=lead, status="new")
    services.lead_delete(actor=owner, lead=lead)
    assert not Lead.objects.filter(pk=lead.pk).exists()
    assert AuditEntry.objects.filter(action="lead.deleted").exists()


def test_reps_see_and_change_only_their_own(
    owner: User, rep: User, other_rep: User, readonly: User
) -> None:
    mine = make_lead(rep, first_name="Mine")
    theirs = make_lead(other_rep, first_name="Theirs")
    assert list(selectors.lead_list(user=rep)) == [mine]
    assert set(selectors.lead_list(user=readonly)) >= {mine, theirs}
    with pytest.raises(PermissionDenied):
        services.lead_update(actor=rep, lead=theirs, title="x")
    with pytest.raises(PermissionDenied):
        services.lead_delete(actor=rep, lead=theirs)
    with pytest.raises(PermissionDenied):
        services.lead_create(actor=readonly, first_name="No")
    services.lead_share(actor=other_rep, lead=theirs, user=rep, level="edit")
    services.lead_update(actor=rep, lead=theirs, title="Shared")
    assert set(selectors.lead_list(user=rep)) == {mine, theirs}
    with pytest.raises(ValidationError):
        services.lead_update(actor=owner, lead=mine, owner=User(is_active=False))


def test_lead_sources_are_admin_edited(owner: User, rep: User) -> None:
    source = services.leadsource_create(actor=owner, name="  Trade   show ")
    assert source.name == "Trade show" and source.order >= 1
    with pytest.raises(ValidationError, match="already"):
        services.leadsource_create(actor=owner, name="trade SHOW")
    with pytest.raises(ValidationError):
        services.leadsource_create(actor=owner, name=" ")
    with pytest.raises(ValidationError):
        services.leadsource_create(actor=owner, name="x" * 101)
    with pytest.raises(PermissionDenied):
        services.leadsource_create(actor=rep, name="Mine")
    services.leadsource_update(actor=owner, source=source, name="Expo", order=7, archived=True)
    source.refresh_from_db()
    assert (source.name, source.order, source.archived) == ("Expo", 7, True)
    lead = make_lead(owner, first_name="From expo", source="expo")
    services.leadsource_delete(actor=owner, source=source)
    lead.refresh_from_db()
    assert lead.source is None and lead.first_name == "From expo"


def test_merge_and_undo(owner: User) -> None:
    survivor = make_lead(owner, first_name="Ann", email="ann@x.example", tags=["a"])
    merged = make_lead(owner, first_name="Ann", email="ann@x.example", title="CTO", tags=["b"])
    record = services.lead_merge(
        actor=owner, survivor=survivor, merged=[merged], values={"title": merged.pk}
    )
    survivor.refresh_from_db()
    assert survivor.title == "CTO" and {t.name for t in survivor.tags.all()} == {"a", "b"}
    assert not Lead.objects.filter(pk=merged.pk).exists()
    services.lead_merge_undo(actor=owner, merge=record)
    assert Lead.objects.filter(pk=merged.pk).exists()
    done = make_lead(owner, first_name="Done")
    done.status = LeadStatus.CONVERTED
    done.save()
    with pytest.raises(ValidationError, match="converted"):
        services.lead_merge(actor=owner, survivor=survivor, merged=[done])
