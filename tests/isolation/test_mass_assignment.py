"""Mass assignment: every create and update of the API ignores (or refuses with 400) the
fields a client must not set - the id, timestamps, the read-only fields its schema declares,
tenant and schema names, who created it, a key's hash, an import's or export's status - and
an owner that is nobody of the organisation is refused, never stored.

The writes come from the OpenAPI schema: a write added without a case here fails the
coverage guard."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from django.apps import apps as django_apps
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import models
from django.test import Client
from django.utils.dateparse import parse_date, parse_datetime
from django_tenants.utils import schema_context

from apps.companies.services import company_create
from apps.dataexport.models import DataExport
from tenants.models import Tenant
from tests.isolation.bola_objects import (
    FAR_IDS,
    World,
    build_world,
    differences,
    fill,
    kept_for_the_module,
    schema_operations,
    snapshot,
)

pytestmark = pytest.mark.django_db
JSON = "application/json"

FORGED_ID = FAR_IDS + 4242
FORGED_MOMENT = "2001-02-03T04:05:06Z"
_counter = itertools.count(1)

# Fields no client sets on any resource, whether or not the serializer shows them.
ALWAYS_FORGED: dict[str, Any] = {
    "id": FORGED_ID,
    "created_at": FORGED_MOMENT,
    "updated_at": FORGED_MOMENT,
    "tenant": 1,
    "tenant_id": 1,
    "schema_name": "public",
    "created_by": 1,
    "created_by_id": 1,
}
# Fields the schema shows as writable that a client still may not set to these values.
EXTRA_FORGED: dict[str, dict[str, Any]] = {
    "leads": {"status": "converted", "converted_contact": 1, "converted_at": FORGED_MOMENT},
    "api-keys": {
        "secret_hash": "0" * 64,
        "prefix": "deadbeef",
        "key": "kst_deadbeef_forged",
        "revoked_at": FORGED_MOMENT,
        "last_used_at": FORGED_MOMENT,
    },
    "imports": {"status": "succeeded", "created": 99, "rows_total": 99, "actor": 1},
    "data-exports": {"status": "done", "file": "forged.zip", "requested_by": 1},
    "report-subscriptions": {"user": 1, "subscriber": 1, "next_run_at": FORGED_MOMENT},
    "forms": {"public_id": "forged-public-id", "submissions": 99},
    "deals": {"status": "won", "won_at": FORGED_MOMENT, "stage_entered_at": FORGED_MOMENT},
    "activities": {"done_at": FORGED_MOMENT, "scheduled_at": FORGED_MOMENT},
    "stages": {"kind": "won"},
}
# Set once on create (a client may choose it then), never changed afterwards.
EXTRA_FORGED_ON_UPDATE: dict[str, dict[str, Any]] = {
    "custom-fields": {"key": "forged_key", "entity": "deal"},
}
# A person of another organisation (no such id here) as the record's owner.
FOREIGN_OWNER = {"owner": FAR_IDS + 1, "assignee": FAR_IDS + 1, "fixed_owner": FAR_IDS + 1}

MODELS = {
    "contacts": "contacts.Contact",
    "companies": "companies.Company",
    "contact-links": "contacts.ContactCompany",
    "deals": "deals.Deal",
    "pipelines": "deals.Pipeline",
    "stages": "deals.Stage",
    "lost-reasons": "deals.LostReason",
    "leads": "leads.Lead",
    "lead-sources": "leads.LeadSource",
    "forms": "leads.WebForm",
    "activities": "activities.Activity",
    "tags": "records.Tag",
    "custom-fields": "records.CustomField",
    "report-subscriptions": "reports.Subscription",
    "api-keys": "apikeys.ApiKey",
    "imports": "imports.ImportJob",
    "data-exports": "dataexport.DataExport",
}

Body = Callable[[World, int], dict[str, Any]]


def _link(world: World, n: int) -> dict[str, Any]:
    with schema_context(world.tenant.schema_name):
        company = company_create(actor=world.owner, name=f"Linked {n}", allow_duplicate=True)
    return {"contact": world.ids["contact2"], "company": company.pk}


# A valid body for each create, unique per call.
CREATES: dict[str, Body] = {
    "contacts": lambda w, n: {"first_name": "Mass", "last_name": f"Assign {n}"},
    "companies": lambda w, n: {"name": f"Mass Co {n}"},
    "contact-links": _link,
    "deals": lambda w, n: {"title": f"Mass deal {n}"},
    "pipelines": lambda w, n: {"name": f"Mass pipeline {n}"},
    "stages": lambda w, n: {"pipeline": w.ids["pipeline2"], "name": f"Mass stage {n}"},
    "lost-reasons": lambda w, n: {"name": f"Mass reason {n}"},
    "leads": lambda w, n: {"first_name": "Mass", "last_name": f"Lead {n}"},
    "lead-sources": lambda w, n: {"name": f"Mass source {n}"},
    "forms": lambda w, n: {"name": f"Mass form {n}", "fields": [{"target": "email"}]},
    "activities": lambda w, n: {"type": "task", "subject": f"Mass task {n}"},
    "tags": lambda w, n: {"name": f"mass-{n}"},
    "custom-fields": lambda w, n: {"entity": "lead", "label": f"Mass field {n}", "type": "text"},
    "report-subscriptions": lambda w, n: {"report": "won-lost", "hour": n % 24},
    "api-keys": lambda w, n: {"name": f"Mass key {n}"},
    "imports": lambda w, n: {"entity": "contact", "dry_run": "true"},
    "data-exports": lambda w, n: {},
}
# A valid body for each update of the world's object (PUT gets the create body as well).
UPDATES: dict[str, tuple[str, Body]] = {
    "contacts": ("contact", lambda w, n: {"title": f"Mass {n}"}),
    "companies": ("company", lambda w, n: {"industry": f"Mass {n}"}),
    "deals": ("deal", lambda w, n: {"title": f"Mass deal {n}"}),
    "pipelines": ("pipeline", lambda w, n: {"name": f"Mass pipeline {n}"}),
    "stages": ("stage", lambda w, n: {"name": f"Mass stage {n}"}),
    "lost-reasons": ("lost_reason", lambda w, n: {"name": f"Mass reason {n}"}),
    "leads": ("lead", lambda w, n: {"first_name": f"Mass {n}"}),
    "lead-sources": ("lead_source", lambda w, n: {"name": f"Mass source {n}"}),
    "forms": ("web_form", lambda w, n: {"name": f"Mass form {n}"}),
    "activities": ("activity", lambda w, n: {"subject": f"Mass task {n}"}),
    "tags": ("tag", lambda w, n: {"name": f"mass-{n}"}),
    "custom-fields": ("custom_field", lambda w, n: {"label": f"Mass field {n}"}),
    "report-subscriptions": ("report_subscription", lambda w, n: {"hour": n % 24}),
    "imports": ("import_job", lambda w, n: {"mode": "create"}),
}
PUT_EXTRA: dict[str, Body] = {
    "stages": lambda w, n: {"pipeline": w.ids["pipeline"]},
    "custom-fields": lambda w, n: {"entity": "contact", "type": "text"},
    "activities": lambda w, n: {"type": "task"},
    "contacts": lambda w, n: {"first_name": "Mass"},
    "companies": lambda w, n: {"name": f"Mass Co {n}"},
    "report-subscriptions": lambda w, n: {"report": "pipeline-by-stage"},
}
# Record types with `bulk/` (create and update up to 100 at once, each item as one write).
BULK = ("contacts", "companies", "deals", "leads", "activities")
# Writes of the schema this file leaves out, and why.
NOT_RECORDS = {
    ("/api/v1/notifications/settings/", "PATCH"): "the caller's own preferences, no record",
}


def _is_create(path: str) -> bool:
    return path.count("/") == 4  # /api/v1/<resource>/


def writes(schema: dict[str, Any]) -> set[tuple[str, str]]:
    return {
        (path, method)
        for path, method in schema_operations(schema)
        if (method == "POST" and (_is_create(path) or path.endswith("/bulk/")))
        or method in ("PUT", "PATCH")
    }


def read_only_fields(schema: dict[str, Any], path: str, method: str) -> dict[str, Any]:
    """The read-only properties of the operation's answer, each with a forged value."""
    operation = schema["paths"][path][method.lower()]
    forged: dict[str, Any] = {}
    for answer in operation.get("responses", {}).values():
        ref = answer.get("content", {}).get(JSON, {}).get("schema", {}).get("$ref", "")
        component = schema["components"]["schemas"].get(ref.rsplit("/", 1)[-1], {})
        for name, prop in component.get("properties", {}).items():
            if prop.get("readOnly"):
                forged[name] = _forge(schema, prop)
    return forged


