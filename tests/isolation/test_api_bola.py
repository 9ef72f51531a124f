"""Object-level authorisation of every API resource (BOLA): a key of organisation A reaches
no object of organisation B by its id, whatever the route, method or action - 404, never 403
and never 200 - and B's rows are unchanged; ids of B's objects inside A's request bodies are
refused with 400 naming the field, and nothing is saved; A's key means nothing on B's host;
inside one organisation, a rep's key and a scoped key reach only what they may.

The routes come from the OpenAPI schema: a route added without a case here fails the
coverage guards."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.test import Client
from django_tenants.utils import schema_context

from apps.apikeys.services import api_key_create
from apps.contacts.models import Contact
from apps.records.services import customfield_create
from tenants.models import Tenant
from tests.isolation.bola_objects import (
    FAR_IDS,
    World,
    build_world,
    differences,
    fill,
    kept_for_the_module,
    object_operations,
    schema_operations,
    snapshot,
)

pytestmark = pytest.mark.django_db
JSON = "application/json"

Body = Callable[[World], Any]


def _none(world: World) -> None:
    return None


def _id(resource: str) -> Callable[[World], int]:
    return lambda world: world.ids[resource]


# Each operation on one object: the schema path, the resource whose id fills it, and the body
# the attacker sends (made of its own organisation's ids, so only the path's id is foreign).
OBJECT_OPERATIONS: dict[tuple[str, str], tuple[str, Body]] = {}


def _record(
    prefix: str, resource: str, patch: dict[str, Any], extra: dict[tuple[str, str], Body]
) -> None:
    base = f"/api/v1/{prefix}/{{id}}/"
    OBJECT_OPERATIONS[(base, "GET")] = (resource, _none)
    OBJECT_OPERATIONS[(base, "PUT")] = (resource, lambda w: patch)
    OBJECT_OPERATIONS[(base, "PATCH")] = (resource, lambda w: patch)
    OBJECT_OPERATIONS[(base, "DELETE")] = (resource, _none)
    for (action, method), body in extra.items():
        OBJECT_OPERATIONS[(f"{base}{action}/", method)] = (resource, body)


_RECORD_ACTIONS: dict[tuple[str, str], Body] = {
    ("share", "POST"): lambda w: {"user": w.ids["user"], "level": "edit"},
    ("notes", "POST"): lambda w: {"body": "Stolen note"},
    ("timeline", "GET"): _none,
}

_record("contacts", "contact", {"first_name": "Stolen", "last_name": "X"}, _RECORD_ACTIONS)
_record("companies", "company", {"name": "Stolen Co"}, _RECORD_ACTIONS)
_record(
    "deals",
    "deal",
    {"title": "Stolen deal"},
    {**_RECORD_ACTIONS, ("move", "POST"): lambda w: {"stage": w.ids["stage2"]}},
)
_record(
    "leads",
    "lead",
    {"first_name": "Stolen"},
    {**_RECORD_ACTIONS, ("convert", "POST"): lambda w: {"create_deal": True}},
)
_record(
    "activities",
    "activity",
    {"subject": "Stolen", "type": "task"},
    {
        **_RECORD_ACTIONS,
        ("complete", "POST"): lambda w: {"done": True},
        ("reschedule", "POST"): lambda w: {"start_at": "2031-01-02T10:00:00Z"},
    },
)
_record("pipelines", "pipeline", {"name": "Stolen pipeline"}, {})
_record("stages", "stage", {"name": "Stolen stage", "pipeline": 0}, {})
_record("lost-reasons", "lost_reason", {"name": "Stolen reason"}, {})
_record("lead-sources", "lead_source", {"name": "Stolen source"}, {})
_record("forms", "web_form", {"name": "Stolen form"}, {})
_record("tags", "tag", {"name": "stolen"}, {})
_record(
    "custom-fields", "custom_field", {"label": "Stolen", "entity": "contact", "type": "text"}, {}
)
_record(
    "report-subscriptions",
    "report_subscription",
    {"report": "pipeline-by-stage", "active": False},
    {("send", "POST"): _none},
)
OBJECT_OPERATIONS[("/api/v1/stages/{id}/", "PUT")] = (
    "stage",
    lambda w: {"name": "Stolen stage", "pipeline": w.ids["pipeline"]},
)
OBJECT_OPERATIONS[("/api/v1/stages/{id}/", "PATCH")] = (
    "stage",
    lambda w: {"name": "Stolen stage"},
)
OBJECT_OPERATIONS.update(
    {
        ("/api/v1/contact-links/{id}/", "GET"): ("contact_link", _none),
        ("/api/v1/contact-links/{id}/", "DELETE"): ("contact_link", _none),
        ("/api/v1/merges/{id}/", "GET"): ("merge", _none),
        ("/api/v1/merges/{id}/undo/", "POST"): ("merge", _none),
        ("/api/v1/api-keys/{id}/", "GET"): ("api_key", _none),
        ("/api/v1/api-keys/{id}/revoke/", "POST"): ("api_key", _none),
        ("/api/v1/imports/{id}/", "GET"): ("import_job", _none),
        ("/api/v1/imports/{id}/", "PATCH"): ("import_job", lambda w: {"mode": "create"}),
        ("/api/v1/imports/{id}/cancel/", "POST"): ("import_job", _none),
        ("/api/v1/imports/{id}/preview/", "POST"): ("import_job", _none),
        ("/api/v1/imports/{id}/start/", "POST"): ("import_job", _none),
        ("/api/v1/imports/{id}/problems/", "GET"): ("import_job", _none),
        ("/api/v1/imports/{id}/error-file/", "GET"): ("import_job", _none),
        ("/api/v1/data-exports/{id}/", "GET"): ("data_export", _none),
        ("/api/v1/data-exports/{id}/download/", "GET"): ("data_export", _none),
        ("/api/v1/notifications/{id}/", "GET"): ("notification", _none),
        ("/api/v1/notifications/{id}/read/", "POST"): ("notification", _none),
        ("/api/v1/failed-tasks/{id}/", "GET"): ("failed_task", _none),
        ("/api/v1/failed-tasks/{id}/resolve/", "POST"): ("failed_task", _none),
    }
)

# Operations without an object id in the path, and why the object-id test leaves them to
# the body cases below (or has nothing to test in them).
COLLECTION_OPERATIONS: dict[tuple[str, str], str] = {}
for _prefix in ("contacts", "companies", "deals", "leads", "activities"):
    COLLECTION_OPERATIONS.update(
        {
            (f"/api/v1/{_prefix}/", "GET"): "list of the caller's organisation",
            (f"/api/v1/{_prefix}/", "POST"): "body ids: FOREIGN_IDS",
            (f"/api/v1/{_prefix}/bulk/", "POST"): "body ids: FOREIGN_IDS",
            (f"/api/v1/{_prefix}/bulk/", "PATCH"): "body ids: FOREIGN_IDS",
            (f"/api/v1/{_prefix}/duplicates/", "GET"): "pairs of the caller's organisation",
            (f"/api/v1/{_prefix}/export/", "GET"): "list of the caller's organisation",
            (f"/api/v1/{_prefix}/merge/", "POST"): "body ids: FOREIGN_IDS",
        }
    )
for _prefix in (
    "pipelines",
    "stages",
    "lost-reasons",
    "lead-sources",
    "forms",
    "tags",
    "custom-fields",
    "report-subscriptions",
    "contact-links",
    "api-keys",
    "imports",
    "data-exports",
):
    COLLECTION_OPERATIONS[(f"/api/v1/{_prefix}/", "GET")] = "list of the caller's organisation"
    COLLECTION_OPERATIONS[(f"/api/v1/{_prefix}/", "POST")] = "body ids: FOREIGN_IDS"
COLLECTION_OPERATIONS.update(
    {
        ("/api/v1/", "GET"): "API root",
        ("/api/v1/me/", "GET"): "the caller itself",
        ("/api/v1/notifications/", "GET"): "the caller's own",
        ("/api/v1/notifications/read-all/", "POST"): "the caller's own",
        ("/api/v1/notifications/settings/", "GET"): "the caller's own",
        ("/api/v1/notifications/settings/", "PATCH"): "the caller's own, no ids",
        ("/api/v1/activities/calendar-feed/", "GET"): "the caller's own",
        ("/api/v1/activities/calendar-feed/", "POST"): "the caller's own",
        ("/api/v1/activities/calendar-feed/", "DELETE"): "the caller's own",
        ("/api/v1/failed-tasks/", "GET"): "list of the caller's organisation",
        ("/api/v1/imports/fields/", "GET"): "field names, no records",
        ("/api/v1/reports/", "GET"): "report names",
        ("/api/v1/reports/{name}/", "GET"): "aggregates of the caller's organisation",
        ("/api/v1/reports/{name}/csv/", "GET"): "aggregates of the caller's organisation",
        ("/api/v1/data-exports/", "POST"): "no body",
    }
)


_schema: dict[str, Any] = {}


def api_schema(world: World) -> dict[str, Any]:
    """The OpenAPI schema as the attacker's organisation serves it (read once per run)."""
    if not _schema:
        response = world.client().get("/api/v1/schema/", {"format": "json"})
        assert response.status_code == 200, response.content[:300]
        _schema.update(json.loads(response.content))
    return _schema


