"""Fixtures for data exports: organisation A's people, its media folder in a temporary
directory, some records of every kind, and clients that keep the test's schema."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from apps.accounts.models import User
from apps.activities.services import activity_create
from apps.apikeys.services import api_key_create
from apps.companies.services import company_create
from apps.contacts.services import contact_create
from apps.deals.services import deal_create, pipeline_default
from apps.imports import services as imports
from apps.leads.services import lead_create
from apps.records.services import customfield_create
from tenants.models import Tenant
from tests.members import in_a, member, owner, readonly, rep
from tests.notifications.conftest import SchemaKeepingClient, signed_in

__all__ = ["in_a", "member", "owner", "readonly", "rep"]

IMPORT_FILE = b"First name,Last name,Email\nImported,Person,imported@example.com\n"


@pytest.fixture(autouse=True)
def media(settings: Any, tmp_path: Path) -> Path:
    """Uploaded files and archives go to a folder of the test's own."""
    root = tmp_path / "media"
    settings.MEDIA_ROOT = str(root)
    return root


@pytest.fixture
def records(in_a: Tenant, owner: User) -> dict[str, Any]:
    """A few records of every kind in organisation A, some of them with values that a
    spreadsheet would run as formulas, and an uploaded import file."""
    customfield_create(actor=owner, entity="contact", label="Shoe size", type="number")
    company = company_create(actor=owner, name="=Acme Evil Ltd", domain="acme.example")
    ada = contact_create(
        actor=owner,
        first_name='=HYPERLINK("http://evil.example")',
        last_name="Lovelace, Countess",
        email="ada@example.com",
        emails=["ada@example.com", "countess@example.com"],
        tags=["vip"],
        custom_fields={"shoe_size": 38},
        companies=[company.pk],
    )
    grace = contact_create(actor=owner, first_name="Grace", last_name="-Hopper", email="g@x.io")
    pipeline_default()
    deal = deal_create(actor=owner, title="+Big deal", value="1234.50", contacts=[ada.pk])
    lead = lead_create(actor=owner, first_name="@Lead", last_name="Person", email="l@x.io")
    note = activity_create(
        actor=owner,
        type="note",
        subject="Called Ada",
        body="She wants =SUM(A1:A9) more engines.\nSecond line.",
        contacts=[ada],
    )
    key = api_key_create(name="Integration", created_by=owner)
    job = imports.import_create(
        actor=owner,
        entity="contact",
        upload=SimpleUploadedFile("old-crm.csv", IMPORT_FILE, content_type="text/csv"),
    )
    return {
        "company": company,
        "ada": ada,
        "grace": grace,
        "deal": deal,
        "lead": lead,
        "note": note,
        "key": key,
        "import": job,
    }


def open_zip(data: bytes | Path) -> zipfile.ZipFile:
    return zipfile.ZipFile(io.BytesIO(data) if isinstance(data, bytes) else data)


def client_of(tenant: Tenant, user: User) -> SchemaKeepingClient:
    return signed_in(tenant, user)


@pytest.fixture
def admin_client(in_a: Tenant, owner: User) -> Iterator[SchemaKeepingClient]:
    yield signed_in(in_a, owner)
