"""Activities and calendar feeds stay in their organisation: tenant B reaches none of tenant
A's activities through the ORM, the web pages, the calendar, the API or the iCalendar feed,
and A's feed token means nothing on B's host."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django_tenants.utils import schema_context

from apps.accounts.models import User
from apps.activities import services
from apps.activities.models import Activity, CalendarFeed
from apps.records import timeline
from tenants.models import Tenant
from tests.conftest import tenant_client

pytestmark = pytest.mark.django_db
JSON = "application/json"
T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def _owner(tenant: Tenant) -> User:
    return User.objects.get(email=f"owner@{tenant.slug}.test")


def test_activities_and_feeds_stay_in_their_schema(
    tenant_a: Tenant, tenant_b: Tenant, owner_client_a: Client, owner_client_b: Client
) -> None:
    with schema_context(tenant_a.schema_name):
        owner = _owner(tenant_a)
        meeting = services.activity_create(
            actor=owner,
            type="meeting",
            subject="Alpha secret meeting",
            start_at=T0,
            end_at=T0 + timedelta(hours=1),
        )
        _, token = services.calendar_feed_create(actor=owner)
    with schema_context(tenant_b.schema_name):
        assert not Activity.objects.filter(subject="Alpha secret meeting").exists()
        assert not CalendarFeed.objects.exists()
    # A's feed works on A's host and is unknown on B's.
    assert tenant_client(tenant_a).get(f"/activities/feed/{token}.ics").status_code == 200
    answer = tenant_client(tenant_b).get(f"/activities/feed/{token}.ics")
    assert answer.status_code == 404 and b"Alpha secret" not in answer.content
    b = owner_client_b
    for path in (
        f"/activities/{meeting.pk}/",
        f"/activities/{meeting.pk}/edit/",
        f"/api/v1/activities/{meeting.pk}/",
        f"/api/v1/activities/{meeting.pk}/timeline/",
    ):
        got = b.get(path)
        assert got.status_code == 404 and b"Alpha secret" not in got.content, path
    for path, body in (
        (f"/api/v1/activities/{meeting.pk}/complete/", {}),
        (f"/api/v1/activities/{meeting.pk}/reschedule/", {"start_at": "2026-12-02T09:00:00Z"}),
    ):
        assert b.post(path, body, content_type=JSON).status_code == 404, path
    assert b.post(f"/activities/{meeting.pk}/complete/").status_code == 404
    moved = b.post(
        f"/activities/{meeting.pk}/reschedule/",
        {"start": "2026-12-02T09:00:00Z"},
        content_type=JSON,
    )
    assert moved.status_code == 404
    assert (
        b.patch(
            f"/api/v1/activities/{meeting.pk}/", {"subject": "pwned"}, content_type=JSON
        ).status_code
        == 404
    )
    assert b.delete(f"/api/v1/activities/{meeting.pk}/").status_code == 404
    for listing in (
        "/api/v1/activities/",
        "/api/v1/activities/?search=alpha",
        "/activities/calendar/events/?start=2026-11-30&end=2026-12-07&scope=all",
        "/activities/today/",
        "/activities/",
    ):
        assert b"Alpha secret" not in b.get(listing).content, listing
    # B's revoke does not touch A's feed.
    b.post("/activities/calendar/feed/revoke/")
    assert tenant_client(tenant_a).get(f"/activities/feed/{token}.ics").status_code == 200
    with schema_context(tenant_a.schema_name):
        meeting.refresh_from_db()
        assert meeting.subject == "Alpha secret meeting" and meeting.start_at == T0
    assert owner_client_a.get(f"/api/v1/activities/{meeting.pk}/").status_code == 200


def test_linking_another_tenants_records_is_refused(tenant_a: Tenant, tenant_b: Tenant) -> None:
    from apps.contacts.services import contact_create

    with schema_context(tenant_a.schema_name):
        alpha_contact = contact_create(actor=_owner(tenant_a), first_name="Alpha", last_name="Only")
    with schema_context(tenant_b.schema_name):
        owner_b = _owner(tenant_b)
        with pytest.raises(ValidationError) as caught:
            services.activity_create(
                actor=owner_b, type="task", subject="Reach over", contacts=[alpha_contact.pk]
            )
        assert "contacts" in caught.value.message_dict
        assert not Activity.objects.exists()
    with schema_context(tenant_a.schema_name):
        items, _ = timeline.timeline(alpha_contact, "contact", kind="activity")
        assert items == []
