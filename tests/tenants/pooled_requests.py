"""The product's request path with its database behind a transaction-pooling PgBouncer.

Run by tests/tenants/test_transaction_pooling.py as a process of its own, configured as an
operator would configure one (DATABASE_URL = the bouncer, DATABASE_TRANSACTION_POOLING=true):

    python tests/tenants/pooled_requests.py

It provisions two organisations, each with a contact, signs their owners in and has them
search their contact lists in turns (twice each), with a typo, over the full middleware
stack; then it deletes both organisations. It prints one JSON object of what it saw, for the
test to judge.
"""

from __future__ import annotations

import json
import os
import sys
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")

import django

django.setup()

from django.conf import settings  # noqa: E402
from django.test import Client  # noqa: E402
from django_tenants.utils import schema_context  # noqa: E402

from apps.accounts.models import User  # noqa: E402
from apps.contacts.services import contact_create  # noqa: E402
from tenants import services  # noqa: E402
from tenants.db import connection  # noqa: E402
from tenants.models import Tenant  # noqa: E402
from tenants.provisioning import tenant_provision  # noqa: E402

PASSWORD = "a-long-test-password"
# Each organisation's contact, and how its owner mistypes it (one letter swapped).
PEOPLE = {"a": ("Wojciechowski", "wojceichowski"), "b": ("Kowalczyk", "kowalcyzk")}


def main() -> dict[str, Any]:
    seen: dict[str, Any] = {"engine": settings.DATABASES["default"]["ENGINE"], "searches": []}
    run = uuid.uuid4().hex[:8]
    slugs = {label: f"px{run}-{label}" for label in PEOPLE}
    try:
        clients = {}
        for label, slug in slugs.items():
            tenant = tenant_provision(
                slug=slug,
                name=f"Pooled {label}",
                owner_email=f"owner@{slug}.test",
                owner_password=PASSWORD,
                use_pool=False,
            ).tenant
            with schema_context(tenant.schema_name):
                owner = User.objects.get(email=f"owner@{slug}.test")
                contact_create(actor=owner, first_name="Pat", last_name=PEOPLE[label][0])
                client = Client(HTTP_HOST=f"{slug}.localhost")
                client.force_login(owner)
            connection.set_schema_to_public()
            clients[label] = client
        for _round in range(2):
            for label, client in clients.items():
                for searched, (name, typo) in PEOPLE.items():
                    response = client.get("/contacts/", {"q": typo})
                    page = response.content.decode()
                    seen["searches"].append(
                        {
                            "who": label,
                            "searched": searched,
                            "status": response.status_code,
                            "found": name in page,
                        }
                    )
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            seen["server_pid"] = cursor.fetchone()[0]
    finally:
        connection.set_schema_to_public()
        for tenant in Tenant.objects.filter(slug__in=slugs.values()):
            services.tenant_delete(tenant=tenant, confirmation=tenant.slug, actor="test")
        seen["left"] = Tenant.objects.filter(slug__in=slugs.values()).count()
    return seen


if __name__ == "__main__":
    print(json.dumps(main()))
