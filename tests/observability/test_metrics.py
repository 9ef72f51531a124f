"""/metrics: only for a scraper with the token, only on the platform host; per-organisation
request counts and latency shared through Redis; a failing Redis never fails a request."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from celery import shared_task
from django.test import Client, override_settings
from django_tenants.utils import schema_context

from apps.core.observability import metrics
from apps.core.observability.metrics import HTTP_REQUESTS, MetricsStore
from tenants.models import Tenant, TenantStatus
from tests.conftest import tenant_client

from .conftest import TOKEN, sample, scrape

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer wrong-token", f"Basic {TOKEN}", f"bearer{TOKEN}", f"Bearer {TOKEN}x"],
)
def test_metrics_are_404_without_the_right_token(
    metrics_token: str, authorization: str | None
) -> None:
    headers = {} if authorization is None else {"authorization": authorization}
    response = Client(HTTP_HOST="localhost").get("/metrics", headers=headers)
    assert response.status_code == 404
    assert b"kestrel_" not in response.content


def test_metrics_are_404_when_no_token_is_configured() -> None:
    with override_settings(KESTREL_METRICS_TOKEN=""):
        response = Client(HTTP_HOST="localhost").get("/metrics", HTTP_AUTHORIZATION="Bearer ")
    assert response.status_code == 404


def test_metrics_with_the_token_in_prometheus_text_format(
    metrics_token: str, metrics_store: MetricsStore
) -> None:
    client = Client(HTTP_HOST="localhost")
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {metrics_token}")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=")
    assert b"process_resident_memory_bytes" in response.content
    assert "sessionid" not in response.cookies and "csrftoken" not in response.cookies
    # A POST is refused like any other unknown request.
    post = client.post("/metrics", HTTP_AUTHORIZATION=f"Bearer {metrics_token}")
    assert post.status_code == 404


def test_an_organisation_host_has_no_metrics_even_with_the_token(
    tenant_a: Tenant, metrics_token: str, metrics_store: MetricsStore
) -> None:
    tenant_client(tenant_a).get("/accounts/login/")
    response = tenant_client(tenant_a).get("/metrics", HTTP_AUTHORIZATION=f"Bearer {metrics_token}")
    assert response.status_code == 404
    assert b"kestrel_" not in response.content


def test_requests_are_counted_per_organisation(
    tenant_a: Tenant, tenant_b: Tenant, metrics_token: str, metrics_store: MetricsStore
) -> None:
    a, b = tenant_client(tenant_a), tenant_client(tenant_b)
    for _ in range(3):
        assert a.get("/accounts/login/").status_code == 200
    assert a.get("/contacts/").status_code == 302  # to the login page
    for _ in range(2):
        assert b.get("/accounts/login/").status_code == 200
    assert b.post("/accounts/login/", {}).status_code == 200  # the form, with its errors
    Client(HTTP_HOST="nobody.localhost").get("/")

    samples = scrape()
    total = "kestrel_http_requests_total"
    assert (
        sample(samples, total, tenant=tenant_a.schema_name, method="GET", status_class="2xx") == 3
    )
    assert (
        sample(samples, total, tenant=tenant_a.schema_name, method="GET", status_class="3xx") == 1
    )
    assert (
        sample(samples, total, tenant=tenant_b.schema_name, method="GET", status_class="2xx") == 2
    )
    assert (
        sum(
            value
            for (name, labels), value in samples.items()
            if name == total and ("tenant", tenant_b.schema_name) in labels
        )
        == 3
    )
    assert sample(samples, total, tenant="unknown", method="GET", status_class="4xx") == 1
    # The scrape itself and probes are not counted.
    assert not any(("tenant", "public") in labels for (name, labels) in samples if name == total)

    count = "kestrel_http_request_duration_seconds_count"
    assert sample(samples, count, tenant=tenant_a.schema_name) == 4
    assert sample(samples, count, tenant=tenant_b.schema_name) == 3
    inf = "kestrel_http_request_duration_seconds_bucket"
    assert sample(samples, inf, tenant=tenant_a.schema_name, le="+Inf") == 4
    assert (
        sample(samples, "kestrel_http_request_duration_seconds_sum", tenant=tenant_a.schema_name)
        > 0
    )
    # Buckets are cumulative.
    buckets = sorted(
        (float(dict(labels)["le"]), value)
        for (name, labels), value in samples.items()
        if name == inf and ("tenant", tenant_a.schema_name) in labels
    )
    assert [value for _, value in buckets] == sorted(value for _, value in buckets)

    views = "kestrel_http_view_requests_total"
    assert sample(samples, views, view="accounts:login", status_class="2xx") == 6
    assert sample(samples, "kestrel_http_view_duration_seconds_count", view="accounts:login") == 6


def test_one_organisations_requests_never_show_under_another(
    tenant_a: Tenant, tenant_b: Tenant, metrics_token: str, metrics_store: MetricsStore
) -> None:
    tenant_client(tenant_a).get("/accounts/login/")
    samples = scrape()
    assert [
        labels
        for (name, labels) in samples
        if name.startswith("kestrel_http_request") and ("tenant", tenant_b.schema_name) in labels
    ] == []


def test_organisations_by_status(metrics_token: str, metrics_store: MetricsStore) -> None:
    before = scrape()
    Tenant.objects.create(
        schema_name="obs_suspended", slug="obs-suspended", name="S", status=TenantStatus.SUSPENDED
    )
    after = scrape()
    active = sample(before, "kestrel_tenants", status="active")
    assert active == Tenant.objects.filter(status="active").exclude(schema_name="public").count()
    assert sample(after, "kestrel_tenants", status="active") == active
    assert (
        sample(after, "kestrel_tenants", status="suspended")
        == sample(before, "kestrel_tenants", status="suspended") + 1
    )


def test_a_deleted_organisations_series_are_dropped(
    tenant_a: Tenant, metrics_token: str, metrics_store: MetricsStore
) -> None:
    metrics_store.record_request(
        tenant="gone_schema", method="GET", status=200, seconds=0.01, view="x"
    )
    tenant_client(tenant_a).get("/accounts/login/")
    samples = scrape()
    assert not any(("tenant", "gone_schema") in labels for (_, labels) in samples)
    assert sample(samples, "kestrel_http_view_requests_total", view="x", status_class="2xx") == 1
    reader = redis.Redis.from_url(metrics_store.url, decode_responses=True)
    fields = [str(field) for field in reader.hkeys(HTTP_REQUESTS)]
    assert [f for f in fields if f.startswith("gone_schema|")] == []
    assert [f for f in fields if f.startswith(f"{tenant_a.schema_name}|")] != []


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def metrics_redis_down(metrics_token: str) -> Iterator[MetricsStore]:
    url = f"redis://127.0.0.1:{closed_port()}/0"
    with override_settings(KESTREL_METRICS_REDIS_URL=url):
        yield metrics.store()
    metrics._stores.pop(url).close()


def test_requests_succeed_while_the_metrics_redis_is_down(
    tenant_a: Tenant, metrics_redis_down: MetricsStore
) -> None:
    client = tenant_client(tenant_a)
    assert client.get("/accounts/login/").status_code == 200
    assert client.get("/accounts/login/").status_code == 200
    # The counts wait in the process; sending them fails without a word to the user.
    held = metrics_redis_down._pending
    assert held[(HTTP_REQUESTS, f"{tenant_a.schema_name}|GET|2xx")] == 2
    assert metrics_redis_down.flush() is False
    assert held == metrics_redis_down._pending
    waiting = metrics_redis_down.pending()

    samples = scrape()
    assert sample(samples, "kestrel_metrics_store_up") == 0
    assert sample(samples, "kestrel_metrics_flush_failures_total") >= 2
    assert sample(samples, "kestrel_metrics_pending") == waiting
    assert sample(samples, "kestrel_tenants", status="active") >= 1


def test_counts_kept_while_redis_was_down_arrive_once_it_is_back(
    tenant_a: Tenant, metrics_token: str, metrics_store: MetricsStore
) -> None:
    """The same store, its Redis gone and back: nothing counted meanwhile is lost."""
    down = MetricsStore(f"redis://127.0.0.1:{closed_port()}/0")
    a = tenant_a.schema_name
    down.record_request(tenant=a, method="GET", status=200, seconds=0.2, view="v")
    down.record_request(tenant=a, method="GET", status=500, seconds=0.3, view="v")
    assert down.flush() is False
    down.close()
    down.url, down._writer = metrics_store.url, None  # Redis is back
    assert down.flush() is True
    samples = scrape()
    total = "kestrel_http_requests_total"
    assert sample(samples, total, tenant=a, method="GET", status_class="2xx") == 1
    assert sample(samples, total, tenant=a, method="GET", status_class="5xx") == 1
    seconds = sample(samples, "kestrel_http_request_duration_seconds_sum", tenant=a)
    assert seconds == pytest.approx(0.5)


@shared_task(name="tests.observability.fails")
def fails() -> None:
    raise RuntimeError("failing on purpose")


@shared_task(name="tests.observability.works")
def works() -> str:
    from tenants.db import connection

    return str(connection.schema_name)


def test_task_runs_are_counted_per_organisation_and_outcome(
    tenant_a: Tenant, tenant_b: Tenant, metrics_token: str, metrics_store: MetricsStore
) -> None:
    """Eager runs go through Celery's tracer, which sends the same signals as a worker."""
    with schema_context(tenant_a.schema_name):
        assert works.delay().get() == tenant_a.schema_name
        assert works.delay().get() == tenant_a.schema_name
        with pytest.raises(RuntimeError):
            fails.delay()
    with schema_context(tenant_b.schema_name):
        works.delay()
    samples = scrape()
    tasks = "kestrel_tasks_total"
    a, b = tenant_a.schema_name, tenant_b.schema_name
    assert (
        sample(samples, tasks, tenant=a, task="tests.observability.works", state="succeeded") == 2
    )
    assert sample(samples, tasks, tenant=a, task="tests.observability.fails", state="failed") == 1
    assert (
        sample(samples, tasks, tenant=b, task="tests.observability.works", state="succeeded") == 1
    )
    assert sample(samples, tasks, tenant=b, task="tests.observability.fails", state="failed") == 0
    count = "kestrel_task_duration_seconds_count"
    assert sample(samples, count, tenant=a, task="tests.observability.works") == 2


