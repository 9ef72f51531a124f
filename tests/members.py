"""People of each role in organisation A, as fixtures for the record apps' tests (imported by
their conftest files), and a signed-in client for any of them."""

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
from tests.conftest import PASSWORD, login, tenant_client
from tests.factories import make_user


@pytest.fixture
def in_a(db: None, tenant_a: Tenant) -> Iterator[Tenant]:
    with schema_context(tenant_a.schema_name):
        yield tenant_a


@pytest.fixture
def owner(in_a: Tenant) -> User:
    return User.objects.get(email="owner@alpha.test")


def member(email: str, role: Role, **fields: Any) -> User:
    """A member of the current organisation with `role`."""
    user = make_user(email=email, password=PASSWORD, **fields)
    user_set_role(user=user, role=role)
    return User.objects.get(pk=user.pk)


@pytest.fixture
def rep(in_a: Tenant) -> User:
    return member("member-rep@alpha.test", Role.REP, full_name="Rita Rep")


@pytest.fixture
def other_rep(in_a: Tenant) -> User:
    return member("member-rep2@alpha.test", Role.REP, full_name="Otto Other")


@pytest.fixture
def readonly(in_a: Tenant) -> User:
    return member("member-ro@alpha.test", Role.READONLY, full_name="Rae Readonly")


def client_for(tenant: Tenant, user: User) -> Client:
    return login(tenant_client(tenant), tenant, user.email)
