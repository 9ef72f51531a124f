"""Exporting a list as CSV, Excel (XLSX) or JSON, from the web list and the API: the list's
filters and ordering, what the person may see, formulas that never run, typed values, the
audit log, and the file's name and type."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django_tenants.utils import schema_context
from hypothesis import given
from hypothesis import strategies as st
from openpyxl import load_workbook

from apps.accounts.models import User
from apps.accounts.roles import Role
from apps.audit.models import AuditEntry
from apps.companies.services import company_create
from apps.contacts.models import Contact
from apps.contacts.services import contact_create, contact_link_company, contact_share
from apps.deals.services import deal_create
from apps.records.exporting import XLSX_TYPE, csv_field
from apps.records.services import customfield_create
from tenants.models import Tenant
from tests.conftest import login, tenant_client
from tests.members import member

FORMULA = '=HYPERLINK("http://evil.example","Click")'


@dataclass
class Data:
    owner: User
    formula: Contact  # tagged vip, every kind of custom field, linked to "Acme, Inc"
    plain: Contact  # same last name, no tag


@pytest.fixture
def data(db: None, tenant_a: Tenant) -> Data:
    with schema_context(tenant_a.schema_name):
        owner = User.objects.get(email="owner@alpha.test")
        for label, kind, options in (
            ("Tier", "select", ["gold", "silver"]),
            ("Score", "number", []),
            ("Renewal", "date", []),
            ("Met at", "datetime", []),
            ("Revenue", "currency", []),
            ("Segments", "multi_select", ["smb", "emea"]),
        ):
            customfield_create(
                actor=owner, entity="contact", label=label, type=kind, options=options
            )
        acme = company_create(actor=owner, name="Acme, Inc", domain="acme-export.example")
        formula = contact_create(
            actor=owner,
            first_name=FORMULA,
            last_name="Exportson",
            title="@risk",
            emails=["formula@export.example"],
            tags=["vip"],
            custom_fields={
                "tier": "gold",
                "score": -5,
                "renewal": "2026-03-01",
                "met_at": "2026-02-03T04:05:06+00:00",
                "revenue": "1234.50",
                "segments": ["smb", "emea"],
            },
        )
        contact_link_company(actor=owner, contact=formula, company=acme)
        plain = contact_create(
            actor=owner,
            first_name="Plain",
            last_name="Exportson",
            emails=["plain@export.example"],
            custom_fields={"score": 7},
        )
    return Data(owner=owner, formula=formula, plain=plain)


def body(response: Any) -> bytes:
    assert response.status_code == 200, response
    return b"".join(response.streaming_content)


def csv_rows(response: Any) -> list[dict[str, str]]:
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    return list(csv.DictReader(io.StringIO(body(response).decode("utf-8-sig"))))


def xlsx_rows(response: Any) -> tuple[list[str], list[list[Any]]]:
    assert response["Content-Type"] == XLSX_TYPE
    sheet = load_workbook(io.BytesIO(body(response))).worksheets[0]
    header, *rows = list(sheet.iter_rows())
    return [c.value for c in header], [list(row) for row in rows]


def json_rows(response: Any) -> list[dict[str, Any]]:
    assert response["Content-Type"] == "application/json"
    parsed = json.loads(body(response))
    assert isinstance(parsed, list)
    return parsed


def names(response: Any, fmt: str) -> list[str]:
    """The first names in an export, in its order."""
    if fmt == "csv":
        return [row["First name"] for row in csv_rows(response)]
    if fmt == "json":
        return [row["first_name"] for row in json_rows(response)]
    header, rows = xlsx_rows(response)
    return [row[header.index("First name")].value for row in rows]


def shown(name: str, fmt: str) -> str:
    return "'" + name if fmt == "csv" and name == FORMULA else name


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "json"])
def test_web_export_keeps_the_lists_filters_in_every_format(
    owner_client_a: Client, data: Data, fmt: str
) -> None:
    response = owner_client_a.get(f"/contacts/export/?tag=vip&format={fmt}")
    disposition = response["Content-Disposition"]
    assert disposition.startswith('attachment; filename="contacts-')
    assert disposition.endswith(f'.{fmt}"')
    assert names(response, fmt) == [shown(FORMULA, fmt)]


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "json"])
def test_api_export_keeps_filters_and_ordering_in_every_format(
    owner_client_a: Client, data: Data, fmt: str
) -> None:
    url = f"/api/v1/contacts/export/?last_name=exportson&ordering=-cf_score&format={fmt}"
    assert names(owner_client_a.get(url), fmt) == ["Plain", shown(FORMULA, fmt)]
    searched = owner_client_a.get(f"/api/v1/contacts/export/?search=plain&format={fmt}")
    assert names(searched, fmt) == ["Plain"]
    # A tag filter makes the query DISTINCT, which sorting by a custom field complicates.
    tagged = owner_client_a.get(f"/contacts/export/?tag=vip&ordering=-cf_score&format={fmt}")
    assert names(tagged, fmt) == [shown(FORMULA, fmt)]
    if fmt == "json":
        (row,) = json_rows(
            owner_client_a.get("/contacts/export/?tag=vip&ordering=cf_tier&format=json")
        )
        assert row["cf_segments"] == ["smb", "emea"] and row["tags"] == ["vip"]


def test_csv_is_the_default_and_neutralises_formulas(owner_client_a: Client, data: Data) -> None:
    rows = csv_rows(owner_client_a.get("/contacts/export/?q=exportson&ordering=first_name"))
    formula = next(row for row in rows if row["ID"] == str(data.formula.pk))
    assert formula["First name"] == "'" + FORMULA
    assert formula["Job title"] == "'@risk"
    assert formula["Score"] == "'-5"  # a negative number too: "-5" would be a formula
    assert formula["Company"] == "Acme, Inc"
    assert formula["Segments"] == "smb, emea"
    assert formula["Tags"] == "vip"
    assert formula["Owner"] == "owner@alpha.test"
    assert formula["Renewal"] == "2026-03-01"
    assert formula["Created"] == data.formula.created_at.isoformat()


def test_xlsx_keeps_formulas_as_text_and_dates_as_dates(owner_client_a: Client, data: Data) -> None:
    header, rows = xlsx_rows(owner_client_a.get("/api/v1/contacts/export/?tag=vip&format=xlsx"))
    (row,) = rows
    cell = dict(zip(header, row, strict=True))
    first = cell["First name"]
    assert first.value == FORMULA and first.data_type == "s"  # text, not a formula
    assert first.quotePrefix  # and Excel keeps it text when someone edits the cell
    assert cell["Job title"].value == "@risk" and cell["Job title"].data_type == "s"
    created = cell["Created (UTC)"].value
    assert isinstance(created, dt.datetime) and created.tzinfo is None
    expected = data.formula.created_at.astimezone(dt.UTC).replace(tzinfo=None)
    assert abs(created - expected) < dt.timedelta(milliseconds=1)
    assert cell["Renewal"].value == dt.datetime(2026, 3, 1)  # a date cell
    assert cell["Renewal"].is_date
    assert cell["Met at (UTC)"].value == dt.datetime(2026, 2, 3, 4, 5, 6)
    assert cell["Score"].value == -5 and cell["Score"].data_type == "n"
    assert Decimal(str(cell["Revenue"].value)) == Decimal("1234.50")
    assert cell["Segments"].value == "smb, emea"
    assert cell["Company"].value == "Acme, Inc"


def test_json_has_typed_values_keyed_by_column(owner_client_a: Client, data: Data) -> None:
    (row,) = json_rows(owner_client_a.get("/api/v1/contacts/export/?tag=vip&format=json"))
    assert row["id"] == data.formula.pk
    assert row["first_name"] == FORMULA  # JSON is not a spreadsheet: left as it is
    assert row["tags"] == ["vip"] and row["company"] == ["Acme, Inc"]
    assert row["cf_score"] == -5 and row["cf_segments"] == ["smb", "emea"]
    assert row["cf_renewal"] == "2026-03-01" and row["cf_tier"] == "gold"
    assert dt.datetime.fromisoformat(row["created_at"]) == data.formula.created_at
    assert row["owner"] == "owner@alpha.test"


def test_json_numbers_dates_and_links_of_deals(owner_client_a: Client, tenant_a: Tenant) -> None:
    with schema_context(tenant_a.schema_name):
        owner = User.objects.get(email="owner@alpha.test")
        person = contact_create(actor=owner, first_name="Deal", last_name="Contact")
        deal_create(
            actor=owner,
            title="Export deal",
            value="1234.50",
            expected_close=dt.date(2026, 5, 1),
            contacts=[person],
        )
    rows = json_rows(owner_client_a.get("/api/v1/deals/export/?title=Export deal&format=json"))
    (row,) = rows
    assert row["value"] == 1234.5 and row["probability"] is None
    assert row["expected_close"] == "2026-05-01"
    assert row["contact_id"] == [person.pk]
    assert isinstance(row["stage"], str) and row["status"] == "open"
    header, xlsx = xlsx_rows(owner_client_a.get("/deals/export/?title=Export deal&format=xlsx"))
    cells = dict(zip(header, xlsx[0], strict=True))
    assert cells["Value"].value == Decimal("1234.50") and cells["Contact id"].value == str(
        person.pk
    )


@pytest.mark.parametrize("entity", ["contacts", "companies", "deals", "leads", "activities"])
@pytest.mark.parametrize("fmt", ["csv", "xlsx", "json"])
def test_every_list_exports_in_every_format(owner_client_a: Client, entity: str, fmt: str) -> None:
    response = owner_client_a.get(f"/api/v1/{entity}/export/?format={fmt}")
    assert response.status_code == 200
    assert response["Content-Disposition"].endswith(f'.{fmt}"')
    if fmt == "csv":
        assert csv_rows(response) is not None
    elif fmt == "json":
        assert json_rows(response) is not None
    else:
        assert xlsx_rows(response)[0][0] == "ID"


def test_an_unknown_format_is_refused_naming_the_formats(
    owner_client_a: Client, data: Data
) -> None:
    response = owner_client_a.get("/api/v1/contacts/export/?format=pdf")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "validation_error" and error["field"] == "format"
    assert "csv, xlsx, json" in error["message"] and "pdf" in error["message"]
    page = owner_client_a.get("/contacts/export/?tag=vip&format=pdf", follow=True)
    assert page.redirect_chain[-1][0] == "/contacts/?tag=vip"
    assert "Choose a format among csv, xlsx, json" in page.content.decode()


def test_each_export_is_audit_logged_with_its_format(
    owner_client_a: Client, data: Data, tenant_a: Tenant
) -> None:
    for fmt in ("csv", "xlsx", "json"):
        body(owner_client_a.get(f"/contacts/export/?tag=vip&format={fmt}"))
    body(owner_client_a.get("/api/v1/contacts/export/"))
    with schema_context(tenant_a.schema_name):
        entries = AuditEntry.objects.filter(action="contact.exported").order_by("pk")
        assert [e.detail["format"] for e in entries] == ["csv", "xlsx", "json", "csv"]
        assert entries[0].detail["filters"] == "tag=vip&format=csv"
        assert {e.actor_id for e in entries} == {data.owner.pk}


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "json"])
def test_a_rep_exports_only_what_their_list_shows(db: None, tenant_a: Tenant, fmt: str) -> None:
    with schema_context(tenant_a.schema_name):
        owner = User.objects.get(email="owner@alpha.test")
        rep = member("export-rep@alpha.test", Role.REP)
        contact_create(actor=owner, first_name="Hidden", last_name="Boss")
        viewable = contact_create(actor=owner, first_name="Viewable", last_name="Peer")
        contact_share(actor=owner, contact=viewable, user=rep, level="view")
        contact_create(actor=rep, first_name="Mine", last_name="Own")
    client = login(tenant_client(tenant_a), tenant_a, rep.email)
    for url in (f"/contacts/export/?format={fmt}", f"/api/v1/contacts/export/?format={fmt}"):
        assert sorted(names(client.get(url), fmt)) == ["Mine", "Viewable"]


def test_the_list_offers_each_format_keeping_its_filters(
    owner_client_a: Client, data: Data
) -> None:
    page = owner_client_a.get("/contacts/?tag=vip&ordering=last_name").content.decode()
    menu = page[page.index('<details class="menu export-menu">') :]
    menu = menu[: menu.index("</details>")]
    for fmt, label in (("csv", "CSV"), ("xlsx", "Excel (XLSX)"), ("json", "JSON")):
        link = f'href="/contacts/export/?tag=vip&amp;ordering=last_name&amp;format={fmt}"'
        assert link in menu and f">{label}</a>" in menu
    assert "style=" not in menu and "<script" not in menu


def test_the_xlsx_workbook_streams_row_by_row(owner_client_a: Client, data: Data) -> None:
    """No temporary file and no whole workbook in memory: the ZIP leaves in pieces, and the
    sheet's rows are on their way before the last one is read."""
    response = owner_client_a.get("/contacts/export/?format=xlsx")
    assert response.streaming
    pieces = list(response.streaming_content)  # type: ignore[attr-defined]  # a streaming response
    assert len(pieces) >= 2 and pieces[0].startswith(b"PK")
    workbook = load_workbook(io.BytesIO(b"".join(pieces)))
    sheet = workbook.worksheets[0]
    assert sheet.title == "Contacts" and sheet.freeze_panes == "A2"
    assert sheet.max_row == 1 + len(names(owner_client_a.get("/contacts/export/"), "csv"))


def test_the_schema_documents_the_formats(db: None) -> None:
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    operation = schema["paths"]["/api/v1/contacts/export/"]["get"]
    (parameter,) = [p for p in operation["parameters"] if p["name"] == "format"]
    assert sorted(parameter["schema"]["enum"]) == ["csv", "json", "xlsx"]
    assert set(operation["responses"]["200"]["content"]) == {
        "text/csv",
        XLSX_TYPE,
        "application/json",
    }
    assert "400" in operation["responses"]


TEXT = st.text(alphabet=st.sampled_from(list('ab ,"\r\n\t=x-')), max_size=8)


@given(st.lists(TEXT, min_size=2, max_size=6))
def test_csv_records_are_written_exactly_as_the_csv_module_writes_them(cells: list[str]) -> None:
    out = io.StringIO()
    csv.writer(out).writerow(cells)
    assert ",".join(csv_field(cell) for cell in cells) + "\r\n" == out.getvalue()
