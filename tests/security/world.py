"""One record of every API resource, made through the API with the smallest valid body."""

from __future__ import annotations

import itertools
import json
from typing import Any

from django.test import Client

from .api_schema import collection_creates
from .conftest import PAYLOAD, assert_envelope, patch_json, post_json

_counter = itertools.count(1)


def _unique() -> int:
    return next(_counter)


def base_body(resource: str, ids: dict[str, int]) -> dict[str, Any] | None:
    """The smallest body that creates a `resource`, or None for one that is made another way
    (multipart `imports`, body-less `data-exports`). Every collection POST of the schema must
    be named here: a new resource fails `test_every_resource_has_a_base_body` until it is."""
    n = _unique()
    bodies: dict[str, dict[str, Any] | None] = {
        "companies": {"name": f"Hostile Co {n}", "domain": f"hostile{n}.example"},
        "contacts": {"first_name": "Hos", "last_name": f"Tile{n}", "email": f"h{n}@h.example"},
        "contact-links": {"contact": ids.get("contacts"), "company": ids.get("companies")},
        "pipelines": {"name": f"Pipeline {n}", "stages": [{"name": "First", "probability": 10}]},
        "stages": {"pipeline": ids.get("pipelines"), "name": f"Stage {n}", "probability": 20},
        "lost-reasons": {"name": f"Reason {n}"},
        "deals": {"title": f"Deal {n}", "stage": ids.get("stages")},
        "leads": {"first_name": "Lea", "last_name": f"D{n}", "email": f"lead{n}@h.example"},
        "lead-sources": {"name": f"Source {n}"},
        "forms": {"name": f"Form {n}", "fields": [{"target": "email"}]},
        "activities": {"type": "task", "subject": f"Task {n}"},
        "report-subscriptions": {"report": "dashboard"},
        "tags": {"name": f"tag-{n}"},
        "custom-fields": {"entity": "contact", "label": f"F {n}", "key": f"f{n}", "type": "text"},
        "api-keys": {"name": f"key {n}"},
        "imports": None,  # multipart upload: tests/security/test_uploads.py
        "data-exports": None,  # no body: one export of everything
    }
    return bodies.get(resource, {"__missing__": True})


# Dependencies first (a link needs a contact and a company, a stage its pipeline...).
ORDER = ["companies", "contacts", "contact-links", "pipelines", "stages", "lost-reasons", "deals"]


def create_order() -> list[str]:
    resources = [op.resource for op in collection_creates()]
    return [r for r in ORDER if r in resources] + [r for r in resources if r not in ORDER]


def make_world(client: Client) -> dict[str, int]:
    """Resource -> id of one record made through its collection POST."""
    ids: dict[str, int] = {}
    for resource in create_order():
        body = base_body(resource, ids)
        if body is None:
            continue
        response = post_json(client, f"/api/v1/{resource}/?allow_duplicate=true", body)
        assert response.status_code == 201, (resource, response.content[:400])
        ids[resource] = response.json()["id"]
    return ids


def send(client: Client, method: str, url: str, raw: str | bytes) -> Any:
    if method == "post":
        return post_json(client, url, raw)
    if method == "put":
        return client.put(url, raw, content_type="application/json")
    return patch_json(client, url, raw)


def store_hostile_text(
    client: Client, method: str, url: str, base: dict[str, Any], fields: list[str]
) -> tuple[Any, list[str], list[str]]:
    """Send `PAYLOAD` in every field of `fields`; a field whose own validation refuses it
    (a 400 naming it) is left out and the rest sent again. (response, kept, refused)."""
    fields, refused = list(fields), list[str]()
    while True:
        response = send(client, method, url, json.dumps({**base, **dict.fromkeys(fields, PAYLOAD)}))
        if response.status_code in (200, 201) or not fields:
            return response, fields, refused
        error = assert_envelope(response, (400, 403, 404, 405, 409))
        field = (error["field"] or "").split(".")[0]
        if field not in fields:  # e.g. `emails`, checked from `email`
            field = next((f for f in fields if field.startswith(f)), field)
        if response.status_code != 400 or field not in fields:
            return response, [], refused + fields
        fields.remove(field)
        refused.append(field)


def make_hostile_world(client: Client) -> dict[str, int]:
    """One record of every resource with PAYLOAD in every text field that accepts it, linked
    to each other (a deal with the contact and company, activities on them), plus a text
    custom field labelled and filled with it and a note on each record."""
    ids: dict[str, int] = {}
    creates = {op.resource: op for op in collection_creates()}
    field = post_json(
        client,
        "/api/v1/custom-fields/",
        {"entity": "contact", "label": PAYLOAD, "key": "hostile", "type": "text"},
    )
    assert field.status_code == 201, field.content[:300]
    for resource in create_order():
        op = creates[resource]
        body = base_body(resource, ids)
        if body is None:
            continue
        if resource == "contacts":
            body["custom_fields"] = {"hostile": PAYLOAD}
            body["tags"] = [PAYLOAD[:40]]
        if resource == "deals":
            body.update(contacts=[ids["contacts"]], companies=[ids["companies"]])
        if resource == "activities":
            body.update(contacts=[ids["contacts"]], deals=[ids["deals"]])
        response, _, _ = store_hostile_text(
            client, "post", f"{op.path}?allow_duplicate=true", body, list(op.text_fields)
        )
        assert response.status_code == 201, (resource, response.content[:300])
        ids[resource] = response.json()["id"]
    for resource in ("contacts", "companies", "deals", "leads"):
        note = post_json(client, f"/api/v1/{resource}/{ids[resource]}/notes/", {"body": PAYLOAD})
        assert note.status_code == 201, note.content[:300]
    return ids
