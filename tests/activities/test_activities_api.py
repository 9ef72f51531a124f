"""`/api/v1/activities/`: the record conventions (shape, filters, errors, permissions) plus
complete, reschedule and the calendar feed endpoints."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django_tenants.utils import schema_context

from apps.accounts.models import User
from apps.activities import services
from apps.activities.models import Activity
from apps.contacts.services import contact_create
from tenants.models import Tenant
from tests.activities.conftest import client_for

pytestmark = pytest.mark.django_db
JSON = "application/json"
T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def test_create_read_update_delete(tenant_a: Tenant, owner: User, rep: User) -> None:
    contact = contact_create(actor=owner, first_name="Api", last_name="Person")
    client = client_for(tenant_a, owner)
    made = client.post(
        "/api/v1/activities/",
        {
            "type": "meeting",
            "subject": "Demo with Acme",
            "start_at": "2026-12-01T09:00:00Z",
            "end_at": "2026-12-01T10:00:00Z",
            "assignee": rep.pk,
            "contacts": [contact.pk],
            "tags": ["demo"],
        },
        content_type=JSON,
    )
    assert made.status_code == 201, made.json()
    data = made.json()
    assert data["assignee"] == data["owner"] == rep.pk
    assert data["contacts"] == [contact.pk] and data["companies"] == []
    assert data["deals"] == [] and data["leads"] == [] and data["tags"] == ["demo"]
    assert data["start_at"] == "2026-12-01T09:00:00Z" and data["scheduled_at"] == data["start_at"]
    assert data["done"] is False and data["custom_fields"] == {}
    for key in ("created_at", "updated_at", "body", "due_at", "end_at", "all_day", "outcome"):
        assert key in data
    pk = data["id"]
    assert client.get(f"/api/v1/activities/{pk}/").json()["subject"] == "Demo with Acme"
    changed = client.patch(
        f"/api/v1/activities/{pk}/", {"subject": "Demo 2", "owner": owner.pk}, content_type=JSON
    )
    assert changed.status_code == 200 and changed.json()["assignee"] == owner.pk
    listed = client.get("/api/v1/activities/").json()
    assert [a["id"] for a in listed["results"]] == [pk] and "next" in listed
    assert listed["results"][0]["contacts"] == [contact.pk]
    assert client.delete(f"/api/v1/activities/{pk}/").status_code == 204
    assert client.get(f"/api/v1/activities/{pk}/").status_code == 404


def test_validation_errors_use_the_envelope(tenant_a: Tenant, owner: User) -> None:
    client = client_for(tenant_a, owner)
    for body, field in (
        ({"subject": "No type"}, "type"),
        ({"type": "task"}, "subject"),
        ({"type": "meeting", "subject": "No start"}, "start_at"),
        (
            {
                "type": "meeting",
                "subject": "Backwards",
                "start_at": "2026-12-01T10:00:00Z",
                "end_at": "2026-12-01T09:00:00Z",
            },
            "end_at",
        ),
        ({"type": "party", "subject": "x"}, "type"),
        ({"type": "task", "subject": "x", "contacts": [987654]}, "contacts"),
        ({"type": "task", "subject": "x", "assignee": 1, "owner": 987654}, "owner"),
    ):
        answer = client.post("/api/v1/activities/", body, content_type=JSON)
        assert answer.status_code == 400, (body, answer.json())
        error = answer.json()
        assert error["error"]["code"] and field in str(error), (field, error)
    with schema_context(tenant_a.schema_name):
        assert not Activity.objects.exists()


def test_filters(tenant_a: Tenant, owner: User, rep: User) -> None:
    contact = contact_create(actor=owner, first_name="Filter", last_name="Me")
    a = services.activity_create(
        actor=owner, type="call", subject="Call Filter", due_at=T0, contacts=[contact], tags=["hot"]
    )
    b = services.activity_create(
        actor=owner, type="task", subject="Write proposal", due_at=T0 + timedelta(days=10)
    )
    c = services.activity_create(
        actor=owner, type="meeting", subject="Rep meeting", start_at=T0, owner=rep
    )
    services.activity_complete(actor=owner, activity=b)
    client = client_for(tenant_a, owner)

    def ids(query: str) -> set[int]:
        answer = client.get(f"/api/v1/activities/?{query}")
        assert answer.status_code == 200, answer.json()
        return {r["id"] for r in answer.json()["results"]}

    assert ids("type=call") == {a.pk}
    assert ids("done=true") == {b.pk}
    assert ids("done=false") == {a.pk, c.pk}
    assert ids("owner=me") == {a.pk, b.pk}
    assert ids("assignee=me") == {a.pk, b.pk}
    assert ids(f"assignee={rep.pk}") == {c.pk}
    assert ids("tag=hot") == {a.pk}
    assert ids(f"contact_id={contact.pk}") == {a.pk}
    assert ids("search=proposal") == {b.pk}
    assert ids("scheduled_at__gte=2026-12-05T00:00:00Z") == {b.pk}
    assert ids("scheduled_at__gte=2026-12-01T00:00:00Z&scheduled_at__lt=2026-12-02T00:00:00Z") == {
        a.pk,
        c.pk,
    }
    assert ids("ordering=-scheduled_at") == {a.pk, b.pk, c.pk}
    bad = client.get("/api/v1/activities/?colour=red")
    assert bad.status_code == 400 and "colour" in str(bad.json())


def test_complete_and_reschedule_endpoints(tenant_a: Tenant, owner: User) -> None:
    call = services.activity_create(actor=owner, type="call", subject="Ring", due_at=T0)
    client = client_for(tenant_a, owner)
    done = client.post(
        f"/api/v1/activities/{call.pk}/complete/", {"outcome": "connected"}, content_type=JSON
    )
    assert done.status_code == 200
    assert done.json()["done"] is True and done.json()["outcome"] == "connected"
    assert done.json()["done_at"]
    bad = client.post(
        f"/api/v1/activities/{call.pk}/complete/", {"outcome": "won"}, content_type=JSON
    )
    assert bad.status_code == 400 and "outcome" in str(bad.json())
    reopened = client.post(
        f"/api/v1/activities/{call.pk}/complete/", {"done": False}, content_type=JSON
    )
    assert reopened.json()["done"] is False and reopened.json()["outcome"] == ""
    moved = client.post(
        f"/api/v1/activities/{call.pk}/reschedule/",
        {"start_at": "2026-12-02T15:00:00Z"},
        content_type=JSON,
    )
    assert moved.status_code == 200 and moved.json()["due_at"] == "2026-12-02T15:00:00Z"
    missing = client.post(f"/api/v1/activities/{call.pk}/reschedule/", {}, content_type=JSON)
    assert missing.status_code == 400 and "start_at" in str(missing.json())


def test_rep_sees_own_and_shared_only_readonly_changes_nothing(
    tenant_a: Tenant, owner: User, rep: User, readonly: User
) -> None:
    hidden = services.activity_create(actor=owner, type="task", subject="Hidden", due_at=T0)
    viewable = services.activity_create(actor=owner, type="task", subject="Viewable", due_at=T0)
    services.activity_share(actor=owner, activity=viewable, user=rep, level="view")
    mine = services.activity_create(actor=rep, type="task", subject="Mine", due_at=T0)
    client = client_for(tenant_a, rep)
    subjects = {a["subject"] for a in client.get("/api/v1/activities/").json()["results"]}
    assert subjects == {"Mine", "Viewable"}
    assert client.get(f"/api/v1/activities/{hidden.pk}/").status_code == 404
    assert client.post(f"/api/v1/activities/{hidden.pk}/complete/").status_code == 404
    for path, body in (
        (f"/api/v1/activities/{viewable.pk}/complete/", {}),
        (f"/api/v1/activities/{viewable.pk}/reschedule/", {"start_at": "2026-12-03T10:00:00Z"}),
    ):
        answer = client.post(path, body, content_type=JSON)
        assert answer.status_code == 403 and answer.json()["error"]["code"] == "permission_denied"
    assert (
        client.patch(
            f"/api/v1/activities/{viewable.pk}/", {"subject": "x"}, content_type=JSON
        ).status_code
        == 403
    )
    assert client.delete(f"/api/v1/activities/{viewable.pk}/").status_code == 403
    assert (
        client.patch(
            f"/api/v1/activities/{mine.pk}/", {"subject": "Mine!"}, content_type=JSON
        ).json()["subject"]
        == "Mine!"
    )
    ro = client_for(tenant_a, readonly)
    assert len(ro.get("/api/v1/activities/").json()["results"]) == 3
    made = ro.post("/api/v1/activities/", {"type": "task", "subject": "no"}, content_type=JSON)
    assert made.status_code == 403
    assert ro.post(f"/api/v1/activities/{mine.pk}/complete/").status_code == 403
    with schema_context(tenant_a.schema_name):
        viewable.refresh_from_db()
        assert viewable.subject == "Viewable" and not viewable.done
        assert Activity.objects.count() == 3


def test_share_merge_and_bulk(tenant_a: Tenant, owner: User, rep: User) -> None:
    task = services.activity_create(actor=owner, type="task", subject="Share me", due_at=T0)
    other = services.activity_create(actor=owner, type="task", subject="Other", due_at=T0)
    client = client_for(tenant_a, owner)
    shared = client.post(
        f"/api/v1/activities/{task.pk}/share/", {"user": rep.pk, "level": "view"}, JSON
    )
    assert shared.status_code == 200
    assert client_for(tenant_a, rep).get(f"/api/v1/activities/{task.pk}/").status_code == 200
    merge = client.post(
        "/api/v1/activities/merge/", {"survivor": task.pk, "merged": [other.pk]}, JSON
    )
    assert merge.status_code == 403
    assert client.get("/api/v1/activities/duplicates/").json() == {"results": []}
    bulk = client.post(
        "/api/v1/activities/bulk/",
        {"items": [{"type": "task", "subject": "One"}, {"type": "call", "subject": "Two"}]},
        JSON,
    )
    assert bulk.status_code == 201 and len(bulk.json()["results"]) == 2


def test_calendar_feed_endpoint(tenant_a: Tenant, owner: User) -> None:
    client = client_for(tenant_a, owner)
    assert client.get("/api/v1/activities/calendar-feed/").json() == {
        "active": False,
        "prefix": None,
        "url": None,
    }
    made = client.post("/api/v1/activities/calendar-feed/")
    assert made.status_code == 201
    url = made.json()["url"]
    assert url.startswith("http://alpha.localhost/activities/feed/") and url.endswith(".ics")
    state = client.get("/api/v1/activities/calendar-feed/").json()
    assert state["active"] is True and state["prefix"] == made.json()["prefix"]
    assert client.get(url.removeprefix("http://alpha.localhost")).status_code == 200
    assert client.delete("/api/v1/activities/calendar-feed/").status_code == 204
    assert client.get(url.removeprefix("http://alpha.localhost")).status_code == 404


def test_schema_lists_the_activity_endpoints(tenant_a: Tenant, owner: User) -> None:
    schema = client_for(tenant_a, owner).get("/api/v1/schema/?format=json").json()
    paths = schema["paths"]
    for path in (
        "/api/v1/activities/",
        "/api/v1/activities/{id}/",
        "/api/v1/activities/{id}/complete/",
        "/api/v1/activities/{id}/reschedule/",
        "/api/v1/activities/calendar-feed/",
    ):
        assert path in paths
    assert "assignee" in schema["components"]["schemas"]["Activity"]["properties"]


def test_api_keys_write_activities_but_own_no_calendar_feed(tenant_a: Tenant, owner: User) -> None:
    from django.test import Client

    from apps.accounts.roles import Role
    from apps.apikeys.services import api_key_create

    secret = api_key_create(name="activities key", role=Role.ADMIN, created_by=owner).secret
    client = Client(HTTP_HOST="alpha.localhost", HTTP_AUTHORIZATION=f"Bearer {secret}")
    made = client.post(
        "/api/v1/activities/",
        {"type": "call", "subject": "Logged by the dialer", "done": True, "outcome": "connected"},
        content_type=JSON,
    )
    assert made.status_code == 201, made.json()
    assert made.json()["owner"] == owner.pk and made.json()["done"] is True
    feed = client.post("/api/v1/activities/calendar-feed/")
    assert feed.status_code == 403 and feed.json()["error"]["code"] == "permission_denied"
    assert client.get("/api/v1/activities/calendar-feed/").json()["active"] is False
    with schema_context(tenant_a.schema_name):
        read_only = api_key_create(name="reader", role=Role.READONLY).secret
    reader = Client(HTTP_HOST="alpha.localhost", HTTP_AUTHORIZATION=f"Bearer {read_only}")
    assert reader.get("/api/v1/activities/").json()["results"][0]["subject"] == (
        "Logged by the dialer"
    )
    refused = reader.post(
        "/api/v1/activities/", {"type": "task", "subject": "no"}, content_type=JSON
    )
    assert refused.status_code == 403
