"""Plain regression tests for what the API fuzz test (test_api_fuzz.py) found, one per
finding, in-process against the suite's organisation alpha."""

from __future__ import annotations

import json
from typing import Any

from django.test import Client


def envelope(response: Any) -> dict[str, Any]:
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    body = json.loads(response.content)
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "field", "details"}
    return dict(body["error"])


def test_a_malformed_id_is_a_404_with_a_message(owner_client_a: Client) -> None:
    """DRF turns a non-numeric pk into a bare Http404; the envelope's message was empty."""
    response = owner_client_a.delete("/api/v1/tags/true/")
    assert response.status_code == 404
    error = envelope(response)
    assert error["code"] == "not_found"
    assert error["message"]
