"""Hostile bodies to every writable API operation (from the OpenAPI schema): deep nesting,
numbers JSON cannot or the database will not hold, bytes that are not UTF-8, bodies over the
size limit, and SQL/HTML in every free-text field. Each gets a 400/413 in the one error
envelope, never a 500, and nothing is saved; text is stored exactly as sent."""

from __future__ import annotations

import itertools
import json

import pytest
from django.conf import settings
from django.test import Client
from django_tenants.utils import schema_context

from apps.contacts.models import Contact
from apps.core.api.parsers import JSONParser
from tenants.models import Tenant

from .api_schema import collection_creates, json_operations, operations
from .conftest import PAYLOAD, assert_envelope, patch_json, post_json, tenant_routes
from .world import base_body, create_order, send, store_hostile_text

pytestmark = pytest.mark.django_db

DEPTH = 100_000
NESTED = {
    "array": "[" * DEPTH + "]" * DEPTH,
    "object": '{"a":' * DEPTH + "1" + "}" * DEPTH,
    "in a field": '{"name":' + "[" * DEPTH + "]" * DEPTH + "}",
}
# Numbers JSON itself refuses (strict), ones no column holds, and one Python will not parse.
UNPARSABLE = ["NaN", "Infinity", "-Infinity", "1e400", "-1e400", "9" * 5000]
TOO_LARGE = [str(10**30)]
# Every view parses with the one guarded parser (checked below), so what it does with a body
# is shown once per kind of body on every collection, and each number on a few of them.
SAMPLE = ("contacts", "deals", "custom-fields")
# Fields a resource keeps only in some state: a lost note only on a lost deal.
STATEFUL = {("deals", "lost_note")}


def test_every_resource_has_a_base_body(tenant_a: Tenant) -> None:
    missing = [
        op.resource
        for op in collection_creates()
        if (base_body(op.resource, {}) or {}).get("__missing__")
    ]
    assert not missing, f"add a base body for {missing} in tests/security/world.py"
    assert len(json_operations()) >= 60  # the schema really was read


def test_every_api_view_parses_json_with_the_guarded_parser() -> None:
    """So the requests below, sent to each collection, stand for every writable operation:
    no view brings a JSON parser of its own."""
    views = {r.view_class for r in tenant_routes() if r.is_api and r.view_class is not None}
    assert len(views) >= 15
    for view in views:
        json_parsers = [p for p in view.parser_classes if "json" in p.media_type]
        assert json_parsers == [JSONParser], (view, view.parser_classes)


@pytest.mark.parametrize("kind", list(NESTED))
def test_deeply_nested_json_is_a_400(api: Client, world: dict[str, int], kind: str) -> None:
    for op in collection_creates():
        if kind != "array" and op.resource not in SAMPLE:
            continue
        response = send(api, op.method, op.url(world), NESTED[kind])
        if response.status_code == 202:  # data exports read no body
            continue
        error = assert_envelope(response, 400, "parse_error")
        assert "nested too deeply" in error["message"], (op.path, error)
    patched = patch_json(api, f"/api/v1/contacts/{world['contacts']}/", NESTED[kind])
    assert_envelope(patched, 400, "parse_error")
    # The process is fine afterwards: an ordinary request still works.
    assert api.get("/api/v1/contacts/").status_code == 200


def test_numbers_json_cannot_hold_are_a_400(api: Client, world: dict[str, int]) -> None:
    for number in UNPARSABLE:
        raw = json.dumps({"name": "__N__", "title": "__N__"}).replace('"__N__"', number)
        for op in collection_creates():
            if op.resource not in SAMPLE:
                continue
            response = post_json(api, op.path, raw)
            error = assert_envelope(response, 400, "parse_error")
            assert number[:10] in error["message"] or "digits" in error["message"], error


def test_numbers_no_column_holds_are_refused_by_field(api: Client, world: dict[str, int]) -> None:
    tried = 0
    for op in collection_creates():
        body = base_body(op.resource, world)
        if body is None:
            continue
        for name, number in itertools.product(op.number_fields, TOO_LARGE):
            raw = json.dumps({**body, name: "__N__"}).replace('"__N__"', number)
            response = post_json(api, f"{op.path}?allow_duplicate=true", raw)
            if response.status_code == 201:  # accepted only if not stored (an order renumbered)
                assert str(response.json().get(name)) != number, (op.path, name)
                continue
            error = assert_envelope(response, 400)
            assert error["field"] in (name, None) or error["field"].startswith(name), (
                op.path,
                name,
                error,
            )
            tried += 1
    assert tried >= 15


