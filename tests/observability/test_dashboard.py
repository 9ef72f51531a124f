"""The Grafana dashboard is valid JSON whose every query reads metrics that /metrics exports."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from celery import shared_task
from django_tenants.utils import schema_context

from apps.core.observability.metrics import MetricsStore
from tenants.models import Tenant
from tests.conftest import tenant_client

from .conftest import scrape

DASHBOARD = Path(__file__).resolve().parents[2] / "deploy" / "grafana" / "kestrel-dashboard.json"
METRIC = re.compile(r"\b(kestrel_[a-z0-9_]+)")


@shared_task(name="tests.observability.dashboard_task")
def dashboard_task() -> None:
    pass


def queries(dashboard: dict[str, Any]) -> list[tuple[str, str]]:
    return [
        (panel["title"], target["expr"])
        for panel in dashboard["panels"]
        if panel["type"] != "row"
        for target in panel["targets"]
    ]


def test_the_dashboard_is_valid_and_has_the_panels_operators_need() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    titles = [panel["title"] for panel in dashboard["panels"]]
    for wanted in (
        "Request rate per organisation (top 10)",
        "p95 latency per organisation (top 10)",
        "Error rate (5xx share of all requests)",
        "Task throughput per organisation (top 10)",
        "Task failures per organisation (top 10)",
        "Queue depth per organisation (top 10)",
        "Organisations by status",
    ):
        assert wanted in titles
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    for panel in dashboard["panels"]:
        if panel["type"] != "row":
            assert panel["targets"], panel["title"]
            assert panel["datasource"]["uid"] == "${datasource}"
    # Per-organisation lines are bounded (top 10 or 5), never one line per organisation.
    for title, expr in queries(dashboard):
        if "by (tenant" in expr:
            assert expr.startswith("topk("), title


@pytest.mark.django_db
def test_every_query_reads_a_metric_that_is_exported(
    tenant_a: Tenant, metrics_token: str, metrics_store: MetricsStore
) -> None:
    tenant_client(tenant_a).get("/accounts/login/")
    with schema_context(tenant_a.schema_name):
        dashboard_task.delay()
    exported = {name for name, _ in scrape()}

    dashboard = json.loads(DASHBOARD.read_text())
    used = set()
    for title, expr in queries(dashboard):
        names = set(METRIC.findall(expr))
        assert names, f"{title}: no kestrel metric in {expr}"
        used |= names
    assert used - exported == set()
    # Every family of ours is on the dashboard somewhere.
    assert {
        "kestrel_http_requests_total",
        "kestrel_http_request_duration_seconds_bucket",
        "kestrel_tasks_total",
        "kestrel_task_duration_seconds_bucket",
        "kestrel_queue_depth",
        "kestrel_tenants",
    } <= used