def _forge(schema: dict[str, Any], prop: dict[str, Any]) -> Any:
    if "$ref" in prop or "allOf" in prop:
        ref = prop.get("$ref") or prop["allOf"][0].get("$ref", "")
        prop = schema["components"]["schemas"].get(ref.rsplit("/", 1)[-1], {})
    if "enum" in prop:
        return [v for v in prop["enum"] if v][-1]
    kind = prop.get("type")
    if kind == "integer":
        return 987_654
    if kind == "boolean":
        return True
    if kind == "array":
        return [987_654]
    if kind == "object":
        return {"forged": 1}
    if prop.get("format") == "date-time":
        return FORGED_MOMENT
    if prop.get("format") == "date":
        return "2001-02-03"
    if prop.get("format") == "decimal":
        return "987654.00"
    return "forged"


def _same(stored: Any, forged: Any) -> bool:
    """Whether a stored (or shown) value is the forged one."""
    if isinstance(stored, datetime) or (isinstance(stored, str) and parse_datetime(stored)):
        moment = stored if isinstance(stored, datetime) else parse_datetime(stored)
        wanted = parse_datetime(str(forged)) if isinstance(forged, str) else None
        return bool(moment and wanted and moment.astimezone(UTC) == wanted.astimezone(UTC))
    if isinstance(forged, str) and parse_date(forged) and str(stored) == forged:
        return True
    return json.dumps(stored, default=str, sort_keys=True) == json.dumps(
        forged, default=str, sort_keys=True
    ) or (not isinstance(forged, (dict, list, bool)) and str(stored) == str(forged))