def test_bytes_that_are_not_utf8_in_a_json_body(api: Client, world: dict[str, int]) -> None:
    for op in collection_creates():
        raw = b'{"name": "\xff\xfe caf\xe9", "title": "\xc3\x28"}'
        response = send(api, op.method, op.url(world), raw)
        if response.status_code == 202:  # data exports read no body
            continue
        error = assert_envelope(response, 400, "parse_error")
        assert "utf-8" in error["message"].lower(), (op.path, error)


def test_oversized_json_bodies_are_413_and_save_nothing(
    api: Client, world: dict[str, int], tenant_a: Tenant
) -> None:
    with schema_context(tenant_a.schema_name):
        contacts = Contact.objects.count()
    filler = "x" * settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    for op in collection_creates():
        body = base_body(op.resource, world)
        if body is None:  # imports: test_uploads; data exports take no body and read none
            continue
        response = post_json(api, op.path, {**body, "notes": filler})
        error = assert_envelope(response, 413, "request_too_large")
        assert "5 MB" in error["message"]
    with schema_context(tenant_a.schema_name):
        assert Contact.objects.count() == contacts


def test_not_utf8_query_strings_and_headers(api: Client, tenant_a: Tenant) -> None:
    refused = api.get("/api/v1/contacts/?search=%ff%fe&tag=caf%e9")
    error = assert_envelope(refused, 400, "validation_error")
    assert "UTF-8" in error["message"]
    anonymous = Client(HTTP_HOST=f"{tenant_a.slug}.localhost")
    # WSGI passes header bytes on as latin-1 text: a key of such bytes is simply not a key.
    for value in ("Bearer kst_\xff\xfe", "Api-Key \xc3\x28", "Bearer " + "\x00" * 10):
        response = anonymous.get("/api/v1/contacts/", HTTP_AUTHORIZATION=value)
        assert_envelope(response, 401)
    replay = api.post(
        "/api/v1/tags/",
        json.dumps({"name": "idem-\u00e9"}),
        content_type="application/json",
        HTTP_IDEMPOTENCY_KEY="k\xff\xfe",
    )
    assert replay.status_code in (201, 400), replay.content[:300]


def test_hostile_text_is_stored_verbatim_in_every_text_field(
    api: Client, world: dict[str, int]
) -> None:
    """SQL and HTML in every free-text field of every resource: either kept exactly as sent
    (and read back equal) or refused by that field's own validation with a 400 naming it."""
    kept: dict[str, list[str]] = {}
    refused: dict[str, list[str]] = {}
    ids = dict(world)  # each new record is the one the next resources link to (fresh links)
    creates = {op.resource: op for op in collection_creates()}
    for resource in create_order():
        op = creates[resource]
        body = base_body(resource, ids)
        if body is None or not op.text_fields:
            continue
        response, fields, refused[resource] = store_hostile_text(
            api, "post", f"{op.path}?allow_duplicate=true", body, list(op.text_fields)
        )
        assert response.status_code == 201, (resource, response.content[:300])
        ids[resource] = response.json()["id"]
        record = api.get(f"{op.path}{ids[resource]}/").json()
        for name in fields:
            if (resource, name) not in STATEFUL:
                assert record[name] == PAYLOAD, (resource, name, record[name])
        kept[resource] = fields
    total = sum(len(v) for v in kept.values())
    assert total >= 40, (kept, refused)
    for resource in ("contacts", "companies", "deals", "leads", "activities", "forms"):
        assert kept.get(resource), (resource, refused.get(resource))


def test_hostile_text_in_updates_and_actions(api: Client, world: dict[str, int]) -> None:
    """PATCH of every resource and every action with a text field (notes, moves...)."""
    stored = 0
    for op in operations():
        if op.is_collection_create or op.method == "put" or not op.text_fields:
            continue
        response, fields, _ = store_hostile_text(
            api, op.method, op.url(world), {}, list(op.text_fields)
        )
        assert response.status_code < 500, (op.path, response.content[:300])
        if response.status_code in (200, 201):
            answer = response.json()
            stored += sum(answer.get(name) == PAYLOAD for name in fields)
    assert stored >= 30
