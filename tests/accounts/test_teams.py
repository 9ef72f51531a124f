from __future__ import annotations

import pytest
from django.test import Client
from django_tenants.utils import schema_context

from apps.accounts.models import Team
from apps.audit.models import AuditEntry
from tenants.models import Tenant
from tests.factories import make_user

pytestmark = pytest.mark.django_db


def test_admin_builds_a_team_with_a_manager(owner_client_a: Client, tenant_a: Tenant) -> None:
    with schema_context(tenant_a.schema_name):
        manager = make_user(email="boss@alpha.test", full_name="Bea Boss")
        rep = make_user(email="rep1@alpha.test", full_name="Rick Rep")
    assert b"No teams yet" in owner_client_a.get("/settings/teams/").content
    created = owner_client_a.post(
        "/settings/teams/", {"name": "EMEA", "manager": manager.pk}, follow=True
    )
    assert b"Team EMEA created" in created.content
    with schema_context(tenant_a.schema_name):
        team = Team.objects.get(name="EMEA")
        assert list(team.members.all()) == [manager]  # the manager is a member
    owner_client_a.post(f"/settings/teams/{team.pk}/", {"manager": manager.pk, "members": [rep.pk]})
    listing = owner_client_a.get("/settings/teams/").content.decode()
    assert "EMEA" in listing and "Bea Boss" in listing and "Rick Rep" in listing
    with schema_context(tenant_a.schema_name):
        assert set(team.members.all()) == {manager, rep}
        change = AuditEntry.objects.get(action="team.changed")
    assert change.detail["added"] == ["rep1@alpha.test"]


def test_duplicate_and_blank_team_names_are_refused(owner_client_a: Client) -> None:
    owner_client_a.post("/settings/teams/", {"name": "APAC"})
    again = owner_client_a.post("/settings/teams/", {"name": "apac"})
    assert b"already a team called" in again.content
    blank = owner_client_a.post("/settings/teams/", {"name": " "})
    assert b"This field is required" in blank.content or b"needs a name" in blank.content


def test_deleting_a_team_keeps_its_members(owner_client_a: Client, tenant_a: Tenant) -> None:
    with schema_context(tenant_a.schema_name):
        member = make_user(email="stays@alpha.test")
        team = Team.objects.create(name="Temp")
        team.members.add(member)
    owner_client_a.post(f"/settings/teams/{team.pk}/delete/")
    with schema_context(tenant_a.schema_name):
        assert not Team.objects.filter(pk=team.pk).exists()
        assert member.__class__.objects.filter(pk=member.pk).exists()
        assert AuditEntry.objects.filter(action="team.deleted").exists()


def test_teams_are_per_organisation(tenant_a: Tenant, tenant_b: Tenant) -> None:
    with schema_context(tenant_a.schema_name):
        Team.objects.create(name="Alpha only")
    with schema_context(tenant_b.schema_name):
        assert not Team.objects.filter(name="Alpha only").exists()