def _model(resource: str) -> type[models.Model]:
    return django_apps.get_model(MODELS[resource])


def _row(world: World, resource: str, pk: int) -> dict[str, Any]:
    with schema_context(world.tenant.schema_name):
        model = _model(resource)
        row = model._default_manager.filter(pk=pk).values().first() or {}
    for field in list(row):
        if field.endswith("_id"):
            row.setdefault(field[:-3], row[field])
    return row


def _shown(client: Client, resource: str, pk: int) -> dict[str, Any]:
    response = client.get(f"/api/v1/{resource}/{pk}/")
    assert response.status_code == 200, (resource, response.content[:200])
    data: dict[str, Any] = response.json()
    return data


def _send(client: Client, method: str, path: str, resource: str, body: dict[str, Any]) -> Any:
    if resource == "imports" and method == "POST":
        upload = SimpleUploadedFile("mass.csv", b"First name,Email\nMass,mass@x.test\n")
        flat = {k: json.dumps(v) if isinstance(v, (dict, list)) else v for k, v in body.items()}
        return client.post(path, {**flat, "file": upload})
    return getattr(client, method.lower())(path, json.dumps(body), content_type=JSON)


def _ready(world: World, resource: str) -> None:
    if resource == "data-exports":  # one export at a time per organisation
        with schema_context(world.tenant.schema_name):
            DataExport.objects.update(status="failed")


@pytest.fixture(scope="module")
def _module_world(django_db_blocker: Any, tenant_a: Tenant) -> Iterator[World]:
    with kept_for_the_module(django_db_blocker):
        yield build_world(tenant_a, label="mass")


@pytest.fixture
def world(_module_world: World, db: None) -> World:
    """Organisation A's objects, built once for the module; each test's writes are rolled
    back after it."""
    return _module_world


_schema: dict[str, Any] = {}


def api_schema(world: World) -> dict[str, Any]:
    if not _schema:
        response = world.client().get("/api/v1/schema/", {"format": "json"})
        assert response.status_code == 200
        _schema.update(json.loads(response.content))
    return _schema


def _resource(path: str) -> str:
    return path.split("/")[3]


def test_the_comparison_sees_an_applied_field() -> None:
    forged = {"created_at": FORGED_MOMENT, "owner": 987_654, "done": True}
    after = {"created_at": "2001-02-03T04:05:06+00:00", "owner": 987_654, "done": True}
    assert _applied(forged, after, {"created_at": "2026-01-01T00:00:00Z", "done": False}) == [
        "created_at",
        "owner",
        "done",
    ]
    assert _applied(forged, after, after) == []  # held the value already: not the write's doing


