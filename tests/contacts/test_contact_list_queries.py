"""A page of contacts costs the same number of queries whether it shows 5 contacts or 60, with
emails, phones, companies, tags and custom fields on every row."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import schema_context

from apps.accounts.models import User
from apps.companies.services import company_create
from apps.contacts.services import contact_create
from tenants.models import Tenant

pytestmark = pytest.mark.django_db


def _fill(tenant: Tenant, start: int, count: int) -> None:
    with schema_context(tenant.schema_name):
        owner = User.objects.get(email="owner@alpha.test")
        company = company_create(actor=owner, name=f"Rows Inc {start}", allow_duplicate=True)
        for index in range(start, start + count):
            contact_create(
                actor=owner,
                first_name=f"Row{index:03d}",
                last_name="Query",
                emails=[f"row{index}@q.example"],
                phones=[f"+1 415 555 {index:04d}"],
                companies=[company.pk],
                tags=["t1", "t2"],
                allow_duplicate=True,
            )


def _count(client: Client, path: str) -> tuple[int, str]:
    client.get(path)
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(path)
    assert response.status_code == 200
    return len(ctx.captured_queries), response.content.decode()


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/contacts/?page_size=100",
        "/contacts/?cols=email&cols=company&cols=tags&cols=owner",
        "/api/v1/contacts/?search=query&ordering=-first_name",
    ],
)
def test_contact_list_query_count_is_constant(
    owner_client_a: Client, tenant_a: Tenant, path: str
) -> None:
    _fill(tenant_a, 0, 5)
    small, body = _count(owner_client_a, path)
    assert body.count("@q.example") >= 5
    _fill(tenant_a, 5, 55)
    large, body = _count(owner_client_a, path)
    assert body.count("@q.example") >= 50
    assert large == small
