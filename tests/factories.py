"""Factories for test data. Organisations are provisioned through the product's own service
(cloned from the template), so tests exercise the real provisioning path."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

import factory
from django_tenants.utils import schema_context

from apps.accounts.models import User
from tenants.db import connection
from tenants.models import Tenant
from tenants.provisioning import tenant_provision


@dataclass(frozen=True)
class TenantSpec:
    slug: str
    name: str
    owner_email: str


def ensure_tenant(spec: TenantSpec, *, password: str) -> Tenant:
    """The organisation described by `spec`, provisioned once and reused (also across runs
    with --reuse-db)."""
    connection.set_schema_to_public()
    tenant = Tenant.objects.filter(slug=spec.slug).first()
    if tenant is None:
        tenant = tenant_provision(
            slug=spec.slug,
            name=spec.name,
            owner_email=spec.owner_email,
            owner_password=password,
            use_pool=False,
        ).tenant
    else:
        with schema_context(tenant.schema_name):
            owner = User.objects.get(email=spec.owner_email)
            owner.set_password(password)
            owner.save(update_fields=["password"])
    return tenant


class UserFactory(factory.django.DjangoModelFactory[User]):
    class Meta:
        model = User
        django_get_or_create = ("email",)

    email = factory.Sequence(lambda n: f"user{n}@example.test")
    full_name = factory.Faker("name")
    password = factory.django.Password("a-long-test-password")


def make_user(**fields: Any) -> User:
    """A saved user in the current schema (typed, unlike the factory call)."""
    return cast(User, UserFactory(**fields))