def test_every_write_of_the_schema_has_a_case(world: World) -> None:
    known = {(f"/api/v1/{r}/", "POST") for r in CREATES}
    known |= {(f"/api/v1/{r}/{{id}}/", m) for r in UPDATES for m in ("PUT", "PATCH")}
    known -= {("/api/v1/imports/{id}/", "PUT")}  # imports change by PATCH only
    known |= {(f"/api/v1/{r}/bulk/", m) for r in BULK for m in ("POST", "PATCH")}
    known |= set(NOT_RECORDS)
    found = writes(api_schema(world))
    assert found == known, (
        f"writes without a mass-assignment case: {sorted(found - known)}; "
        f"cases for writes that no longer exist: {sorted(known - found)}"
    )


def _forged_for(schema: dict[str, Any], path: str, method: str, body: dict[str, Any]) -> Any:
    resource = _resource(path)
    forged = {**read_only_fields(schema, path, method), **ALWAYS_FORGED}
    forged.update(EXTRA_FORGED.get(resource, {}))
    if method != "POST":
        forged.update(EXTRA_FORGED_ON_UPDATE.get(resource, {}))
    return {name: value for name, value in forged.items() if name not in body}


def _applied(forged: dict[str, Any], after: dict[str, Any], before: dict[str, Any]) -> list[str]:
    """The forged fields whose value `after` holds and `before` (a write without them) does
    not."""
    return [
        name
        for name, value in forged.items()
        if name in after and _same(after[name], value) and not _same(before.get(name), value)
    ]


def test_creates_ignore_or_refuse_what_a_client_may_not_set(world: World) -> None:
    schema = api_schema(world)
    client = world.client()
    failures: list[str] = []
    for resource, make in CREATES.items():
        path = f"/api/v1/{resource}/"
        _ready(world, resource)
        plain = _send(client, "POST", path, resource, make(world, next(_counter)))
        assert plain.status_code in (201, 202), (resource, plain.content[:300])
        plain_id = plain.json()["id"]
        _ready(world, resource)
        body = make(world, next(_counter))
        forged = _forged_for(schema, path, "POST", body)
        before = snapshot(world.tenant)
        response = _send(client, "POST", path, resource, {**body, **forged})
        if response.status_code == 400:
            if differences(before, snapshot(world.tenant)):
                failures.append(f"POST {path}: 400 but saved")
            continue
        if response.status_code not in (201, 202):
            failures.append(f"POST {path}: {response.status_code} {response.content[:200]!r}")
            continue
        made = response.json()["id"]
        if made == FORGED_ID:
            failures.append(f"POST {path}: took the forged id")
        applied = _applied(forged, response.json(), plain.json())
        applied += _applied(
            forged, _shown(client, resource, made), _shown(client, resource, plain_id)
        )
        applied += _applied(forged, _row(world, resource, made), _row(world, resource, plain_id))
        if applied:
            failures.append(f"POST {path}: applied {sorted(set(applied))}")
    assert not failures, "\n".join(failures)


def test_updates_ignore_or_refuse_what_a_client_may_not_set(world: World) -> None:
    schema = api_schema(world)
    client = world.client()
    failures: list[str] = []
    for resource, (key, make) in UPDATES.items():
        pk = world.ids[key]
        for method in ("PATCH", "PUT"):
            path = f"/api/v1/{resource}/{{id}}/"
            if (path, method) not in schema_operations(schema):
                continue
            body = make(world, next(_counter))
            if method == "PUT":
                body = {**CREATES[resource](world, next(_counter)), **body}
                body.update(PUT_EXTRA.get(resource, lambda w, n: {})(world, next(_counter)))
            forged = _forged_for(schema, path, method, body)
            shown_before = _shown(client, resource, pk)
            row_before = _row(world, resource, pk)
            before = snapshot(world.tenant)
            url = fill(path, pk)
            response = _send(client, method, url, resource, {**body, **forged})
            if response.status_code == 400:
                if differences(before, snapshot(world.tenant)):
                    failures.append(f"{method} {url}: 400 but saved")
                continue
            if response.status_code != 200:
                failures.append(
                    f"{method} {url}: {response.status_code} {response.content[:200]!r}"
                )
                continue
            applied = _applied(forged, response.json(), shown_before)
            applied += _applied(forged, _shown(client, resource, pk), shown_before)
            applied += _applied(forged, _row(world, resource, pk), row_before)
            if _row(world, resource, FORGED_ID) and row_before.get("id") != FORGED_ID:
                applied.append("id")
            if applied:
                failures.append(f"{method} {url}: applied {sorted(set(applied))}")
    assert not failures, "\n".join(failures)


