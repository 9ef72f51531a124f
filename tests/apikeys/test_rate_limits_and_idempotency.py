from __future__ import annotations

import time

import pytest
from django.core.cache import cache
from django.test import Client
from django_tenants.utils import schema_context

from apps.apikeys.models import ApiKey
from apps.apikeys.services import api_key_create
from apps.core.models import IdempotencyRecord
from tenants.models import Tenant
from tests.conftest import fresh_window

pytestmark = pytest.mark.django_db


def _key(tenant: Tenant, name: str = "k") -> str:
    with schema_context(tenant.schema_name):
        return api_key_create(name=name).secret


def _client(tenant: Tenant, secret: str) -> Client:
    return Client(HTTP_HOST=f"{tenant.slug}.localhost", HTTP_AUTHORIZATION=f"Bearer {secret}")


@pytest.fixture
def tight_limits(settings: object, tenant_a: Tenant, tenant_b: Tenant) -> None:
    settings.API_RATE_LIMITS = {  # type: ignore[attr-defined]
        "free": {"key": (3, 10), "organisation": (5, 10)},
    }
    # Counting windows are fixed 10 s slots: start in a fresh one so the requests below do
    # not straddle a boundary (which would reset the count half-way).
    fresh_window(10, needed=4)
    # Other tests' requests in the same 10 s window count against the organisations too.
    slot = int(time.time() // 10)
    for tenant in (tenant_a, tenant_b):
        with schema_context(tenant.schema_name):
            cache.delete_many([f"api-rate:organisation:{s}" for s in (slot, slot + 1)])


def test_key_limit_answers_429_with_headers(tenant_a: Tenant, tight_limits: None) -> None:
    client = _client(tenant_a, _key(tenant_a))
    first = client.get("/api/v1/me/")
    assert first["X-RateLimit-Limit"] == "3"
    assert first["X-RateLimit-Remaining"] == "2"
    assert int(first["X-RateLimit-Reset"]) > 0
    client.get("/api/v1/me/")
    client.get("/api/v1/me/")
    limited = client.get("/api/v1/me/")
    assert limited.status_code == 429
    assert limited.json()["error"]["code"] == "rate_limited"
    assert 1 <= int(limited["Retry-After"]) <= 10
    assert limited["X-RateLimit-Remaining"] == "0"


def test_one_organisations_burst_never_throttles_another(
    tenant_a: Tenant, tenant_b: Tenant, tight_limits: None
) -> None:
    alpha_keys = [_client(tenant_a, _key(tenant_a, f"k{i}")) for i in range(3)]
    statuses = [c.get("/api/v1/me/").status_code for c in alpha_keys for _ in range(2)]
    assert 429 in statuses  # alpha's organisation-wide budget (5) ran out across its keys
    beta = _client(tenant_b, _key(tenant_b))
    assert beta.get("/api/v1/me/").status_code == 200


def test_unreachable_redis_serves_requests_anyway(tenant_a: Tenant, settings: object) -> None:
    secret = _key(tenant_a)
    settings.CACHES = {  # type: ignore[attr-defined]
        **settings.CACHES,  # type: ignore[attr-defined]
        "default": {**settings.CACHES["default"], "LOCATION": "redis://127.0.0.1:1/0"},  # type: ignore[attr-defined]
    }
    response = _client(tenant_a, secret).get("/api/v1/me/")
    assert response.status_code == 200
    assert "X-RateLimit-Limit" not in response


def test_idempotent_post_creates_once_and_replays(tenant_a: Tenant) -> None:
    client = _client(tenant_a, _key(tenant_a))
    payload = {"name": "Created once", "role": "rep"}
    first = client.post(
        "/api/v1/api-keys/",
        payload,
        content_type="application/json",
        HTTP_IDEMPOTENCY_KEY="abc-123",
    )
    again = client.post(
        "/api/v1/api-keys/",
        payload,
        content_type="application/json",
        HTTP_IDEMPOTENCY_KEY="abc-123",
    )
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    with schema_context(tenant_a.schema_name):
        assert ApiKey.objects.filter(name="Created once").count() == 1


def test_same_idempotency_key_with_another_body_is_refused(tenant_a: Tenant) -> None:
    client = _client(tenant_a, _key(tenant_a))
    client.post(
        "/api/v1/api-keys/",
        {"name": "One"},
        content_type="application/json",
        HTTP_IDEMPOTENCY_KEY="reused",
    )
    other = client.post(
        "/api/v1/api-keys/",
        {"name": "Two"},
        content_type="application/json",
        HTTP_IDEMPOTENCY_KEY="reused",
    )
    assert other.status_code == 422
    assert other.json()["error"]["code"] == "idempotency_key_reused"
    with schema_context(tenant_a.schema_name):
        assert not ApiKey.objects.filter(name="Two").exists()


def test_repeat_while_first_is_running_is_409(tenant_a: Tenant) -> None:
    secret = _key(tenant_a)
    client = _client(tenant_a, secret)
    body = b'{"name": "Slow"}'
    import hashlib

    with schema_context(tenant_a.schema_name):
        IdempotencyRecord.objects.create(
            key="running",
            caller_hash=hashlib.sha256(f"Bearer {secret}".encode()).hexdigest(),
            request_hash=hashlib.sha256(b"POST/api/v1/api-keys/\n" + body).hexdigest(),
        )
    response = client.post(
        "/api/v1/api-keys/", body, content_type="application/json", HTTP_IDEMPOTENCY_KEY="running"
    )
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "idempotency_in_progress"


def test_idempotency_keys_are_per_caller(tenant_a: Tenant) -> None:
    one, two = _client(tenant_a, _key(tenant_a)), _client(tenant_a, _key(tenant_a))
    for client in (one, two):
        response = client.post(
            "/api/v1/api-keys/",
            {"name": "Per caller"},
            content_type="application/json",
            HTTP_IDEMPOTENCY_KEY="same",
        )
        assert response.status_code == 201
        assert "Idempotent-Replayed" not in response
    with schema_context(tenant_a.schema_name):
        assert ApiKey.objects.filter(name="Per caller").count() == 2


def test_client_errors_are_final_and_replayed(tenant_a: Tenant) -> None:
    client = _client(tenant_a, _key(tenant_a))
    bad = client.post(
        "/api/v1/api-keys/",
        {"name": "x", "scopes": ["bad"]},
        content_type="application/json",
        HTTP_IDEMPOTENCY_KEY="k1",
    )
    assert bad.status_code == 400
    replay = client.post(
        "/api/v1/api-keys/",
        {"name": "x", "scopes": ["bad"]},
        content_type="application/json",
        HTTP_IDEMPOTENCY_KEY="k1",
    )
    assert replay["Idempotent-Replayed"] == "true"  # a 4xx answer is final, and replayed
    too_long = client.post(
        "/api/v1/api-keys/",
        {"name": "y"},
        content_type="application/json",
        HTTP_IDEMPOTENCY_KEY="x" * 300,
    )
    assert too_long.status_code == 400
