"""What a Sales rep and a Read-only user may not do with contacts, tags, views and merges."""

from __future__ import annotations

import pytest
from django.test import Client
from django_tenants.utils import schema_context

from apps.accounts.models import User
from apps.accounts.roles import Role
from apps.accounts.services import user_set_role
from apps.contacts.models import Contact
from apps.contacts.services import contact_create, contact_share
from apps.records.models import SavedView
from apps.records.services import savedview_create
from tenants.models import Tenant
from tests.conftest import login, tenant_client
from tests.factories import make_user

pytestmark = pytest.mark.django_db
JSON = "application/json"


def _member(tenant: Tenant, email: str, role: Role) -> tuple[User, Client]:
    with schema_context(tenant.schema_name):
        user = make_user(email=email, password="a-long-test-password")
        user_set_role(user=user, role=role)
    return user, login(tenant_client(tenant), tenant, email, "a-long-test-password")


def test_rep_sees_own_and_shared_contacts_only(tenant_a: Tenant) -> None:
    rep, client = _member(tenant_a, "perm-rep@alpha.test", Role.REP)
    with schema_context(tenant_a.schema_name):
        owner = User.objects.get(email="owner@alpha.test")
        hidden = contact_create(actor=owner, first_name="Hidden", last_name="Boss")
        viewable = contact_create(actor=owner, first_name="Viewable", last_name="Peer")
        contact_share(actor=owner, contact=viewable, user=rep, level="view")
        mine = contact_create(actor=rep, first_name="Mine", last_name="Own")
    names = {c["first_name"] for c in client.get("/api/v1/contacts/").json()["results"]}
    assert names == {"Mine", "Viewable"}
    assert client.get(f"/api/v1/contacts/{hidden.pk}/").status_code == 404
    assert client.get("/api/v1/contacts/?search=hidden").json()["results"] == []
    assert client.get(f"/contacts/{hidden.pk}/").status_code == 404
    # Viewing is not editing, deleting, merging or tagging.
    assert (
        client.patch(
            f"/api/v1/contacts/{viewable.pk}/", {"title": "x"}, content_type=JSON
        ).status_code
        == 403
    )
    assert client.delete(f"/api/v1/contacts/{viewable.pk}/").status_code == 403
    merge = client.post(
        "/api/v1/contacts/merge/", {"survivor": mine.pk, "merged": [viewable.pk]}, content_type=JSON
    )
    assert merge.status_code == 403
    tagged = client.post(
        "/contacts/bulk/", {"ids": [str(viewable.pk)], "action": "tag_add", "tag": "mine"}
    )
    assert tagged.status_code == 403
    exported = b"".join(client.get("/api/v1/contacts/export/").streaming_content)  # type: ignore[attr-defined]
    assert b"Hidden" not in exported and b"Viewable" in exported
    with schema_context(tenant_a.schema_name):
        assert Contact.objects.get(pk=viewable.pk).title == ""
        assert not Contact.objects.get(pk=viewable.pk).tags.exists()


def test_read_only_changes_nothing(tenant_a: Tenant) -> None:
    _, client = _member(tenant_a, "perm-ro@alpha.test", Role.READONLY)
    assert (
        client.post("/api/v1/contacts/", {"first_name": "No"}, content_type=JSON).status_code == 403
    )
    assert (
        client.post("/api/v1/contacts/bulk/", [{"first_name": "No"}], content_type=JSON).status_code
        == 403
    )
    assert client.post("/api/v1/tags/", {"name": "nope"}, content_type=JSON).status_code == 403
    assert client.get("/contacts/new/").status_code == 403
    with schema_context(tenant_a.schema_name):
        assert not Contact.objects.filter(first_name="No").exists()


def test_saved_views_private_or_shared_and_deleted_by_their_owner(tenant_a: Tenant) -> None:
    _, client = _member(tenant_a, "perm-views@alpha.test", Role.REP)
    with schema_context(tenant_a.schema_name):
        owner = User.objects.get(email="owner@alpha.test")
        private = savedview_create(
            actor=owner, entity="contact", name="Owner's private", query="", columns=[]
        )
        shared = savedview_create(
            actor=owner, entity="contact", name="Team view", query="", columns=[], shared=True
        )
    page = client.get("/contacts/").content.decode()
    assert "Team view" in page and "Owner's private" not in page
    assert client.post(f"/contacts/views/{private.pk}/delete/").status_code == 404
    assert client.post(f"/contacts/views/{shared.pk}/delete/").status_code == 403
    with schema_context(tenant_a.schema_name):
        assert SavedView.objects.filter(pk__in=[private.pk, shared.pk]).count() == 2