@pytest.fixture(scope="module")
def _module_worlds(
    django_db_blocker: Any, tenant_a: Tenant, tenant_b: Tenant
) -> Iterator[tuple[World, World]]:
    with kept_for_the_module(django_db_blocker):
        yield build_world(tenant_a, label="a"), build_world(tenant_b, label="b", far=True)


@pytest.fixture
def worlds(_module_worlds: tuple[World, World], db: None) -> tuple[World, World]:
    """A (the attacker, small ids) and B (the attacked, every id of it >= FAR_IDS), built
    once for the module; each test's changes are rolled back after it."""
    return _module_worlds


@pytest.fixture
def attacker(worlds: tuple[World, World]) -> World:
    return worlds[0]


def _send(client: Client, method: str, path: str, body: Any) -> Any:
    if method == "GET":
        return client.get(path)
    payload = json.dumps(body) if body is not None else ""
    return getattr(client, method.lower())(path, payload, content_type=JSON)


# Coverage guards -------------------------------------------------------------------------


def test_every_object_route_of_the_schema_has_a_case(attacker: World) -> None:
    schema = api_schema(attacker)
    routes = object_operations(schema)
    assert routes == set(OBJECT_OPERATIONS), (
        f"object routes without a BOLA case: {sorted(routes - set(OBJECT_OPERATIONS))}; "
        f"cases for routes that no longer exist: {sorted(set(OBJECT_OPERATIONS) - routes)}"
    )
    rest = schema_operations(schema) - routes
    assert rest == set(COLLECTION_OPERATIONS), (
        f"routes without a case: {sorted(rest - set(COLLECTION_OPERATIONS))}; "
        f"cases for routes that no longer exist: {sorted(set(COLLECTION_OPERATIONS) - rest)}"
    )
    body_routes = {op for op, why in COLLECTION_OPERATIONS.items() if why.startswith("body")}
    assert body_routes == {route for route, *_ in FOREIGN_IDS}, (
        "writes that take ids in their body need a foreign-id case: "
        f"{sorted(body_routes - {route for route, *_ in FOREIGN_IDS})}"
    )


