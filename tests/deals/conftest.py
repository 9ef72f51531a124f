"""Fixtures for the deals tests: members of each role in organisation A, and a few deals."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client
from django_tenants.utils import schema_context

from apps.accounts.models import User
from apps.accounts.roles import Role
from apps.accounts.services import user_set_role
from tenants.models import Tenant
from tests.conftest import ALPHA, PASSWORD, login, tenant_client
from tests.factories import make_user


def member(tenant: Tenant, email: str, role: Role) -> User:
    with schema_context(tenant.schema_name):
        user = User.objects.filter(email=email).first() or make_user(email=email, password=PASSWORD)
        user_set_role(user=user, role=role)
    return user


def client_for(tenant: Tenant, email: str) -> Client:
    return login(tenant_client(tenant), tenant, email)


@pytest.fixture
def ctx(db: None, tenant_a: Tenant) -> Iterator[Any]:
    """Organisation A's schema, with its owner, a rep, a second rep, a manager and a read-only
    member."""
    with schema_context(tenant_a.schema_name):

        class Ctx:
            tenant = tenant_a
            owner = User.objects.get(email=ALPHA.owner_email)

        ctx = Ctx()
        yield ctx


@pytest.fixture
def people(ctx: Any) -> Any:
    class People:
        owner = ctx.owner
        admin = member(ctx.tenant, "deal-admin@alpha.test", Role.ADMIN)
        rep = member(ctx.tenant, "deal-rep@alpha.test", Role.REP)
        rep2 = member(ctx.tenant, "deal-rep2@alpha.test", Role.REP)
        readonly = member(ctx.tenant, "deal-ro@alpha.test", Role.READONLY)

    return People()
