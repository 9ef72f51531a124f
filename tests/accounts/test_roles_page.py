from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, Permission
from django.core.exceptions import ValidationError
from django.test import Client
from django_tenants.utils import schema_context

from apps.accounts.roles import Role
from apps.accounts.services import role_set_permissions
from apps.audit.models import AuditEntry
from tenants.models import Tenant

pytestmark = pytest.mark.django_db


def test_admin_adjusts_a_roles_permissions(owner_client_a: Client, tenant_a: Tenant) -> None:
    page = owner_client_a.get("/settings/roles/")
    assert page.status_code == 200
    assert b"Can view team" in page.content and b"Sales rep" in page.content
    with schema_context(tenant_a.schema_name):
        view_team = Permission.objects.get(codename="view_team")
    with schema_context(tenant_a.schema_name):
        rep = Group.objects.get(name="Sales rep")
        before = set(rep.permissions.values_list("pk", flat=True))
    # The form posts every ticked box; tick one more for Sales rep, keep the rest as they were.
    owner_client_a.post("/settings/roles/", {"role-rep": [str(p) for p in before | {view_team.pk}]})
    with schema_context(tenant_a.schema_name):
        assert set(rep.permissions.values_list("pk", flat=True)) == before | {view_team.pk}
        entry = AuditEntry.objects.get(action="role.permissions_changed", detail__role="rep")
    assert entry.detail == {"role": "rep", "added": ["view_team"], "removed": []}
    checked = owner_client_a.get("/settings/roles/").content.decode()
    assert (
        f'name="role-rep" value="{view_team.pk}" aria-label="Sales rep: Can view team" checked'
        in checked
    )


def test_owner_role_is_fixed(in_tenant_a: Tenant) -> None:
    with pytest.raises(ValidationError, match="every permission"):
        role_set_permissions(role=Role.OWNER, permission_ids=set(), actor=None)


def test_role_permissions_are_per_organisation(tenant_a: Tenant, tenant_b: Tenant) -> None:
    with schema_context(tenant_a.schema_name):
        perm = Permission.objects.get(codename="view_team")
        role_set_permissions(role=Role.READONLY, permission_ids={perm.pk}, actor=None)
    with schema_context(tenant_b.schema_name):
        held = Group.objects.get(name="Read-only").permissions.values_list("codename", flat=True)
        assert "view_team" not in held