# Another organisation's objects by id ----------------------------------------------------


def test_no_object_of_another_organisation_is_reachable_by_id(
    worlds: tuple[World, World],
) -> None:
    attacker, victim = worlds
    assert all(pk >= FAR_IDS for pk in victim.ids.values())
    assert all(pk < FAR_IDS for pk in attacker.ids.values())
    client = attacker.client()
    before = snapshot(victim.tenant)
    failures = []
    # Reads and actions first, deletes last (a wrongly reachable delete would hide the rest).
    ordered = sorted(OBJECT_OPERATIONS.items(), key=lambda item: item[0][1] == "DELETE")
    for (path, method), (resource, body) in ordered:
        url = fill(path, victim.ids[resource])
        response = _send(client, method, url, body(attacker))
        if response.status_code != 404:
            failures.append(f"{method} {url}: {response.status_code} {response.content[:200]!r}")
        elif response["Content-Type"].startswith(JSON):
            error = response.json()["error"]
            if error["code"] != "not_found":
                failures.append(f"{method} {url}: code {error['code']}")
    assert not failures, "\n".join(failures)
    assert differences(before, snapshot(victim.tenant)) == []
    # The comparison sees a change of any row.
    with schema_context(victim.tenant.schema_name):
        Contact.objects.filter(pk=victim.ids["contact"]).update(title="Changed")
    assert differences(before, snapshot(victim.tenant)) == ["contacts_contact"]


