"""A list costs the same number of queries whether it shows 10 companies or 100."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
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


def _fill(tenant: Tenant, rep: User, count: int) -> None:
    """`count` companies the rep sees: own, shared directly, and shared with their team."""
    with schema_context(tenant.schema_name):
        owner = User.objects.get(email="owner@alpha.test")
        team = rep.teams.first() or team_create(name="Squad", manager=None, actor=None)
        team_update(team=team, manager=None, members=[rep], actor=None)
        for index in range(count):
            kind = index % 3
            company = Company.objects.create(
                name=f"Co {index:03d}", owner=rep if kind == 0 else owner
            )
            if kind == 1:
                company_share(actor=owner, company=company, user=rep, level="view")
            elif kind == 2:
                company_share(actor=owner, company=company, team=team, level="edit")


def _queries(client: Client, path: str) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(path)
    assert response.status_code == 200
    return len(ctx.captured_queries)


@pytest.mark.parametrize("path", ["/api/v1/companies/?page_size=200", "/companies/"])
def test_list_query_count_does_not_grow_with_rows(tenant_a: Tenant, path: str) -> None:
    with schema_context(tenant_a.schema_name):
        rep = make_user(email="lister@alpha.test", password="a-long-test-password")
        user_set_role(user=rep, role=Role.REP)
    client = login(tenant_client(tenant_a), tenant_a, rep.email)
    _fill(tenant_a, rep, 10)
    client.get(path)  # warm the per-process host table, as any running server has it
    small = _queries(client, path)
    first_page = client.get(path)
    shown_small = first_page.content.count(b"Co 0")
    _fill(tenant_a, rep, 90)
    large = _queries(client, path)
    assert shown_small >= 10
    assert client.get(path).content.count(b"Co 0") > shown_small  # the page really grew
    assert large == small
