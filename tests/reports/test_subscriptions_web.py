"""The report emails page and `/api/v1/report-subscriptions/`: list (empty state, filters in
words, schedule, next run, last status and error), subscribe, change, send now and delete,
with CSRF and audit entries; only one's own (Admins read all, change none but theirs)."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.utils import timezone
from django_tenants.utils import schema_context

from apps.apikeys.services import api_key_create
from apps.audit.models import AuditEntry
from apps.deals.services import pipeline_default
from apps.reports import subscriptions as subs
from apps.reports.models import RunStatus, Subscription
from tenants.models import ScheduledJob
from tests.deals.conftest import ctx, people  # noqa: F401

LIST = "/reports/subscriptions/"
API = "/api/v1/report-subscriptions/"


def _tenant() -> Any:
    from tenants.models import Tenant

    return Tenant.objects.get(slug="alpha")


class StayingClient(Client):
    """A client whose requests leave the test in organisation A's schema afterwards (the
    middleware moves the connection to the public schema when a response is done)."""

    def request(self, **request: Any) -> Any:
        with schema_context(_tenant().schema_name):
            return super().request(**request)


def client_of(user: Any, **extra: Any) -> Client:
    tenant = _tenant()
    client = StayingClient(HTTP_HOST=f"{tenant.slug}.localhost", **extra)
    with schema_context(tenant.schema_name):
        client.force_login(user)
    return client


def key_client(user: Any, **key: Any) -> Client:
    tenant = _tenant()
    with schema_context(tenant.schema_name):
        secret = api_key_create(name="reports", created_by=user, **key).secret
    return StayingClient(
        HTTP_HOST=f"{tenant.slug}.localhost", HTTP_AUTHORIZATION=f"Bearer {secret}"
    )


@pytest.fixture
def setup(people: Any) -> Any:  # noqa: F811
    pipeline_default()
    return people


# --- web -------------------------------------------------------------------------------------


def test_empty_state_invites_to_subscribe(setup: Any) -> None:
    page = client_of(setup.rep).get(LIST)
    assert page.status_code == 200
    html = page.content.decode()
    assert "No report emails yet" in html
    assert f'href="{LIST}new/"' in html


def test_subscribe_from_the_form_then_see_it_listed(setup: Any) -> None:
    client = client_of(setup.rep)
    form = client.get(f"{LIST}new/?report=pipeline&period=last_week")
    assert form.status_code == 200
    html = form.content.decode()
    assert '<option value="pipeline-by-stage" selected>' in html
    assert '<option value="last_week" selected>' in html
    answer = client.post(
        f"{LIST}new/",
        {
            "report": "pipeline-by-stage",
            "period": "last_week",
            "cadence": "weekly",
            "weekday": "0",
            "day": "1",
            "hour": "8",
        },
    )
    assert answer.status_code == 302 and answer["Location"] == LIST
    sub = Subscription.objects.get(user=setup.rep)
    assert sub.params == {"period": "last_week"} and sub.hour == 8
    page = client.get(LIST).content.decode()
    assert "Pipeline by stage" in page
    assert "Period: Last week" in page
    assert "Every Monday at 08:00 (UTC)" in page
    assert "Not sent yet" in page
    assert f'action="{LIST}{sub.pk}/send/"' in page
    assert AuditEntry.objects.filter(
        action="report_subscription.created", actor=setup.rep, target_id=str(sub.pk)
    ).exists()


def test_form_shows_what_is_wrong(setup: Any) -> None:
    client = client_of(setup.rep)
    answer = client.post(
        f"{LIST}new/",
        {
            "report": "pipeline-by-stage",
            "period": "this_month",
            "cadence": "weekly",
            "hour": "8",
            "pipeline": "987654",
        },
    )
    assert answer.status_code == 200
    assert "There is no pipeline with id 987654" in answer.content.decode()
    assert not Subscription.objects.exists()


def test_posts_need_the_csrf_token(setup: Any) -> None:
    sub = subs.subscribe(actor=setup.rep, report="pipeline-by-stage", cadence="weekly")
    client = client_of(setup.rep, enforce_csrf_checks=True)
    assert client.post(f"{LIST}{sub.pk}/delete/").status_code == 403
    assert client.post(f"{LIST}new/", {"report": "pipeline-by-stage"}).status_code == 403
    assert Subscription.objects.filter(pk=sub.pk).exists()


def test_last_failure_is_shown_to_the_subscriber(setup: Any) -> None:
    sub = subs.subscribe(actor=setup.rep, report="pipeline-by-stage", cadence="daily")
    Subscription.objects.filter(pk=sub.pk).update(
        last_status=RunStatus.RETRYING, last_error="SMTPServerDisconnected: gone away"
    )
    page = client_of(setup.rep).get(LIST).content.decode()
    assert "Failed, will retry" in page and "SMTPServerDisconnected: gone away" in page


def test_edit_send_now_and_delete(setup: Any) -> None:
    sub = subs.subscribe(actor=setup.rep, report="pipeline-by-stage", cadence="weekly")
    client = client_of(setup.rep)
    assert client.get(f"{LIST}{sub.pk}/edit/").status_code == 200
    answer = client.post(
        f"{LIST}{sub.pk}/edit/",
        {
            "report": "dashboard",
            "period": "this_week",
            "cadence": "daily",
            "hour": "6",
            "active": "on",
        },
    )
    assert answer.status_code == 302
    sub.refresh_from_db()
    assert (sub.report, sub.cadence, sub.hour, sub.params) == (
        "dashboard",
        "daily",
        6,
        {"period": "this_week"},
    )
    assert client.post(f"{LIST}{sub.pk}/send/").status_code == 302
    job = ScheduledJob.objects.get(kind=subs.KIND, object_id=sub.pk)
    assert job.due_at <= timezone.now()
    assert client.post(f"{LIST}{sub.pk}/delete/").status_code == 302
    assert not Subscription.objects.filter(pk=sub.pk).exists()
    assert not ScheduledJob.objects.filter(kind=subs.KIND, object_id=sub.pk).exists()
    actions = set(AuditEntry.objects.values_list("action", flat=True))
    assert {
        "report_subscription.updated",
        "report_subscription.sent_now",
        "report_subscription.deleted",
    } <= actions


def test_others_subscriptions_are_hidden_or_read_only(setup: Any) -> None:
    sub = subs.subscribe(actor=setup.rep, report="pipeline-by-stage", cadence="weekly")
    other = client_of(setup.rep2)
    assert "Pipeline by stage" not in other.get(LIST).content.decode()
    for url in (f"{LIST}{sub.pk}/edit/",):
        assert other.get(url).status_code == 404
    for url in (f"{LIST}{sub.pk}/delete/", f"{LIST}{sub.pk}/send/", f"{LIST}{sub.pk}/edit/"):
        assert other.post(url).status_code == 404
    admin = client_of(setup.admin)
    page = admin.get(LIST).content.decode()
    assert "Pipeline by stage" in page and setup.rep.get_full_name() in page
    assert f"{LIST}{sub.pk}/delete/" not in page  # an Admin looks, but does not change it
    assert admin.post(f"{LIST}{sub.pk}/delete/").status_code == 403
    assert Subscription.objects.filter(pk=sub.pk).exists()


# --- API -------------------------------------------------------------------------------------


def test_api_create_list_change_send_delete(setup: Any) -> None:
    client = client_of(setup.rep)
    created = client.post(
        API,
        {
            "report": "pipeline-by-stage",
            "params": {"period": "last_week"},
            "cadence": "weekly",
            "weekday": 0,
            "hour": 8,
        },
        content_type="application/json",
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["report_title"] == "Pipeline by stage"
    assert body["filters"] == ["Period: Last week"]
    assert body["schedule"] == "Every Monday at 08:00 (UTC)"
    assert body["last_status"] == "" and body["next_run_at"]
    assert body["subscriber"]["email"] == setup.rep.email
    pk = body["id"]

    listed = client.get(API).json()
    assert [s["id"] for s in listed["results"]] == [pk]

    changed = client.patch(f"{API}{pk}/", {"hour": 17}, content_type="application/json")
    assert changed.status_code == 200 and changed.json()["hour"] == 17
    assert changed.json()["schedule"] == "Every Monday at 17:00 (UTC)"

    sent = client.post(f"{API}{pk}/send/")
    assert sent.status_code == 202

    assert client.delete(f"{API}{pk}/").status_code == 204
    assert client.get(f"{API}{pk}/").status_code == 404


def test_api_refusals_use_the_error_envelope(setup: Any) -> None:
    client = client_of(setup.rep)
    bad = client.post(API, {"report": "nope", "cadence": "weekly"}, content_type="application/json")
    assert bad.status_code == 400
    error = bad.json()["error"]
    assert error["code"] == "validation_error" and "There is no report 'nope'" in str(error)
    bad = client.post(
        API,
        {"report": "pipeline-by-stage", "hour": 25, "cadence": "daily"},
        content_type="application/json",
    )
    assert bad.status_code == 400 and "0 to 23" in str(bad.json())
    sub = subs.subscribe(actor=setup.rep, report="pipeline-by-stage", cadence="weekly")
    bad = client.patch(f"{API}{sub.pk}/", {"user": 1}, content_type="application/json")
    assert bad.status_code == 400 and "cannot be changed" in str(bad.json())


def test_api_only_ones_own_admins_read_all(setup: Any) -> None:
    sub = subs.subscribe(actor=setup.rep, report="pipeline-by-stage", cadence="weekly")
    other = client_of(setup.rep2)
    assert other.get(API).json()["results"] == []
    assert other.get(f"{API}{sub.pk}/").status_code == 404
    assert (
        other.patch(f"{API}{sub.pk}/", {"hour": 3}, content_type="application/json").status_code
        == 404
    )
    assert other.post(f"{API}{sub.pk}/send/").status_code == 404
    admin = client_of(setup.admin)
    assert [s["id"] for s in admin.get(API).json()["results"]] == [sub.pk]
    refused = admin.delete(f"{API}{sub.pk}/")
    assert refused.status_code == 403
    assert Subscription.objects.filter(pk=sub.pk).exists()


def test_api_key_acts_for_the_person_who_made_it(setup: Any) -> None:
    client = key_client(setup.owner, scopes=["report-subscriptions:write"])
    created = client.post(
        API, {"report": "dashboard", "cadence": "daily"}, content_type="application/json"
    )
    assert created.status_code == 201, created.content
    assert Subscription.objects.get(pk=created.json()["id"]).user == setup.owner
    readonly = key_client(setup.owner, scopes=["report-subscriptions:read"])
    assert readonly.get(API).status_code == 200
    assert (
        readonly.post(API, {"report": "dashboard"}, content_type="application/json").status_code
        == 403
    )


def test_email_me_this_from_a_report_with_a_custom_range(setup: Any) -> None:
    client = client_of(setup.rep)
    form = client.get(f"{LIST}new/?report=won-lost&from=2026-01-01&to=2026-03-31&owner=me")
    html = form.content.decode()
    assert '<option value="custom" selected>' in html
    assert 'name="start" value="2026-01-01"' in html and 'name="end" value="2026-03-31"' in html
    answer = client.post(
        f"{LIST}new/",
        {
            "report": "won-lost",
            "period": "custom",
            "start": "2026-01-01",
            "end": "2026-03-31",
            "owner": "me",
            "cadence": "monthly",
            "day": "1",
            "hour": "7",
        },
    )
    assert answer.status_code == 302
    sub = Subscription.objects.get(user=setup.rep)
    assert sub.params == {
        "period": "custom",
        "start": "2026-01-01",
        "end": "2026-03-31",
        "owner": "me",
    }
    page = client.get(LIST).content.decode()
    assert "Period: 2026-01-01 to 2026-03-31" in page and "Monthly on day 1 at 07:00" in page