def test_a_key_means_nothing_on_another_organisations_host(worlds: tuple[World, World]) -> None:
    attacker, victim = worlds
    client = attacker.client(host=victim.tenant)
    before = snapshot(victim.tenant)
    failures = []
    for (path, method), (resource, body) in OBJECT_OPERATIONS.items():
        url = fill(path, victim.ids[resource])
        response = _send(client, method, url, body(victim))
        if response.status_code != 401:
            failures.append(f"{method} {url}: {response.status_code}")
    assert not failures, "\n".join(failures)
    assert client.get("/api/v1/contacts/").status_code == 401
    assert differences(before, snapshot(victim.tenant)) == []


# Ids of another organisation's objects inside a body --------------------------------------

# (route, field the 400 must name, body, path's own-object resource or None). Bodies are
# built from the attacker's world `a` and the victim's world `b`.
ForeignBody = Callable[[World, World], Any]
FOREIGN_IDS: list[tuple[tuple[str, str], str, ForeignBody, str | None]] = []


def _foreign(route: tuple[str, str], field: str, body: ForeignBody, own: str | None = None) -> None:
    FOREIGN_IDS.append((route, field, body, own))


def _merge_body(entity: str, *, foreign: str) -> ForeignBody:
    def body(a: World, b: World) -> dict[str, Any]:
        survivor = b.ids[entity] if foreign == "survivor" else a.ids[entity]
        merged = b.ids[entity] if foreign == "merged" else a.ids[entity]
        return {"survivor": survivor, "merged": [merged]}

    return body


def _merge_values(entity: str) -> ForeignBody:
    """A field's winning value taken from another organisation's record."""

    def body(a: World, b: World) -> dict[str, Any]:
        name = "name" if entity == "company" else "first_name"
        return {
            "survivor": a.ids[entity],
            "merged": [a.ids[f"{entity}2"]],
            "values": {name: b.ids[entity]},
        }

    return body


def _with_ref(prefix: str, field: str, ref: str | list[str], *, bulk: bool) -> ForeignBody:
    def body(a: World, b: World) -> dict[str, Any]:
        value = [b.ids[ref[0]]] if isinstance(ref, list) else b.ids[ref]
        item = {**_MINIMAL[prefix], field: value}
        return {"items": [item]} if bulk else item

    return body


def _bulk_update_of(prefix: str) -> ForeignBody:
    def body(a: World, b: World) -> dict[str, Any]:
        return {"items": [{"id": b.ids[_SINGULAR[prefix]], **_MINIMAL[prefix]}]}

    return body


for _prefix, _entity in (
    ("contacts", "contact"),
    ("companies", "company"),
    ("leads", "lead"),
    ("deals", "deal"),
    ("activities", "activity"),
):
    _merge = (f"/api/v1/{_prefix}/merge/", "POST")
    _foreign(_merge, "survivor", _merge_body(_entity, foreign="survivor"))
    _foreign(_merge, "merged", _merge_body(_entity, foreign="merged"))
    if _entity in ("contact", "company", "lead"):
        _foreign(_merge, "values", _merge_values(_entity))
