"""Who may view, edit and delete which company, by role and situation, through the web app
and the API. The expected outcomes are written out as a table, not derived from the code."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from django.test import Client
from django_tenants.utils import schema_context

from apps.accounts.models import User
from apps.accounts.roles import Role
from apps.accounts.services import team_create, team_update, user_set_role
from apps.companies.models import Company
from apps.companies.services import company_share
from tenants.models import Tenant
from tests.conftest import login, tenant_client
from tests.factories import make_user

pytestmark = pytest.mark.django_db

# V = may view, E = may edit, D = may delete, "-" = may not. Situations: the actor's own
# company, someone else's, one shared with the actor to view or to edit, and one owned by a
# member of the team the actor manages (only a manager manages that team).
TABLE = """
role      own  other  shared_view  shared_edit  team
owner     VED  VED    VED          VED          VED
admin     VED  VED    VED          VED          VED
manager   VED  ---    V--          VE-          VED
rep       VED  ---    V--          VE-          ---
readonly  V--  V--    V--          V--          V--
"""
_HEADER, *_ROWS = [line.split() for line in TABLE.strip().splitlines()]
MATRIX: dict[str, dict[str, str]] = {
    row[0]: dict(zip(_HEADER[1:], row[1:], strict=True)) for row in _ROWS
}
MAY_CREATE = {"owner": True, "admin": True, "manager": True, "rep": True, "readonly": False}


@dataclass
class World:
    actor: User
    outsider: User
    team_member: User


def _world(tenant: Tenant, role: str) -> World:
    with schema_context(tenant.schema_name):
        actor = make_user(email=f"actor-{role}@alpha.test", password="a-long-test-password")
        user_set_role(user=actor, role=Role(role))
        outsider = make_user(email="outsider@alpha.test")
        user_set_role(user=outsider, role=Role.REP)
        member = make_user(email="member@alpha.test")
        user_set_role(user=member, role=Role.REP)
        manager = actor if role == "manager" else make_user(email="mgr@alpha.test")
        team = team_create(name="Field sales", manager=manager, actor=None)
        team_update(team=team, manager=manager, members=[member], actor=None)
    return World(actor=actor, outsider=outsider, team_member=member)


def _record(tenant: Tenant, world: World, situation: str) -> int:
    owner_of = {"own": world.actor, "team": world.team_member}
    with schema_context(tenant.schema_name):
        company = Company.objects.create(
            name=f"{situation} co", owner=owner_of.get(situation, world.outsider)
        )
        admin = User.objects.get(email="owner@alpha.test")
        if situation in ("shared_view", "shared_edit"):
            company_share(
                actor=admin,
                company=company,
                user=world.actor,
                level="view" if situation == "shared_view" else "edit",
            )
        return company.pk


def _exists(tenant: Tenant, pk: int) -> Company | None:
    with schema_context(tenant.schema_name):
        return Company.objects.filter(pk=pk).first()


def _expected_status(allowed: bool, visible: bool, ok: int) -> int:
    return ok if allowed else (403 if visible else 404)


@pytest.mark.parametrize("channel", ["api", "web"])
@pytest.mark.parametrize("situation", ["own", "other", "shared_view", "shared_edit", "team"])
@pytest.mark.parametrize("role", list(MATRIX))
def test_matrix(tenant_a: Tenant, role: str, situation: str, channel: str) -> None:
    world = _world(tenant_a, role)
    client = login(tenant_client(tenant_a), tenant_a, world.actor.email)
    may_view, may_edit, may_delete = (c != "-" for c in MATRIX[role][situation])

    pk = _record(tenant_a, world, situation)
    path = f"/api/v1/companies/{pk}/" if channel == "api" else f"/companies/{pk}/"
    assert client.get(path).status_code == (200 if may_view else 404)

    pk = _record(tenant_a, world, situation)
    if channel == "api":
        edit = client.patch(
            f"/api/v1/companies/{pk}/", {"name": "Renamed"}, content_type="application/json"
        )
        assert edit.status_code == _expected_status(may_edit, may_view, 200)
    else:
        edit = client.post(f"/companies/{pk}/edit/", {"name": "Renamed", "domain": ""})
        assert edit.status_code == _expected_status(may_edit, may_view, 302)
    company = _exists(tenant_a, pk)
    assert company is not None and (company.name == "Renamed") is may_edit

    pk = _record(tenant_a, world, situation)
    if channel == "api":
        gone = client.delete(f"/api/v1/companies/{pk}/")
        assert gone.status_code == _expected_status(may_delete, may_view, 204)
    else:
        gone = client.post(f"/companies/{pk}/delete/")
        assert gone.status_code == _expected_status(may_delete, may_view, 302)
    assert (_exists(tenant_a, pk) is None) is may_delete


@pytest.mark.parametrize("channel", ["api", "web"])
@pytest.mark.parametrize("role", list(MATRIX))
def test_who_may_create(tenant_a: Tenant, role: str, channel: str) -> None:
    world = _world(tenant_a, role)
    client = login(tenant_client(tenant_a), tenant_a, world.actor.email)
    if channel == "api":
        response = client.post(
            "/api/v1/companies/", {"name": f"New by {role}"}, content_type="application/json"
        )
        assert response.status_code == (201 if MAY_CREATE[role] else 403)
    else:
        response = client.post("/companies/new/", {"name": f"New by {role}", "domain": ""})
        assert response.status_code == (302 if MAY_CREATE[role] else 403)
    with schema_context(tenant_a.schema_name):
        created = Company.objects.filter(name=f"New by {role}").first()
    assert (created is not None) is MAY_CREATE[role]
    if created is not None:
        assert created.owner_id == world.actor.pk


def test_sharing_with_a_team_lets_its_members_see(tenant_a: Tenant) -> None:
    world = _world(tenant_a, "rep")
    with schema_context(tenant_a.schema_name):
        company = Company.objects.create(name="Team shared", owner=world.outsider)
        team = world.team_member.teams.get()
        admin = User.objects.get(email="owner@alpha.test")
        company_share(actor=admin, company=company, team=team, level="view")
    member = login(tenant_client(tenant_a), tenant_a, world.team_member.email)
    assert member.get(f"/api/v1/companies/{company.pk}/").status_code == 200
    assert (
        member.patch(
            f"/api/v1/companies/{company.pk}/", {"name": "x"}, content_type="application/json"
        ).status_code
        == 403
    )
    outsider_rep = login(tenant_client(tenant_a), tenant_a, world.actor.email)
    assert outsider_rep.get(f"/api/v1/companies/{company.pk}/").status_code == 404


def test_another_organisations_company_is_404(tenant_a: Tenant, tenant_b: Tenant) -> None:
    with schema_context(tenant_b.schema_name):
        theirs = Company.objects.create(
            name="Beta secret", owner=User.objects.get(email="owner@beta.test")
        )
    owner_a = login(tenant_client(tenant_a), tenant_a, "owner@alpha.test")
    for path in (f"/api/v1/companies/{theirs.pk}/", f"/companies/{theirs.pk}/"):
        assert owner_a.get(path).status_code == 404
    assert b"Beta secret" not in owner_a.get("/api/v1/companies/").content


def test_role_permissions_set_by_an_admin_apply_to_records(tenant_a: Tenant) -> None:
    from django.contrib.auth.models import Group, Permission

    from apps.accounts.services import role_set_permissions

    world = _world(tenant_a, "rep")
    pk = _record(tenant_a, world, "own")
    with schema_context(tenant_a.schema_name):
        rep_group = Group.objects.get(name="Sales rep")
        keep = set(
            rep_group.permissions.exclude(codename="delete_company").values_list("pk", flat=True)
        )
        role_set_permissions(role=Role.REP, permission_ids=keep, actor=None)
        assert not Permission.objects.filter(group=rep_group, codename="delete_company").exists()
    client = login(tenant_client(tenant_a), tenant_a, world.actor.email)
    assert client.get(f"/api/v1/companies/{pk}/").status_code == 200
    assert client.delete(f"/api/v1/companies/{pk}/").status_code == 403
    assert _exists(tenant_a, pk) is not None


def test_api_keys_act_with_their_roles_permissions(tenant_a: Tenant) -> None:
    from apps.apikeys.services import api_key_create

    world = _world(tenant_a, "rep")
    pk = _record(tenant_a, world, "other")
    with schema_context(tenant_a.schema_name):
        readonly = api_key_create(name="ro", role=Role.READONLY, created_by=world.actor).secret
        rep = api_key_create(name="rep", role=Role.REP, created_by=world.actor).secret
    ro_api = Client(HTTP_HOST="alpha.localhost", HTTP_AUTHORIZATION=f"Bearer {readonly}")
    assert ro_api.get(f"/api/v1/companies/{pk}/").status_code == 200  # read-only sees all
    assert (
        ro_api.post(
            "/api/v1/companies/", {"name": "no"}, content_type="application/json"
        ).status_code
        == 403
    )
    rep_api = Client(HTTP_HOST="alpha.localhost", HTTP_AUTHORIZATION=f"Bearer {rep}")
    assert rep_api.get(f"/api/v1/companies/{pk}/").status_code == 404  # not theirs
    created = rep_api.post(
        "/api/v1/companies/", {"name": "Via key"}, content_type="application/json"
    )
    assert created.status_code == 201 and created.json()["owner"] == world.actor.pk
