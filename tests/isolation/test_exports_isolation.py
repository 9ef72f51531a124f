"""An export, in any format, holds the rows of its own organisation only: its records, tags
and custom fields, never another's."""

from __future__ import annotations

import io

import pytest
from django.test import Client
from django_tenants.utils import schema_context
from openpyxl import load_workbook

from apps.accounts.models import User
from apps.contacts.services import contact_create
from apps.records.services import customfield_create
from tenants.models import Tenant

pytestmark = pytest.mark.django_db


def _text(data: bytes, fmt: str) -> str:
    if fmt != "xlsx":
        return data.decode("utf-8-sig")
    # A workbook is compressed: read what its cells say.
    sheet = load_workbook(io.BytesIO(data), read_only=True).worksheets[0]
    return repr(list(sheet.iter_rows(values_only=True)))


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "json"])
def test_an_export_in_b_never_holds_a_row_of_a(
    tenant_a: Tenant, tenant_b: Tenant, owner_client_a: Client, owner_client_b: Client, fmt: str
) -> None:
    for tenant, name in ((tenant_a, "Alphaonly"), (tenant_b, "Betaonly")):
        with schema_context(tenant.schema_name):
            owner = User.objects.get(email=f"owner@{tenant.slug}.test")
            customfield_create(actor=owner, entity="contact", label=f"{name} field", type="text")
            contact_create(
                actor=owner,
                first_name=name,
                tags=[f"{name}-tag"],
                custom_fields={f"{name.lower()}_field": f"{name} value"},
            )
    for url in (f"/contacts/export/?format={fmt}", f"/api/v1/contacts/export/?format={fmt}"):
        in_b = _text(b"".join(owner_client_b.get(url).streaming_content), fmt)  # type: ignore[attr-defined]
        in_a = _text(b"".join(owner_client_a.get(url).streaming_content), fmt)  # type: ignore[attr-defined]
        assert "Betaonly" in in_b and "Alphaonly" not in in_b
        assert "Alphaonly" in in_a and "Betaonly" not in in_a