_MINIMAL: dict[str, dict[str, Any]] = {
    "contacts": {"first_name": "Foreign", "last_name": "Refs", "allow_duplicate": True},
    "companies": {"name": "Foreign Refs Co", "allow_duplicate": True},
    "deals": {"title": "Foreign refs deal"},
    "leads": {"first_name": "Foreign", "last_name": "Refs", "allow_duplicate": True},
    "activities": {"type": "task", "subject": "Foreign refs"},
}
_REFS: dict[str, dict[str, str | list[str]]] = {
    "contacts": {"owner": "user", "companies": ["company"]},
    "companies": {"owner": "user"},
    "deals": {
        "owner": "user",
        "pipeline": "pipeline",
        "stage": "stage",
        "contacts": ["contact"],
        "companies": ["company"],
    },
    "leads": {"owner": "user"},
    "activities": {
        "owner": "user",
        "assignee": "user",
        "contacts": ["contact"],
        "companies": ["company"],
        "deals": ["deal"],
        "leads": ["lead"],
    },
}
for _prefix, _fields in _REFS.items():
    for _field, _ref in _fields.items():
        _foreign(
            (f"/api/v1/{_prefix}/", "POST"), _field, _with_ref(_prefix, _field, _ref, bulk=False)
        )
        _foreign(
            (f"/api/v1/{_prefix}/bulk/", "POST"),
            "items",
            _with_ref(_prefix, _field, _ref, bulk=True),
        )
    _foreign((f"/api/v1/{_prefix}/bulk/", "PATCH"), "items", _bulk_update_of(_prefix))
_SINGULAR = {
    "contacts": "contact",
    "companies": "company",
    "deals": "deal",
    "leads": "lead",
    "activities": "activity",
}
_foreign(
    ("/api/v1/deals/", "POST"),
    "lost_reason",
    lambda a, b: {
        "title": "Lost abroad",
        "stage": a.ids["lost_stage"],
        "lost_reason": b.ids["lost_reason"],
    },
)
_foreign(
    ("/api/v1/contact-links/", "POST"),
    "company",
    lambda a, b: {"contact": a.ids["contact2"], "company": b.ids["company"]},
)
_foreign(
    ("/api/v1/contact-links/", "POST"),
    "contact",
    lambda a, b: {"contact": b.ids["contact"], "company": a.ids["company2"]},
)
_foreign(
    ("/api/v1/stages/", "POST"),
    "pipeline",
    lambda a, b: {"pipeline": b.ids["pipeline"], "name": "Foreign stage"},
)
_foreign(
    ("/api/v1/forms/", "POST"),
    "fixed_owner",
    lambda a, b: {"name": "Foreign form", "fixed_owner": b.ids["user"]},
)
_foreign(
    ("/api/v1/forms/", "POST"),
    "round_robin_users",
    lambda a, b: {
        "name": "Foreign form",
        "assignment": "round_robin",
        "round_robin_users": [b.ids["user"]],
    },
)
# Writes whose body takes no id of another record: a foreign id is just a value there.
for _route in (
    ("/api/v1/pipelines/", "POST"),
    ("/api/v1/lost-reasons/", "POST"),
    ("/api/v1/lead-sources/", "POST"),
    ("/api/v1/tags/", "POST"),
    ("/api/v1/custom-fields/", "POST"),
    ("/api/v1/api-keys/", "POST"),
    ("/api/v1/imports/", "POST"),
):
    _foreign(_route, "", lambda a, b: None)
_foreign(
    ("/api/v1/report-subscriptions/", "POST"),
    "params",
    lambda a, b: {"report": "pipeline-by-stage", "params": {"pipeline": str(b.ids["pipeline"])}},
)

