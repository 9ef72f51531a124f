"""Merging companies and contacts moves everything to the survivor and undo puts it back;
merging needs delete access on what is merged away; undo expires after 30 days."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from apps.accounts.models import User
from apps.accounts.roles import Role
from apps.accounts.services import user_set_role
from apps.companies.models import Company, CompanyUserObjectPermission
from apps.companies.services import (
    company_create,
    company_merge,
    company_merge_undo,
    company_share,
)
from apps.contacts.models import ContactCompany
from apps.contacts.services import contact_create, contact_merge, contact_merge_undo
from apps.records.models import Merge
from apps.records.services import note_add
from tests.factories import make_user

pytestmark = pytest.mark.django_db


def _owner() -> User:
    return User.objects.get(email="owner@alpha.test")


def _rep(email: str) -> User:
    rep = make_user(email=email, password="a-long-test-password")
    user_set_role(user=rep, role=Role.REP)
    return User.objects.get(pk=rep.pk)


def test_company_merge_moves_contacts_shares_tags_and_values(in_tenant_a: Any) -> None:
    owner = _owner()
    viewer = _rep("merge-viewer@alpha.test")
    keep = company_create(actor=owner, name="Initrode", domain="initrode.example", tags=["a"])
    gone = company_create(
        actor=owner,
        name="Initrode Inc",
        domain="initrode.com",
        industry="Software",
        tags=["b"],
        allow_duplicate=True,
    )
    both = contact_create(actor=owner, first_name="Both", companies=[keep.pk, gone.pk])
    only = contact_create(actor=owner, first_name="Only", companies=[gone.pk])
    company_share(actor=owner, company=gone, user=viewer, level="view")
    note_add(actor=owner, entity="company", record=gone, body="Signed NDA")
    merge = company_merge(actor=owner, survivor=keep, merged=[gone], values={"industry": gone.pk})
    keep.refresh_from_db()
    assert keep.industry == "Software" and keep.domain == "initrode.example"
    assert sorted(t.name for t in keep.tags.all()) == ["a", "b"]
    assert set(
        ContactCompany.objects.filter(company=keep).values_list("contact__first_name", flat=True)
    ) == {"Both", "Only"}
    assert CompanyUserObjectPermission.objects.filter(user=viewer, content_object=keep).exists()
    assert not Company.objects.filter(pk=gone.pk).exists()
    assert Company.all_objects.get(pk=gone.pk).merged_into_id == keep.pk
    company_merge_undo(actor=owner, merge=merge)
    keep.refresh_from_db()
    assert keep.industry == "" and sorted(t.name for t in keep.tags.all()) == ["a"]
    assert ContactCompany.objects.get(contact=only).company_id == gone.pk
    # The link the survivor already had stays; the merged company keeps its own too.
    assert ContactCompany.objects.filter(contact=both).count() == 2
    assert CompanyUserObjectPermission.objects.filter(user=viewer, content_object=gone).exists()
    assert Company.objects.filter(pk=gone.pk).exists()


def test_merge_needs_delete_access_and_valid_choices(in_tenant_a: Any) -> None:
    owner = _owner()
    rep = _rep("merge-rep@alpha.test")
    mine = contact_create(actor=rep, first_name="Mine")
    not_mine = contact_create(actor=owner, first_name="Not mine")
    with pytest.raises(PermissionDenied, match="delete access"):
        contact_merge(actor=rep, survivor=mine, merged=[not_mine])
    with pytest.raises(ValidationError, match="at least one other"):
        contact_merge(actor=owner, survivor=mine, merged=[mine])
    with pytest.raises(ValidationError, match="not one of the records"):
        contact_merge(actor=owner, survivor=mine, merged=[not_mine], values={"title": 999})
    with pytest.raises(ValidationError, match="not a field that can be merged"):
        contact_merge(actor=owner, survivor=mine, merged=[not_mine], values={"owner_id": 1})


def test_undo_expires_after_thirty_days(in_tenant_a: Any) -> None:
    owner = _owner()
    a = contact_create(actor=owner, first_name="Old", emails=["old@a.example"])
    b = contact_create(
        actor=owner, first_name="Old", emails=["old@b.example"], allow_duplicate=True
    )
    merge = contact_merge(actor=owner, survivor=a, merged=[b])
    Merge.objects.filter(pk=merge.pk).update(created_at=timezone.now() - timedelta(days=31))
    merge.refresh_from_db()
    with pytest.raises(ValidationError, match="30 days"):
        contact_merge_undo(actor=owner, merge=merge)


def test_housekeeping_deletes_records_merged_more_than_thirty_days_ago(in_tenant_a: Any) -> None:
    from apps.contacts.models import Contact
    from apps.core.tasks import prune_expired

    owner = _owner()
    a = contact_create(actor=owner, first_name="Keep", emails=["k@a.example"])
    b = contact_create(actor=owner, first_name="Keep", emails=["k@b.example"], allow_duplicate=True)
    c = contact_create(actor=owner, first_name="Keep", emails=["k@c.example"], allow_duplicate=True)
    old = contact_merge(actor=owner, survivor=a, merged=[b])
    contact_merge(actor=owner, survivor=a, merged=[c])
    Merge.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=31))
    assert prune_expired()["merged_records"] >= 1
    assert not Contact.all_objects.filter(pk=b.pk).exists()
    assert Contact.all_objects.filter(pk=c.pk).exists()  # still undoable
    assert Contact.objects.get(pk=a.pk).emails.count() == 3  # nothing the survivor got is lost


def test_deals_activities_and_converted_leads_follow_a_merged_contact_and_come_back_on_undo(
    in_tenant_a: Any,
) -> None:
    from apps.activities.services import activity_create
    from apps.deals.services import deal_create
    from apps.leads.models import Lead

    owner = _owner()
    keep = contact_create(actor=owner, first_name="Ada", last_name="Keep")
    gone = contact_create(actor=owner, first_name="Ada", last_name="Gone", email="ada@gone.example")
    acme = company_create(actor=owner, name="Merge Acme")
    acme_too = company_create(actor=owner, name="Merge Acme Ltd", allow_duplicate=True)
    shared = deal_create(actor=owner, title="Shared deal", contacts=[keep, gone])
    moved = deal_create(actor=owner, title="Moved deal", contacts=[gone], companies=[acme_too])
    call = activity_create(actor=owner, type="call", subject="Call Ada", contacts=[gone])
    lead = Lead.objects.create(owner=owner, first_name="Ada", converted_contact=gone)

    merge = contact_merge(actor=owner, survivor=keep, merged=[gone])
    assert set(keep.deals.values_list("title", flat=True)) == {"Shared deal", "Moved deal"}
    assert list(keep.activities.all()) == [call]
    lead.refresh_from_db()
    assert lead.converted_contact_id == keep.pk

    contact_merge_undo(actor=owner, merge=merge)
    assert set(keep.deals.values_list("title", flat=True)) == {"Shared deal"}
    assert set(shared.contacts.all()) == {keep, gone}
    assert list(moved.contacts.all()) == [gone] and list(call.contacts.all()) == [gone]
    lead.refresh_from_db()
    assert lead.converted_contact_id == gone.pk

    company_merge(actor=owner, survivor=acme, merged=[acme_too])
    assert list(acme.deals.all()) == [moved]
