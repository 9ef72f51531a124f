"""List filters on built-in fields, tags and custom fields through the API, the tags and
custom-fields resources, and companies' own duplicate rules."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from apps.records.templatetags.records import join_list

pytestmark = pytest.mark.django_db
JSON = "application/json"


def post(client: Client, url: str, body: Any) -> Any:
    return client.post(url, body, content_type=JSON)


def names(response: Any) -> list[str]:
    assert response.status_code == 200, response.content
    return sorted(c.get("first_name") or c.get("name") for c in response.json()["results"])


def test_builtin_filters_and_their_errors(owner_client_a: Client) -> None:
    me = owner_client_a.get("/api/v1/me/").json()["user"]["id"]
    post(
        owner_client_a,
        "/api/v1/contacts/",
        {"first_name": "Filter", "last_name": "Anderson", "title": "CTO", "city": "Oslo"},
    )
    post(
        owner_client_a,
        "/api/v1/contacts/",
        {"first_name": "Sieve", "last_name": "Nilsen", "lifecycle_stage": "customer"},
    )
    get = owner_client_a.get
    assert names(get("/api/v1/contacts/?last_name__contains=ders")) == ["Filter"]
    assert names(get("/api/v1/contacts/?title=cto")) == ["Filter"]
    assert names(get("/api/v1/contacts/?city__isnull=true")) == ["Sieve"]
    assert names(get("/api/v1/contacts/?city__isnull=false")) == ["Filter"]
    assert names(get("/api/v1/contacts/?lifecycle_stage=customer")) == ["Sieve"]
    assert names(get(f"/api/v1/contacts/?owner={me}")) == ["Filter", "Sieve"]
    assert names(get("/api/v1/contacts/?owner=me")) == ["Filter", "Sieve"]
    assert names(get("/api/v1/contacts/?created_at__gte=2000-01-01&ordering=-last_name")) == [
        "Filter",
        "Sieve",
    ]
    for bad, field in (
        ("owner=abc", "owner"),
        ("first_name__regex=x", "first_name__regex"),
        ("nope=1", "nope"),
        ("ordering=notes_x", "ordering"),
    ):
        answer = get(f"/api/v1/contacts/?{bad}")
        assert answer.status_code == 400, bad
        assert answer.json()["error"]["field"] == field


def test_custom_field_filters_of_each_kind(owner_client_a: Client) -> None:
    for label, kind, extra in (
        ("Renewal", "date", {}),
        ("Active", "boolean", {}),
        ("Langs", "multi_select", {"options": ["en", "de", "fr"]}),
        ("Budget", "currency", {}),
    ):
        made = post(
            owner_client_a,
            "/api/v1/custom-fields/",
            {"entity": "company", "label": label, "type": kind, **extra},
        )
        assert made.status_code == 201, made.content
    post(
        owner_client_a,
        "/api/v1/companies/",
        {
            "name": "Early",
            "custom_fields": {
                "renewal": "2027-01-31",
                "active": "yes",
                "langs": ["en", "de"],
                "budget": "900",
            },
        },
    )
    post(
        owner_client_a,
        "/api/v1/companies/",
        {
            "name": "Late",
            "custom_fields": {
                "renewal": "2027-06-30",
                "active": False,
                "langs": "fr",
                "budget": "12000.5",
            },
        },
    )
    get = owner_client_a.get
    assert names(get("/api/v1/companies/?cf_renewal__lt=2027-03-01")) == ["Early"]
    assert names(get("/api/v1/companies/?cf_active=true")) == ["Early"]
    assert names(get("/api/v1/companies/?cf_langs=de")) == ["Early"]
    assert names(get("/api/v1/companies/?cf_budget__gte=1000")) == ["Late"]
    assert names(get("/api/v1/companies/?cf_budget__isnull=true&name__contains=a")) == []
    assert names(get("/api/v1/companies/?cf_renewal__contains=06")) == ["Late"]
    assert [c["name"] for c in get("/api/v1/companies/?ordering=-cf_budget").json()["results"]][
        :2
    ] == ["Late", "Early"]
    wrong = get("/api/v1/companies/?cf_budget__gte=lots")
    assert wrong.status_code == 400 and "decimal" in wrong.json()["error"]["message"]
    unknown_op = get("/api/v1/companies/?cf_budget__near=1")
    assert unknown_op.status_code == 400


def test_tags_and_custom_field_resources(owner_client_a: Client) -> None:
    tag = post(owner_client_a, "/api/v1/tags/", {"name": " Hot  lead ", "color": "#ff0000"})
    assert tag.status_code == 201 and tag.json()["name"] == "Hot lead"
    again = post(owner_client_a, "/api/v1/tags/", {"name": "hot lead"})
    assert again.status_code == 400 and "already a tag" in again.json()["error"]["message"]
    bad_color = post(owner_client_a, "/api/v1/tags/", {"name": "x", "color": "red"})
    assert bad_color.status_code == 400 and bad_color.json()["error"]["field"] == "color"
    renamed = owner_client_a.patch(
        f"/api/v1/tags/{tag.json()['id']}/", {"name": "Warm"}, content_type=JSON
    )
    assert renamed.json()["name"] == "Warm"
    assert owner_client_a.delete(f"/api/v1/tags/{tag.json()['id']}/").status_code == 204
    field = post(
        owner_client_a,
        "/api/v1/custom-fields/",
        {
            "entity": "contact",
            "label": "Region",
            "type": "select",
            "options": ["EU", "US"],
            "default": "EU",
        },
    ).json()
    assert field["default"] == "EU"
    made = post(owner_client_a, "/api/v1/contacts/", {"first_name": "Defaulted"}).json()
    assert made["custom_fields"] == {"region": "EU"}
    moved = owner_client_a.patch(
        f"/api/v1/custom-fields/{field['id']}/", {"entity": "company"}, content_type=JSON
    )
    assert moved.status_code == 400 and moved.json()["error"]["field"] == "entity"
    drop = owner_client_a.patch(
        f"/api/v1/custom-fields/{field['id']}/", {"options": ["US"]}, content_type=JSON
    )
    assert drop.status_code == 400 and "still in use" in drop.json()["error"]["message"]
    bad_default = owner_client_a.patch(
        f"/api/v1/custom-fields/{field['id']}/", {"default": "APAC"}, content_type=JSON
    )
    assert bad_default.status_code == 400 and bad_default.json()["error"]["field"] == "default"
    assert owner_client_a.delete(f"/api/v1/custom-fields/{field['id']}/").status_code == 204
    listed = owner_client_a.get("/api/v1/custom-fields/?entity=contact").json()["results"]
    assert [f["archived"] for f in listed if f["key"] == "region"] == [True]
    kept = owner_client_a.get(f"/api/v1/contacts/{made['id']}/").json()
    assert kept["custom_fields"] == {"region": "EU"}
    bad_key = post(
        owner_client_a,
        "/api/v1/custom-fields/",
        {"entity": "contact", "label": "X", "key": "9bad", "type": "text"},
    )
    assert bad_key.status_code == 400 and bad_key.json()["error"]["field"] == "key"


def test_company_duplicates_by_domain_and_name(owner_client_a: Client) -> None:
    first = post(
        owner_client_a,
        "/api/v1/companies/",
        {"name": "Wayne Enterprises", "domain": "https://www.wayne.example/about"},
    )
    assert first.json()["domain"] == "wayne.example"
    same_domain = post(
        owner_client_a, "/api/v1/companies/", {"name": "WE Holdings", "domain": "WAYNE.example"}
    )
    assert same_domain.status_code == 409
    assert same_domain.json()["error"]["details"]["candidates"] == [first.json()["id"]]
    similar = post(owner_client_a, "/api/v1/companies/", {"name": "Wayne Enterprise"})
    assert similar.status_code == 409
    twin = owner_client_a.post(
        "/api/v1/companies/?allow_duplicate=true", {"name": "wayne enterprises"}, content_type=JSON
    )
    assert twin.status_code == 201
    pairs = owner_client_a.get("/api/v1/companies/duplicates/").json()["results"]
    assert {"ids": [first.json()["id"], twin.json()["id"]], "reasons": ["same name"]} in pairs
    bad = post(owner_client_a, "/api/v1/companies/", {"name": "Bad", "domain": "not a domain"})
    assert bad.status_code == 400 and bad.json()["error"]["field"] == "domain"
    renamed = owner_client_a.patch(
        f"/api/v1/companies/{twin.json()['id']}/",
        {"name": "Wayne Foundation", "phone": "+1 212 555 0100"},
        content_type=JSON,
    )
    assert renamed.json()["phone"] == "+12125550100"
    merged = post(
        owner_client_a,
        "/api/v1/companies/merge/",
        {"survivor": first.json()["id"], "merged": [twin.json()["id"]]},
    )
    assert merged.status_code == 200
    info = owner_client_a.get(f"/api/v1/merges/{merged.json()['merge_id']}/").json()
    assert info["merged"] == [twin.json()["id"]] and info["undone_at"] is None
    timeline = owner_client_a.get(f"/api/v1/companies/{first.json()['id']}/timeline/?page=x")
    assert timeline.status_code == 400
    assert owner_client_a.get("/api/v1/merges/999999/").status_code == 404


def test_multi_values_read_as_text() -> None:
    assert join_list(["a", "b"]) == "a, b"
    assert join_list(True) == "Yes" and join_list(False) == "No" and join_list("x") == "x"


def test_openapi_schema_is_valid_without_warnings(tmp_path: Any) -> None:
    from django.core.management import call_command

    target = tmp_path / "schema.yml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target))
    text = target.read_text()
    for path in (
        "/api/v1/contacts/merge/",
        "/api/v1/merges/{id}/undo/",
        "/api/v1/tags/",
        "/api/v1/custom-fields/",
        "/api/v1/contact-links/",
        "/api/v1/contacts/bulk/",
    ):
        assert path in text, path


def test_tag_colours_come_from_a_stylesheet_not_inline_styles(owner_client_a: Client) -> None:
    response = owner_client_a.post("/api/v1/tags/", {"name": "Hot", "color": "#dc2626"})
    assert response.status_code == 201, response.content
    pk = response.json()["id"]
    css = owner_client_a.get("/tags.css")
    assert css.status_code == 200 and css["Content-Type"].startswith("text/css")
    assert f".tag-{pk}{{--tag:#dc2626}}" in css.content.decode()
    again = owner_client_a.get("/tags.css", HTTP_IF_NONE_MATCH=css["ETag"])
    assert again.status_code == 304
    page = owner_client_a.get("/settings/tags/").content.decode()
    assert f'class="tag tag-{pk}"' in page and "style=" not in page
    assert '<link rel="stylesheet" href="/tags.css">' in page