# Ids in the bodies (and `move_to`) of operations on the attacker's own objects.
OWN_OBJECT_FOREIGN_IDS: list[tuple[str, str, str, str, ForeignBody]] = [
    # (method, path, own resource, field, body)
    (
        "PATCH",
        "/api/v1/contacts/{id}/",
        "contact",
        "companies",
        lambda a, b: {"companies": [b.ids["company"]]},
    ),
    ("PATCH", "/api/v1/contacts/{id}/", "contact", "owner", lambda a, b: {"owner": b.ids["user"]}),
    ("PATCH", "/api/v1/companies/{id}/", "company", "owner", lambda a, b: {"owner": b.ids["user"]}),
    ("PATCH", "/api/v1/deals/{id}/", "deal", "stage", lambda a, b: {"stage": b.ids["stage"]}),
    (
        "PATCH",
        "/api/v1/deals/{id}/",
        "deal",
        "pipeline",
        lambda a, b: {"pipeline": b.ids["pipeline"]},
    ),
    (
        "PATCH",
        "/api/v1/deals/{id}/",
        "deal",
        "contacts",
        lambda a, b: {"contacts": [b.ids["contact"]]},
    ),
    (
        "PATCH",
        "/api/v1/deals/{id}/",
        "deal",
        "companies",
        lambda a, b: {"companies": [b.ids["company"]]},
    ),
    ("PATCH", "/api/v1/deals/{id}/", "deal", "owner", lambda a, b: {"owner": b.ids["user"]}),
    ("POST", "/api/v1/deals/{id}/move/", "deal", "stage", lambda a, b: {"stage": b.ids["stage"]}),
    (
        "POST",
        "/api/v1/deals/{id}/move/",
        "deal",
        "lost_reason",
        lambda a, b: {"stage": a.ids["lost_stage"], "lost_reason": b.ids["lost_reason"]},
    ),
    (
        "PATCH",
        "/api/v1/activities/{id}/",
        "activity",
        "deals",
        lambda a, b: {"deals": [b.ids["deal"]]},
    ),
    (
        "PATCH",
        "/api/v1/activities/{id}/",
        "activity",
        "contacts",
        lambda a, b: {"contacts": [b.ids["contact"]]},
    ),
    (
        "PATCH",
        "/api/v1/activities/{id}/",
        "activity",
        "assignee",
        lambda a, b: {"assignee": b.ids["user"]},
    ),
    ("PATCH", "/api/v1/leads/{id}/", "lead", "owner", lambda a, b: {"owner": b.ids["user"]}),
    (
        "POST",
        "/api/v1/leads/{id}/convert/",
        "lead",
        "contact",
        lambda a, b: {"contact": b.ids["contact"]},
    ),
    (
        "POST",
        "/api/v1/leads/{id}/convert/",
        "lead",
        "company",
        lambda a, b: {"company": b.ids["company"]},
    ),
    (
        "POST",
        "/api/v1/leads/{id}/convert/",
        "lead",
        "pipeline",
        lambda a, b: {"create_deal": True, "deal": {"pipeline": b.ids["pipeline"]}},
    ),
    (
        "POST",
        "/api/v1/leads/{id}/convert/",
        "lead",
        "stage",
        lambda a, b: {"create_deal": True, "deal": {"stage": b.ids["stage"]}},
    ),
    (
        "POST",
        "/api/v1/contacts/{id}/share/",
        "contact",
        "user",
        lambda a, b: {"user": b.ids["user"], "level": "view"},
    ),
    (
        "POST",
        "/api/v1/deals/{id}/share/",
        "deal",
        "team",
        lambda a, b: {"team": b.ids["team"], "level": "view"},
    ),
    (
        "PATCH",
        "/api/v1/stages/{id}/",
        "stage",
        "pipeline",
        lambda a, b: {"pipeline": b.ids["pipeline"]},
    ),
    (
        "PATCH",
        "/api/v1/forms/{id}/",
        "web_form",
        "fixed_owner",
        lambda a, b: {"fixed_owner": b.ids["user"]},
    ),
    ("DELETE", "/api/v1/stages/{id}/?move_to={b.stage}", "stage2", "move_to", lambda a, b: None),
    (
        "DELETE",
        "/api/v1/pipelines/{id}/?move_to={b.pipeline}",
        "pipeline",
        "move_to",
        lambda a, b: None,
    ),
]


def _names_field(response: Any, field: str) -> bool:
    text = response.content.decode()
    error = response.json().get("error", {})
    named = str(error.get("field") or "")
    return named == field or named.endswith(f".{field}") or f'"{field}"' in text