def test_an_owner_of_another_organisation_is_refused(world: World) -> None:
    """The owner (assignee, fixed owner) named by a write must be a person of the
    organisation: another organisation's person is a 400 naming the field."""
    schema = api_schema(world)
    client = world.client()
    failures: list[str] = []
    for resource, make in CREATES.items():
        path = f"/api/v1/{resource}/"
        props = _request_fields(schema, path, "POST")
        named = [field for field in FOREIGN_OWNER if field in props]
        for field in named:
            _ready(world, resource)
            before = snapshot(world.tenant)
            body = {**make(world, next(_counter)), field: FOREIGN_OWNER[field]}
            response = _send(client, "POST", path, resource, body)
            error = response.json().get("error", {}) if response.status_code == 400 else {}
            if response.status_code != 400 or error.get("field") != field:
                failures.append(f"POST {path} {field}: {response.status_code}")
            if differences(before, snapshot(world.tenant)):
                failures.append(f"POST {path} {field}: saved")
    assert not failures, "\n".join(failures)
    assert (
        len(
            [
                r
                for r in CREATES
                if FOREIGN_OWNER.keys() & _request_fields(schema, f"/api/v1/{r}/", "POST")
            ]
        )
        >= 6
    )


def _request_fields(schema: dict[str, Any], path: str, method: str) -> set[str]:
    body = schema["paths"][path][method.lower()].get("requestBody", {}).get("content", {})
    fields: set[str] = set()
    for content in body.values():
        ref = content.get("schema", {}).get("$ref", "")
        component = schema["components"]["schemas"].get(ref.rsplit("/", 1)[-1], {})
        fields |= set(component.get("properties", {}))
    return fields


def test_bulk_writes_ignore_what_a_client_may_not_set(world: World) -> None:
    schema = api_schema(world)
    client = world.client()
    failures: list[str] = []
    for resource in BULK:
        path = f"/api/v1/{resource}/bulk/?allow_duplicate=true"
        plain = client.post(
            path, {"items": [CREATES[resource](world, next(_counter))]}, content_type=JSON
        )
        assert plain.status_code == 201, (resource, plain.content[:300])
        plain_id = plain.json()["results"][0]["id"]
        body = CREATES[resource](world, next(_counter))
        forged = _forged_for(schema, f"/api/v1/{resource}/", "POST", body)
        before = snapshot(world.tenant)
        response = client.post(path, {"items": [{**body, **forged}]}, content_type=JSON)
        if response.status_code == 400:
            if differences(before, snapshot(world.tenant)):
                failures.append(f"POST {path}: 400 but saved")
        elif response.status_code != 201:
            failures.append(f"POST {path}: {response.status_code} {response.content[:200]!r}")
        else:
            made = response.json()["results"][0]["id"]
            applied = _applied(forged, _row(world, resource, made), _row(world, resource, plain_id))
            if made == FORGED_ID or applied:
                failures.append(f"POST {path}: applied {sorted(applied)} (id {made})")
        key, make = UPDATES[resource]
        pk = world.ids[key]
        update = make(world, next(_counter))
        forged = _forged_for(schema, f"/api/v1/{resource}/{{id}}/", "PATCH", update)
        forged.pop("id")  # names the record to change
        row_before = _row(world, resource, pk)
        before = snapshot(world.tenant)
        item = {**update, **forged, "id": pk}
        response = client.patch(path, {"items": [item]}, content_type=JSON)
        if response.status_code == 400:
            if differences(before, snapshot(world.tenant)):
                failures.append(f"PATCH {path}: 400 but saved")
        elif response.status_code != 200:
            failures.append(f"PATCH {path}: {response.status_code} {response.content[:200]!r}")
        else:
            applied = _applied(forged, _row(world, resource, pk), row_before)
            if applied:
                failures.append(f"PATCH {path}: applied {sorted(applied)}")
    assert not failures, "\n".join(failures)
