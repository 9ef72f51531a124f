"""Fixtures for the observability tests: a capture of the JSON log lines, a clean metrics
store, and scraping /metrics as Prometheus would."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client, override_settings
from prometheus_client.parser import text_string_to_metric_families

from apps.core.observability.logging import ContextFilter, JsonFormatter
from apps.core.observability.metrics import store

TOKEN = "scrape-token-0123456789"


class LogCapture:
    def __init__(self) -> None:
        self.stream = io.StringIO()

    def lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.stream.getvalue().splitlines() if line]

    def access(self) -> list[dict[str, Any]]:
        return [line for line in self.lines() if line["logger"] == "kestrel.access"]


@pytest.fixture
def json_logs() -> Iterator[LogCapture]:
    """The root logger's records as the production JSON handler writes them."""
    capture = LogCapture()
    handler = logging.StreamHandler(capture.stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(ContextFilter())
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield capture
    finally:
        root.removeHandler(handler)


@pytest.fixture
def metrics_store() -> Iterator[Any]:
    """The shared metrics, emptied before and after the test."""
    shared = store()
    shared.flush()  # counts of earlier tests' requests
    shared.clear()
    yield shared
    shared.flush()
    shared.clear()


@pytest.fixture
def metrics_token() -> Iterator[str]:
    with override_settings(KESTREL_METRICS_TOKEN=TOKEN):
        yield TOKEN


Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(client: Client | None = None, token: str = TOKEN) -> Samples:
    """GET /metrics on the platform host with the token; every sample by (name, labels)."""
    client = client or Client(HTTP_HOST="localhost")
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 200, response.status_code
    samples: Samples = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def sample(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)