def test_ids_of_another_organisation_in_a_body_are_refused_by_name(
    worlds: tuple[World, World],
) -> None:
    attacker, victim = worlds
    client = attacker.client()
    failures = []
    cases: list[tuple[str, str, str, Any]] = []
    for (path, method), field, body, _own in FOREIGN_IDS:
        payload = body(attacker, victim)
        if payload is not None:
            cases.append((method, path, field, payload))
    for method, path, resource, field, body in OWN_OBJECT_FOREIGN_IDS:
        url = fill(path, attacker.ids[resource])
        url = url.replace("{b.stage}", str(victim.ids["stage"]))
        url = url.replace("{b.pipeline}", str(victim.ids["pipeline"]))
        cases.append((method, url, field, body(attacker, victim)))
    before = snapshot(attacker.tenant)
    for method, url, field, payload in cases:
        response = _send(client, method, url, payload)
        if response.status_code != 400 or not _names_field(response, field):
            failures.append(
                f"{method} {url} {field}: {response.status_code} {response.content[:300]!r}"
            )
    assert not failures, "\n".join(failures)
    # Nothing of any refused write was saved (a failure here: bisect `cases`).
    assert differences(before, snapshot(attacker.tenant)) == []


def test_a_user_custom_field_refuses_a_person_of_another_organisation(
    worlds: tuple[World, World],
) -> None:
    attacker, victim = worlds
    with schema_context(attacker.tenant.schema_name):
        customfield_create(actor=attacker.owner, entity="contact", label="Referrer", type="user")
    response = attacker.client().patch(
        f"/api/v1/contacts/{attacker.ids['contact']}/",
        {"custom_fields": {"referrer": victim.ids["user"]}},
        content_type=JSON,
    )
    assert response.status_code == 400, response.content
    assert "referrer" in response.content.decode()


# Inside one organisation ------------------------------------------------------------------

# What a rep's key (role rep, acting as a rep who owns nothing of the world) gets on the
# owner's object of each resource: 404 where records are private to their owners and
# sharers, 403 where the resource is for Admins (its objects are no secret to the rep).
REP_EXPECTS: dict[str, int] = {
    "contacts": 404,
    "companies": 404,
    "deals": 404,
    "leads": 404,
    "activities": 404,
    "contact-links": 404,
    "merges": 404,
    "notifications": 404,
    "report-subscriptions": 404,
    "imports": 404,
    "forms": 403,
    "api-keys": 403,
    "data-exports": 403,
    "failed-tasks": 403,
}
# Settings lists every member reads; only Admins change them.
REP_READS_ADMIN_WRITES = (
    "pipelines",
    "stages",
    "lost-reasons",
    "lead-sources",
    "tags",
    "custom-fields",
)


def _resource_of(path: str) -> str:
    return path.split("/")[3]


def test_a_reps_key_reaches_only_what_the_rep_may(attacker: World) -> None:
    owner_world = attacker
    client = owner_world.client("rep")
    before = snapshot(owner_world.tenant)
    failures = []
    covered: set[str] = set()
    for (path, method), (resource, body) in OBJECT_OPERATIONS.items():
        name = _resource_of(path)
        covered.add(name)
        url = fill(path, owner_world.ids[resource])
        response = _send(client, method, url, body(owner_world))
        if name in REP_EXPECTS:
            expected = {REP_EXPECTS[name]}
        elif method == "GET":
            expected = {200}
        else:
            expected = {403}
        if response.status_code not in expected:
            failures.append(f"{method} {url}: {response.status_code}, expected {expected}")
    assert covered == set(REP_EXPECTS) | set(REP_READS_ADMIN_WRITES)
    assert not failures, "\n".join(failures)
    assert differences(before, snapshot(owner_world.tenant)) == []


def test_a_scoped_key_reaches_only_its_scopes(attacker: World) -> None:
    world = attacker
    with schema_context(world.tenant.schema_name):
        read_tags = api_key_create(
            name="Tags reader", role="owner", scopes=["tags:read"], created_by=world.owner
        ).secret
    client = Client(
        HTTP_HOST=f"{world.tenant.slug}.localhost", HTTP_AUTHORIZATION=f"Bearer {read_tags}"
    )
    before = snapshot(world.tenant)
    failures = []
    for (path, method), (resource, body) in OBJECT_OPERATIONS.items():
        url = fill(path, world.ids[resource])
        response = _send(client, method, url, body(world))
        allowed = _resource_of(path) == "tags" and method == "GET"
        expected = {200} if allowed else {403}
        if response.status_code not in expected:
            failures.append(f"{method} {url}: {response.status_code}, expected {expected}")
    assert not failures, "\n".join(failures)
    assert differences(before, snapshot(world.tenant)) == []
