"""The contacts and companies web pages, through Django's test client: what a rep sees and
does in a day."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client
from django_tenants.utils import schema_context

from apps.accounts.roles import Role
from apps.accounts.services import user_set_role
from apps.contacts.models import Contact
from apps.records.models import SavedView, TimelineEntry
from tenants.models import Tenant
from tests.conftest import BETA, login, tenant_client
from tests.factories import make_user

pytestmark = pytest.mark.django_db


def _contact(client: Client, **data: str) -> int:
    response = client.post("/contacts/new/", {"lifecycle_stage": "lead", **data})
    assert response.status_code == 302, response.content.decode()[:2000]
    return int(response["Location"].rstrip("/").split("/")[-1])


def test_create_edit_and_detail(owner_client_a: Client, tenant_a: Tenant) -> None:
    empty = owner_client_a.get("/contacts/").content.decode()
    assert "No contacts" in empty and "New contact" in empty
    pk = _contact(
        owner_client_a,
        first_name="Linus",
        last_name="Torvalds",
        emails="linus@kernel.example\nlt@osdl.example",
        phones="+358 9 123 4567",
        company_name="Kernel Org",
        tags="oss, VIP",
    )
    detail = owner_client_a.get(f"/contacts/{pk}/").content.decode()
    assert "linus@kernel.example" in detail and "primary" in detail
    assert "+35891234567" in detail and "Kernel Org" in detail
    assert ">oss<" in detail and ">VIP<" in detail
    assert "Created" in detail  # the timeline's first entry
    edited = owner_client_a.post(
        f"/contacts/{pk}/edit/",
        {
            "first_name": "Linus",
            "last_name": "Torvalds",
            "emails": "linus@kernel.example",
            "title": "Maintainer",
            "lifecycle_stage": "customer",
            "tags": "oss",
        },
    )
    assert edited.status_code == 302
    detail = owner_client_a.get(f"/contacts/{pk}/").content.decode()
    assert "Maintainer" in detail and "lt@osdl.example" not in detail
    assert re.search(r"Job title: <del>—</del> → <ins>Maintainer</ins>", detail)
    note = owner_client_a.post(f"/contacts/{pk}/notes/", {"body": "Prefers email <b>only</b>"})
    assert note.status_code == 302
    detail = owner_client_a.get(f"/contacts/{pk}/").content.decode()
    assert "Prefers email &lt;b&gt;only&lt;/b&gt;" in detail
    notes = owner_client_a.get(f"/contacts/{pk}/timeline/?kind=note").content.decode()
    assert "Prefers email" in notes and "Maintainer" not in notes
    empty_note = owner_client_a.post(f"/contacts/{pk}/notes/", {"body": " "}, follow=True)
    assert "cannot be empty" in empty_note.content.decode()


def test_inline_validation_and_duplicate_warning(owner_client_a: Client, tenant_a: Tenant) -> None:
    _contact(
        owner_client_a, first_name="Margaret", last_name="Hamilton", emails="margaret@mit.example"
    )
    checked = owner_client_a.post(
        "/contacts/new/",
        {"first_name": "Bad", "phones": "12", "lifecycle_stage": "lead", "validate_only": "1"},
        HTTP_HX_REQUEST="true",
    )
    body = checked.content.decode()
    assert 'id="record-form"' in body and "<html" not in body
    assert "not a possible phone number" in body or "not a phone number" in body
    twin = {
        "first_name": "Margaret",
        "last_name": "Hamilton",
        "emails": "mh@nasa.example",
        "lifecycle_stage": "lead",
    }
    warned = owner_client_a.post("/contacts/new/", twin)
    assert warned.status_code == 200
    assert "This looks like a duplicate of" in warned.content.decode()
    with schema_context(tenant_a.schema_name):
        assert Contact.objects.filter(last_name="Hamilton").count() == 1
    validated = owner_client_a.post(
        "/contacts/new/", {**twin, "allow_duplicate": "1", "validate_only": "1"}
    )
    assert validated.status_code == 200
    with schema_context(tenant_a.schema_name):
        assert Contact.objects.filter(last_name="Hamilton").count() == 1  # only validated
    created = owner_client_a.post("/contacts/new/", {**twin, "allow_duplicate": "1"})
    assert created.status_code == 302
    dupes = owner_client_a.get("/contacts/duplicates/").content.decode()
    assert "Margaret Hamilton" in dupes and "same name" in dupes
    with schema_context(tenant_a.schema_name):
        ids = sorted(Contact.objects.filter(last_name="Hamilton").values_list("pk", flat=True))
    owner_client_a.post("/contacts/duplicates/", {"ids": [str(i) for i in ids]})
    assert "Margaret Hamilton" not in owner_client_a.get("/contacts/duplicates/").content.decode()


def test_list_filters_columns_views_and_bulk(owner_client_a: Client, tenant_a: Tenant) -> None:
    owner_client_a.post(
        "/settings/custom-fields/",
        {"entity": "contact", "label": "Tier", "type": "select", "options": "Gold\nSilver"},
    )
    ids = [
        _contact(
            owner_client_a,
            first_name=f"Person{i}",
            last_name="List",
            allow_duplicate="1",
            **{"cf_tier": "Gold" if i % 2 else "Silver"},
        )
        for i in range(4)
    ]
    added = owner_client_a.get("/contacts/?filter_field=cf_tier&filter_op=&filter_value=Gold")
    assert added.status_code == 302 and "cf_tier=Gold" in added["Location"]
    golds = owner_client_a.get(added["Location"]).content.decode()
    assert ">Person1 List<" in golds and ">Person3 List<" in golds
    assert ">Person0 List<" not in golds
    sorted_page = owner_client_a.get("/contacts/?ordering=-first_name&cols=cf_tier&cols=owner")
    text = sorted_page.content.decode()
    assert text.index(">Person3 List<") < text.index(">Person0 List<")
    header = text[text.index("<thead>") : text.index("</thead>")]
    assert ">Tier<" in header and ">Owner<" in header and ">Email<" not in header
    bad = owner_client_a.get("/contacts/?cf_nope=1").content.decode()
    assert "There is no custom field" in bad
    saved = owner_client_a.post(
        "/contacts/views/",
        {"name": "Gold people", "query": "cf_tier=Gold&page=2", "cols": ["cf_tier"], "shared": "1"},
    )
    assert saved.status_code == 302
    with schema_context(tenant_a.schema_name):
        view = SavedView.objects.get(name="Gold people")
        assert view.query == "cf_tier=Gold" and view.shared
    opened = owner_client_a.get(f"/contacts/?view={view.pk}")
    assert opened.status_code == 302 and "cf_tier=Gold" in opened["Location"]
    tagged = owner_client_a.post(
        "/contacts/bulk/",
        {"ids": [str(i) for i in ids[:2]], "action": "tag_add", "tag": "hot"},
        follow=True,
    )
    assert "Tagged 2 record(s) with hot" in tagged.content.decode()
    hot = owner_client_a.get("/contacts/?tag=hot").content.decode()
    assert ">Person0 List<" in hot and ">Person2 List<" not in hot
    owner_client_a.post(
        "/contacts/bulk/", {"ids": [str(ids[0])], "action": "tag_remove", "tag": "hot"}
    )
    assert ">Person0 List<" not in owner_client_a.get("/contacts/?tag=hot").content.decode()
    merge = owner_client_a.post(
        "/contacts/bulk/", {"ids": [str(i) for i in ids[:2]], "action": "merge"}
    )
    assert merge.status_code == 302 and "/contacts/merge/?ids=" in merge["Location"]
    nothing = owner_client_a.post("/contacts/bulk/", {"action": "delete"}, follow=True)
    assert "Select at least one row" in nothing.content.decode()
    owner_client_a.post("/contacts/bulk/", {"ids": [str(ids[3])], "action": "delete"})
    with schema_context(tenant_a.schema_name):
        assert not Contact.objects.filter(pk=ids[3]).exists()
    owner_client_a.post(f"/contacts/views/{view.pk}/delete/")
    with schema_context(tenant_a.schema_name):
        assert not SavedView.objects.filter(pk=view.pk).exists()


def test_merge_screen_links_and_undo(owner_client_a: Client, tenant_a: Tenant) -> None:
    keep = _contact(
        owner_client_a,
        first_name="Joan",
        last_name="Clarke",
        title="Cryptanalyst",
        emails="joan@bletchley.example",
    )
    other = owner_client_a.post(
        "/contacts/new/",
        {
            "first_name": "Joan",
            "last_name": "Clarke",
            "emails": "jc@gchq.example",
            "title": "Numismatist",
            "lifecycle_stage": "lead",
            "allow_duplicate": "1",
            "company_name": "GCHQ",
        },
    )
    gone = int(other["Location"].rstrip("/").split("/")[-1])
    screen = owner_client_a.get(f"/contacts/merge/?ids={keep}&ids={gone}").content.decode()
    assert "Numismatist" in screen and "Cryptanalyst" in screen
    merged = owner_client_a.post(
        "/contacts/merge/",
        {"ids": [keep, gone], "survivor": str(keep), "value_title": str(gone)},
        follow=True,
    )
    page = merged.content.decode()
    assert "Merged 1 record(s) into Joan Clarke" in page
    assert "Numismatist" in page and "jc@gchq.example" in page and "GCHQ" in page
    assert "Undo merge" in page
    assert owner_client_a.get(f"/contacts/{gone}/").status_code == 404
    with schema_context(tenant_a.schema_name):
        merge_id = (
            TimelineEntry.objects.filter(kind="merge", record_id=keep).get().detail["merge_id"]
        )
    undone = owner_client_a.post(f"/merges/{merge_id}/undo/", follow=True)
    assert "Merge undone" in undone.content.decode()
    assert owner_client_a.get(f"/contacts/{gone}/").status_code == 200
    link_page = owner_client_a.post(
        f"/contacts/{keep}/links/",
        {"company_name": "Bletchley Park", "role": "Codebreaker"},
        follow=True,
    ).content.decode()
    assert "Bletchley Park" in link_page and "Codebreaker" in link_page
    with schema_context(tenant_a.schema_name):
        link = Contact.objects.get(pk=keep).company_links.get()
    unlinked = owner_client_a.post(f"/contacts/{keep}/links/{link.pk}/delete/", follow=True)
    assert "Unlinked Bletchley Park" in unlinked.content.decode()
    too_few = owner_client_a.get(f"/contacts/merge/?ids={keep}", follow=True)
    assert "Choose two or more" in too_few.content.decode()


def test_global_search_as_you_type(
    owner_client_a: Client, client_b: Client, tenant_b: Tenant
) -> None:
    _contact(owner_client_a, first_name="Radia", last_name="Perlman", emails="radia@stp.example")
    owner_client_a.post("/companies/new/", {"name": "Spanning Tree Labs", "domain": "stp.example"})
    partial = owner_client_a.get("/search/?q=perlmann", HTTP_HX_REQUEST="true").content.decode()
    assert "Radia Perlman" in partial and "<html" not in partial
    page = owner_client_a.get("/search/?q=spaning tree").content.decode()
    assert "Spanning Tree Labs" in page and "<html" in page
    assert "Nothing matches" in owner_client_a.get("/search/?q=zzzqqq").content.decode()
    other = login(tenant_client(tenant_b), tenant_b, BETA.owner_email)
    assert "Perlman" not in other.get("/search/?q=perlman").content.decode()


def test_settings_pages_for_custom_fields_and_tags(
    owner_client_a: Client, tenant_a: Tenant
) -> None:
    page = owner_client_a.post(
        "/settings/custom-fields/",
        {"entity": "company", "label": "Plan", "type": "select", "options": "Free\nPro"},
        follow=True,
    ).content.decode()
    assert "Added the field Plan" in page and "<code>plan</code>" in page
    dup = owner_client_a.post(
        "/settings/custom-fields/", {"entity": "company", "label": "Plan", "type": "text"}
    )
    assert "already a field" in dup.content.decode()
    from apps.records.models import CustomField

    with schema_context(tenant_a.schema_name):
        plan = CustomField.objects.get(key="plan")
    company = owner_client_a.post("/companies/new/", {"name": "Plan Co", "cf_plan": "Pro"})
    assert company.status_code == 302
    refused = owner_client_a.post(
        f"/settings/custom-fields/{plan.pk}/", {"label": "Plan", "type": "number", "options": ""}
    )
    assert "would not convert" in refused.content.decode()
    archived = owner_client_a.post(
        f"/settings/custom-fields/{plan.pk}/",
        {"label": "Plan tier", "type": "select", "options": "Free\nPro", "archived": "on"},
        follow=True,
    )
    assert "Saved Plan tier" in archived.content.decode()
    tags = owner_client_a.post(
        "/settings/tags/", {"name": "Key account", "color": "#112233"}, follow=True
    ).content.decode()
    assert "Added the tag Key account" in tags
    with schema_context(tenant_a.schema_name):
        rep = make_user(email="settings-rep@alpha.test", password="a-long-test-password")
        user_set_role(user=rep, role=Role.REP)
    rep_client = login(tenant_client(tenant_a), tenant_a, rep.email)
    assert rep_client.get("/settings/custom-fields/").status_code == 403
    from apps.records.models import Tag

    with schema_context(tenant_a.schema_name):
        tag = Tag.objects.get(name="Key account")
    renamed = rep_client.post(f"/settings/tags/{tag.pk}/", {"name": "Mine"}, follow=True)
    assert "Only Admins" in renamed.content.decode()
    owner_client_a.post(f"/settings/tags/{tag.pk}/", {"name": "Key accounts", "color": "#223344"})
    owner_client_a.post(f"/settings/tags/{tag.pk}/", {"delete": "1"})
    with schema_context(tenant_a.schema_name):
        assert not Tag.objects.filter(pk=tag.pk).exists()


def test_forms_offer_every_custom_field_type(owner_client_a: Client, tenant_a: Tenant) -> None:
    from apps.accounts.models import User
    from apps.records.models import FieldType

    for kind in FieldType.values:
        body = {"entity": "contact", "label": f"F {kind}", "type": kind}
        if kind in ("select", "multi_select"):
            body["options"] = "One\nTwo"
        if kind == "number":
            body["default"] = "7"
        answer = owner_client_a.post("/settings/custom-fields/", body)
        assert answer.status_code == 302, answer.content.decode()[-3000:]
    form = owner_client_a.get("/contacts/new/").content.decode()
    for kind, name in (
        ("date", "f_date"),
        ("datetime-local", "f_datetime"),
        ("tel", "f_phone"),
        ("checkbox", "f_multi_select"),
        ("url", "f_url"),
        ("email", "f_email"),
    ):
        assert re.search(rf'<input type="{kind}" name="cf_{name}"', form), kind
    assert re.search(r'<textarea name="cf_f_long_text"', form)
    assert re.search(r'<input type="text" name="cf_f_number" value="7" inputmode="decimal"', form)
    assert re.search(r'<select name="cf_f_user"', form) and "Alpha" in form
    with schema_context(tenant_a.schema_name):
        user_id = User.objects.get(email="owner@alpha.test").pk
    created = owner_client_a.post(
        "/contacts/new/",
        {
            "first_name": "Every",
            "last_name": "Type",
            "lifecycle_stage": "lead",
            "cf_f_text": "t",
            "cf_f_long_text": "long\ntext",
            "cf_f_number": "3",
            "cf_f_decimal": "2.5",
            "cf_f_currency": "10",
            "cf_f_date": "2027-01-02",
            "cf_f_datetime": "2027-01-02T10:30",
            "cf_f_boolean": "true",
            "cf_f_select": "Two",
            "cf_f_multi_select": ["One", "Two"],
            "cf_f_url": "https://x.example",
            "cf_f_email": "a@x.example",
            "cf_f_phone": "+1 415 555 0000",
            "cf_f_user": str(user_id),
        },
    )
    assert created.status_code == 302, created.content.decode()[-3000:]
    detail = owner_client_a.get(created["Location"]).content.decode()
    assert "One, Two" in detail and "Yes" in detail and "2027-01-02" in detail
    edit = owner_client_a.get(created["Location"] + "edit/").content.decode()
    assert 'value="2027-01-02T10:30"' in edit and 'value="true" selected' in edit
    wrong = owner_client_a.post(
        created["Location"] + "edit/",
        {"first_name": "Every", "lifecycle_stage": "lead", "cf_f_number": "many"},
    )
    assert "F number must be a number" in wrong.content.decode()


def test_company_pages_people_sharing_and_merge(owner_client_a: Client, tenant_a: Tenant) -> None:
    with schema_context(tenant_a.schema_name):
        rep = make_user(email="company-rep@alpha.test", password="a-long-test-password")
        user_set_role(user=rep, role=Role.REP)
    first = owner_client_a.post(
        "/companies/new/", {"name": "Cyberdyne", "domain": "cyberdyne.example"}
    )
    keep = int(first["Location"].rstrip("/").split("/")[-1])
    warned = owner_client_a.post(
        "/companies/new/", {"name": "Cyberdyne Systems", "domain": "www.cyberdyne.example"}
    )
    assert "This looks like a duplicate of" in warned.content.decode()
    second = owner_client_a.post(
        "/companies/new/",
        {
            "name": "Cyberdyne Systems",
            "domain": "cyberdyne.example",
            "allow_duplicate": "1",
            "industry": "AI",
        },
    )
    gone = int(second["Location"].rstrip("/").split("/")[-1])
    person = _contact(
        owner_client_a, first_name="Miles", last_name="Dyson", company_name="Cyberdyne Systems"
    )
    page = owner_client_a.get(f"/companies/{gone}/").content.decode()
    assert "Miles Dyson" in page and "AI" in page
    dupes = owner_client_a.get("/companies/duplicates/").content.decode()
    assert "same domain" in dupes
    shared = owner_client_a.post(
        f"/contacts/{person}/share/", {"who": f"user:{rep.pk}", "level": "view"}, follow=True
    )
    assert "Shared Miles Dyson" in shared.content.decode()
    rep_client = login(tenant_client(tenant_a), tenant_a, rep.email)
    assert rep_client.get(f"/contacts/{person}/").status_code == 200
    assert rep_client.get(f"/contacts/{person}/edit/").status_code == 403
    assert rep_client.post(f"/contacts/{person}/notes/", {"body": "hi"}).status_code == 403
    bad_share = owner_client_a.post(
        f"/contacts/{person}/share/", {"who": "", "level": "view"}, follow=True
    )
    assert "Choose someone" in bad_share.content.decode()
    merged = owner_client_a.post(
        "/companies/merge/",
        {"ids": [keep, gone], "survivor": str(keep), "value_industry": str(gone)},
        follow=True,
    ).content.decode()
    assert "Merged 1 record(s) into Cyberdyne" in merged and "Miles Dyson" in merged
    assert owner_client_a.get(f"/companies/{gone}/").status_code == 404
    assert owner_client_a.post("/companies/merge/", {"ids": [keep, 999999]}).status_code == 404


def _streamed(response: Any) -> str:
    return b"".join(response.streaming_content).decode("utf-8-sig")


def test_export_follows_filters_and_neutralises_formulas(
    owner_client_a: Client, tenant_a: Tenant, owner_client_b: Client
) -> None:
    import csv
    import io

    from apps.audit.models import AuditEntry

    _contact(
        owner_client_a,
        first_name="=HYPERLINK(1)",
        last_name="Export",
        tags="vip",
        emails="x1@export.example",
    )
    _contact(
        owner_client_a,
        first_name="Plain",
        last_name="Export",
        allow_duplicate="1",
        emails="x2@export.example",
    )
    response = owner_client_a.get("/contacts/export/?tag=vip")
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(_streamed(response))))
    assert rows[0][:3] == ["ID", "First name", "Last name"]
    assert len(rows) == 2 and rows[1][1] == "'=HYPERLINK(1)" and "vip" in rows[1]
    api = owner_client_a.get("/api/v1/contacts/export/?last_name=export&ordering=first_name")
    lines = _streamed(api).splitlines()
    assert len(lines) == 3 and "Plain" in lines[2]
    with schema_context(tenant_a.schema_name):
        assert AuditEntry.objects.filter(action="contact.exported").count() == 2
    other = owner_client_b.get("/api/v1/contacts/export/")
    assert "export.example" not in _streamed(other)
