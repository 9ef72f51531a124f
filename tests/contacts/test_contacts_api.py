"""Contacts through the REST API: fields, duplicates, search with typos, custom fields, tags,
bulk writes, links, merge and undo, timeline; and another organisation sees none of it."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django_tenants.utils import schema_context

from apps.audit.models import AuditEntry
from apps.contacts.models import Contact
from tenants.models import Tenant

pytestmark = pytest.mark.django_db
JSON = "application/json"


def post(client: Client, url: str, body: Any) -> Any:
    return client.post(url, body, content_type=JSON)


def patch(client: Client, url: str, body: Any) -> Any:
    return client.patch(url, body, content_type=JSON)


def test_contact_fields_are_normalised(owner_client_a: Client) -> None:
    created = post(
        owner_client_a,
        "/api/v1/contacts/",
        {
            "first_name": " Ada ",
            "last_name": "Lovelace",
            "emails": ["ADA@Example.com", "ada@work.example"],
            "phones": ["+44 20 7946 0958"],
            "title": "Analyst",
            "lifecycle_stage": "customer",
        },
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["first_name"] == "Ada"
    assert body["email"] == "ada@example.com"
    assert body["emails"] == ["ada@example.com", "ada@work.example"]
    assert body["phone"] == "+442079460958"
    assert body["tags"] == [] and body["custom_fields"] == {}
    bad_phone = post(owner_client_a, "/api/v1/contacts/", {"first_name": "X", "phones": ["12"]})
    assert bad_phone.status_code == 400
    assert bad_phone.json()["error"]["field"] == "phones"
    assert "not a" in bad_phone.json()["error"]["message"]
    nameless = post(owner_client_a, "/api/v1/contacts/", {"title": "Ghost"})
    assert nameless.status_code == 400 and nameless.json()["error"]["field"] == "first_name"
    # Making another address primary keeps the first one.
    changed = patch(
        owner_client_a, f"/api/v1/contacts/{body['id']}/", {"email": "ada@work.example"}
    )
    assert changed.json()["emails"] == ["ada@work.example", "ada@example.com"]


def test_duplicates_answer_409_unless_allowed(owner_client_a: Client) -> None:
    first = post(
        owner_client_a,
        "/api/v1/contacts/",
        {"first_name": "Grace", "last_name": "Hopper", "email": "grace@navy.example"},
    ).json()
    same_email = post(
        owner_client_a,
        "/api/v1/contacts/",
        {"first_name": "G.", "last_name": "H.", "email": "GRACE@navy.example"},
    )
    assert same_email.status_code == 409
    error = same_email.json()["error"]
    assert error["code"] == "duplicate_suspected"
    assert error["details"]["candidates"] == [first["id"]]
    similar_name = post(
        owner_client_a, "/api/v1/contacts/", {"first_name": "Grace", "last_name": "Hoper"}
    )
    assert similar_name.status_code == 409
    anyway = owner_client_a.post(
        "/api/v1/contacts/?allow_duplicate=true",
        {"first_name": "Grace", "last_name": "Hoper"},
        content_type=JSON,
    )
    assert anyway.status_code == 201
    twin = owner_client_a.post(
        "/api/v1/contacts/?allow_duplicate=true",
        {"first_name": "Grace B.", "email": "grace@navy.example"},
        content_type=JSON,
    ).json()
    pairs = owner_client_a.get("/api/v1/contacts/duplicates/").json()["results"]
    assert {"ids": [first["id"], twin["id"]], "reasons": ["same email"]} in pairs


def test_search_finds_a_misspelt_name(owner_client_a: Client) -> None:
    for first, last in (("Katherine", "Johnson"), ("Dorothy", "Vaughan"), ("Mary", "Jackson")):
        post(owner_client_a, "/api/v1/contacts/", {"first_name": first, "last_name": last})
    found = owner_client_a.get("/api/v1/contacts/?search=Vaughn").json()["results"]
    assert [c["last_name"] for c in found] == ["Vaughan"]
    found = owner_client_a.get("/api/v1/contacts/?search=katherin jonson").json()["results"]
    assert [c["first_name"] for c in found] == ["Katherine"]


def test_custom_fields_validate_filter_sort_and_refuse_lossy_type_changes(
    owner_client_a: Client,
) -> None:
    tier = post(
        owner_client_a,
        "/api/v1/custom-fields/",
        {"entity": "contact", "label": "Tier", "type": "select", "options": ["Gold", "Silver"]},
    )
    assert tier.status_code == 201, tier.content
    assert tier.json()["key"] == "tier"
    score = post(
        owner_client_a,
        "/api/v1/custom-fields/",
        {"entity": "contact", "label": "Score", "type": "text"},
    ).json()
    wrong = post(
        owner_client_a,
        "/api/v1/contacts/",
        {"first_name": "Wrong", "custom_fields": {"tier": "Bronze"}},
    )
    assert wrong.status_code == 400
    assert "not an option of Tier" in str(wrong.json()["error"]["details"])
    unknown = post(
        owner_client_a, "/api/v1/contacts/", {"first_name": "U", "custom_fields": {"nope": 1}}
    )
    assert unknown.status_code == 400
    for name, t, s in (("Ann", "gold", "10"), ("Ben", "Silver", "9"), ("Cy", "Gold", "100")):
        made = post(
            owner_client_a,
            "/api/v1/contacts/",
            {"first_name": name, "custom_fields": {"tier": t, "score": s}},
        )
        assert made.status_code == 201, made.content
    golds = owner_client_a.get("/api/v1/contacts/?cf_tier=Gold&ordering=first_name").json()
    assert [c["first_name"] for c in golds["results"]] == ["Ann", "Cy"]
    assert golds["results"][0]["custom_fields"]["tier"] == "Gold"
    # Text sorts as text until the field becomes a number; then it sorts numerically.
    converted = patch(owner_client_a, f"/api/v1/custom-fields/{score['id']}/", {"type": "number"})
    assert converted.status_code == 200, converted.content
    by_score = owner_client_a.get("/api/v1/contacts/?ordering=-cf_score&cf_score__gte=9").json()
    assert [c["first_name"] for c in by_score["results"]] == ["Cy", "Ann", "Ben"]
    post(
        owner_client_a,
        "/api/v1/contacts/",
        {"first_name": "Dee", "custom_fields": {"tier": "Silver"}},
    )
    lossy = patch(owner_client_a, f"/api/v1/custom-fields/{tier.json()['id']}/", {"type": "number"})
    assert lossy.status_code == 400
    assert "would not convert" in lossy.json()["error"]["message"]
    # Archiving keeps the values; un-archiving shows them again.
    patch(owner_client_a, f"/api/v1/custom-fields/{tier.json()['id']}/", {"archived": True})
    ann = owner_client_a.get("/api/v1/contacts/?first_name=Ann").json()["results"][0]
    assert ann["custom_fields"]["tier"] == "Gold"
    bad_filter = owner_client_a.get("/api/v1/contacts/?cf_missing=1")
    assert bad_filter.status_code == 400 and bad_filter.json()["error"]["field"] == "cf_missing"
    schema = owner_client_a.get("/api/v1/schema/?format=json").json()
    props = schema["components"]["schemas"]["Contact"]["properties"]["custom_fields"]
    assert props["properties"]["score"]["type"] == "number"


def test_tags_filter_and_bulk_all_or_nothing(owner_client_a: Client, tenant_a: Tenant) -> None:
    items = [{"first_name": f"Bulk{i}", "tags": ["vip"] if i % 2 else []} for i in range(5)]
    made = post(owner_client_a, "/api/v1/contacts/bulk/", {"items": items})
    assert made.status_code == 201, made.content
    ids = [c["id"] for c in made.json()["results"]]
    vips = owner_client_a.get("/api/v1/contacts/?tag=VIP").json()["results"]
    assert sorted(c["id"] for c in vips) == sorted(ids[1::2])
    broken = post(
        owner_client_a,
        "/api/v1/contacts/bulk/",
        {"items": [{"first_name": "Fine"}, {"first_name": "Bad", "phones": ["nope"]}]},
    )
    assert broken.status_code == 400
    assert broken.json()["error"]["details"]["items"][0]["index"] == 1
    with schema_context(tenant_a.schema_name):
        assert not Contact.objects.filter(first_name="Fine").exists()
    updated = patch(
        owner_client_a,
        "/api/v1/contacts/bulk/",
        [{"id": pk, "title": "Buyer"} for pk in ids],
    )
    assert updated.status_code == 200
    assert {c["title"] for c in updated.json()["results"]} == {"Buyer"}
    too_many = post(owner_client_a, "/api/v1/contacts/bulk/", [{"first_name": "x"}] * 101)
    assert too_many.status_code == 400 and "At most 100" in too_many.json()["error"]["message"]


def test_links_merge_and_undo(owner_client_a: Client, tenant_a: Tenant) -> None:
    acme = post(owner_client_a, "/api/v1/companies/", {"name": "Acme", "domain": "acme.example"})
    acme_id = acme.json()["id"]
    keep = post(
        owner_client_a,
        "/api/v1/contacts/",
        {
            "first_name": "Alan",
            "last_name": "Turing",
            "email": "alan@acme.example",
            "tags": ["math"],
        },
    ).json()
    gone = owner_client_a.post(
        "/api/v1/contacts/?allow_duplicate=true",
        {
            "first_name": "A.",
            "last_name": "Turing",
            "email": "turing@bletchley.example",
            "title": "Cryptanalyst",
            "tags": ["codes"],
            "companies": [acme_id],
        },
        content_type=JSON,
    ).json()
    note = post(
        owner_client_a, f"/api/v1/contacts/{gone['id']}/notes/", {"body": "Met at Bletchley"}
    )
    assert note.status_code == 201
    link = post(
        owner_client_a,
        "/api/v1/contact-links/",
        {"contact": keep["id"], "company": acme_id, "role": "Founder"},
    )
    assert link.status_code == 201
    merged = post(
        owner_client_a,
        "/api/v1/contacts/merge/",
        {"survivor": keep["id"], "merged": [gone["id"]], "values": {"title": gone["id"]}},
    )
    assert merged.status_code == 200, merged.content
    survivor = merged.json()["survivor"]
    assert survivor["title"] == "Cryptanalyst"
    assert sorted(survivor["emails"]) == ["alan@acme.example", "turing@bletchley.example"]
    assert sorted(survivor["tags"]) == ["codes", "math"]
    assert owner_client_a.get(f"/api/v1/contacts/{gone['id']}/").status_code == 404
    timeline = owner_client_a.get(f"/api/v1/contacts/{keep['id']}/timeline/").json()["results"]
    kinds = [item["kind"] for item in timeline]
    assert "merge" in kinds and "note" in kinds
    notes = owner_client_a.get(f"/api/v1/contacts/{keep['id']}/timeline/?kind=note").json()
    assert [n["body"] for n in notes["results"]] == ["Met at Bletchley"]
    with schema_context(tenant_a.schema_name):
        assert AuditEntry.objects.filter(action="contact.merged").exists()
    undone = post(owner_client_a, f"/api/v1/merges/{merged.json()['merge_id']}/undo/", {})
    assert undone.status_code == 200, undone.content
    back = owner_client_a.get(f"/api/v1/contacts/{gone['id']}/").json()
    assert back["emails"] == ["turing@bletchley.example"] and back["tags"] == ["codes"]
    assert back["companies"] == [acme_id]
    again = owner_client_a.get(f"/api/v1/contacts/{keep['id']}/").json()
    assert again["title"] == "" and again["tags"] == ["math"]
    twice = post(owner_client_a, f"/api/v1/merges/{merged.json()['merge_id']}/undo/", {})
    assert twice.status_code == 400


def test_field_changes_appear_in_the_timeline(owner_client_a: Client) -> None:
    pk = post(owner_client_a, "/api/v1/contacts/", {"first_name": "Hedy"}).json()["id"]
    patch(owner_client_a, f"/api/v1/contacts/{pk}/", {"last_name": "Lamarr", "title": "Inventor"})
    changes = owner_client_a.get(f"/api/v1/contacts/{pk}/timeline/?kind=change").json()["results"]
    assert changes[0]["title"] == "Changed"
    assert {"field": "Job title", "old": "", "new": "Inventor"} in changes[0]["changes"]
    assert changes[-1]["title"] == "Created"


def test_another_organisation_sees_nothing(owner_client_a: Client, owner_client_b: Client) -> None:
    pk = post(owner_client_a, "/api/v1/contacts/", {"first_name": "Secret", "last_name": "Agent"})
    pk = pk.json()["id"]
    other = owner_client_b
    assert other.get(f"/api/v1/contacts/{pk}/").status_code == 404
    assert other.get("/api/v1/contacts/?search=secret").json()["results"] == []
    assert patch(other, f"/api/v1/contacts/{pk}/", {"title": "x"}).status_code == 404
    assert other.delete(f"/api/v1/contacts/{pk}/").status_code == 404
    merge = post(other, "/api/v1/contacts/merge/", {"survivor": pk, "merged": [pk]})
    # Records named in a body are bad values of their field, not missing pages.
    assert merge.status_code == 400 and merge.json()["error"]["field"] == "survivor"


def test_cursor_pages_through_a_custom_field_sort_with_empty_values(
    owner_client_a: Client,
) -> None:
    post(
        owner_client_a,
        "/api/v1/custom-fields/",
        {"entity": "contact", "label": "Rank", "type": "number"},
    )
    items = [
        {"first_name": f"Page{i}", "custom_fields": {"rank": i} if i % 3 else {}} for i in range(7)
    ]
    assert (
        post(owner_client_a, "/api/v1/contacts/bulk/?allow_duplicate=true", items).status_code
        == 201
    )
    seen: list[str] = []
    url = "/api/v1/contacts/?ordering=cf_rank&page_size=2&first_name__contains=page"
    while url:
        page = owner_client_a.get(url)
        assert page.status_code == 200, page.content
        seen += [c["first_name"] for c in page.json()["results"]]
        url = page.json()["next"]
    # The empty ones first (by id), then 1, 2, 4, 5 in numeric order; nobody twice or lost.
    assert seen == ["Page0", "Page3", "Page6", "Page1", "Page2", "Page4", "Page5"]


def test_fast_representation_matches_the_serializer_fields(in_tenant_a: Any) -> None:
    from rest_framework import serializers

    from apps.accounts.models import User
    from apps.companies.api.views import CompanySerializer
    from apps.companies.selectors import company_get
    from apps.companies.services import company_create
    from apps.contacts.api.views import ContactSerializer
    from apps.contacts.selectors import contact_get
    from apps.contacts.services import contact_create

    owner = User.objects.get(email="owner@alpha.test")
    company = company_create(actor=owner, name="Shape Ltd", tags=["x"], size="1-10")
    contact = contact_create(
        actor=owner,
        first_name="Shape",
        emails=["s@shape.example"],
        tags=["y"],
        companies=[company.pk],
    )
    cases: list[tuple[Any, Any]] = [
        (ContactSerializer, contact_get(user=owner, pk=contact.pk)),
        (CompanySerializer, company_get(user=owner, pk=company.pk)),
    ]
    for serializer_class, record in cases:
        fast = serializer_class(record).data
        generic = serializers.ModelSerializer.to_representation(serializer_class(record), record)
        assert list(fast) == list(generic) == serializer_class.Meta.fields
        for name in ("emails", "phones", "companies"):
            generic.pop(name, None)
            fast.pop(name, None)
        assert fast == generic