def test_a_task_logs_with_its_id_and_organisation(
    tenant_a: Tenant, json_logs: Any, metrics_store: MetricsStore
) -> None:
    import logging

    @shared_task(name="tests.observability.logs")
    def logs() -> None:
        logging.getLogger("kestrel.test").info("inside the task")

    with schema_context(tenant_a.schema_name):
        result = logs.delay()
    [line] = [line for line in json_logs.lines() if line["message"] == "inside the task"]
    assert line["request_id"] == result.id
    assert line["tenant"] == tenant_a.schema_name
    assert line["task"] == "tests.observability.logs"
    # After the run, nothing is bound any more.
    logging.getLogger("kestrel.test").info("after the task")
    assert json_logs.lines()[-1]["request_id"] is None


@pytest.fixture
def broker_on_redis() -> Iterator[Any]:
    """The test process's Celery app sending through its real Redis broker instead of
    running tasks eagerly."""
    from config.celery_app import app
    from tests.workers.conftest import _reset_app_connections

    saved = app.conf.task_always_eager
    app.conf.task_always_eager = False
    _reset_app_connections(app)
    try:
        yield app
    finally:
        _reset_app_connections(app)
        app.conf.task_always_eager = saved


def test_queue_depth_counts_the_messages_waiting_for_an_organisation(
    tenant_a: Tenant,
    tenant_b: Tenant,
    metrics_token: str,
    metrics_store: MetricsStore,
    broker_on_redis: Any,
) -> None:
    from apps.activities.tasks import deliver_due_reminders
    from apps.reports.tasks import deliver_subscriptions
    from tenants.queues import queue_name

    client = redis.Redis.from_url(broker_on_redis.conf.broker_url)
    queues = [
        queue_name(t.schema_name, kind)
        for t in (tenant_a, tenant_b)
        for kind in ("reminders", "reports")
    ]
    client.delete(*queues)
    try:
        with schema_context(tenant_a.schema_name):
            for _ in range(3):
                deliver_due_reminders.delay()
            deliver_subscriptions.delay()
        samples = scrape()
        depth = "kestrel_queue_depth"
        a, b = tenant_a.schema_name, tenant_b.schema_name
        assert sample(samples, depth, tenant=a, kind="reminders", queue=f"t.{a}.reminders") == 3
        assert sample(samples, depth, tenant=a, kind="reports", queue=f"t.{a}.reports") == 1
        assert (
            depth,
            frozenset({"tenant": b, "kind": "reminders", "queue": f"t.{b}.reminders"}.items()),
        ) in samples
        assert sample(samples, depth, tenant=b, kind="reminders", queue=f"t.{b}.reminders") == 0
        assert (
            depth,
            frozenset({"tenant": "public", "kind": "default", "queue": "default"}.items()),
        ) in samples
    finally:
        client.delete(*queues)
