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


def api_schema(client: Client) -> dict[str, Any]:
    response = client.get("/api/v1/schema/?format=json")
    assert response.status_code == 200
    return dict(json.loads(response.content))


def undeclared_nulls(schema: dict[str, Any], component: str, data: dict[str, Any]) -> list[str]:
    properties = schema["components"]["schemas"][component]["properties"]
    return [
        name
        for name, value in data.items()
        if value is None and name in properties and not properties[name].get("nullable")
    ]


def test_an_open_deal_matches_its_schema(owner_client_a: Client) -> None:
    """An open deal's won_at / lost_at are null; the schema said a date-time string."""
    made = owner_client_a.post(
        "/api/v1/pipelines/",
        {"name": "Regression", "stages": [{"name": "New", "order": 1, "kind": "open"}]},
        content_type="application/json",
    )
    assert made.status_code == 201, made.content
    pipeline = json.loads(made.content)
    stages = json.loads(owner_client_a.get(f"/api/v1/stages/?pipeline={pipeline['id']}").content)
    created = owner_client_a.post(
        "/api/v1/deals/",
        {"title": "Open", "pipeline": pipeline["id"], "stage": stages["results"][0]["id"]},
        content_type="application/json",
    )
    assert created.status_code == 201, created.content
    deal = json.loads(created.content)
    assert deal["won_at"] is None and deal["lost_at"] is None
    assert undeclared_nulls(api_schema(owner_client_a), "Deal", deal) == []


def test_a_path_no_route_answers_is_a_404_envelope_under_the_api(owner_client_a: Client) -> None:
    """A report name or id the URL pattern refuses fell through to Django's HTML 404 page."""
    for path in ("/api/v1/reports/spare key/", "/api/v1/data-exports/%C3%AD/download/"):
        response = owner_client_a.get(path)
        assert response.status_code == 404
        assert envelope(response)["code"] == "not_found"
    # Outside the API the web app's page stays.
    page = owner_client_a.get("/no-such-page/")
    assert page.status_code == 404 and page["Content-Type"].startswith("text/html")


def test_the_schema_documents_the_error_envelope_for_every_operation(
    owner_client_a: Client,
) -> None:
    """The schema documented almost no error responses: every 400/404 a client gets was
    undocumented, and nothing described the envelope."""
    schema = api_schema(owner_client_a)
    assert schema["components"]["schemas"]["Error"]["required"] == ["error"]
    missing = []
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            expected = {"400", "401", "403", "404", "429"} | ({"409"} if method != "get" else set())
            lacking = expected - set(operation["responses"])
            if lacking:
                missing.append(f"{method.upper()} {path}: {sorted(lacking)}")
    assert missing == []
    # What the API answers is what the schema says.
    response = owner_client_a.get("/api/v1/contacts/999999/")
    assert response.status_code == 404
    documented = schema["paths"]["/api/v1/contacts/{id}/"]["get"]["responses"]["404"]
    assert documented["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Error"
    }
    assert envelope(response)["code"] == "not_found"


def test_adding_a_note_answers_the_201_the_schema_documents(owner_client_a: Client) -> None:
    """POST .../notes/ answers 201 Created; the schema documented 200."""
    made = owner_client_a.post(
        "/api/v1/companies/?allow_duplicate=true",
        {"name": "Noted Ltd"},
        content_type="application/json",
    )
    assert made.status_code == 201, made.content
    company = json.loads(made.content)["id"]
    response = owner_client_a.post(
        f"/api/v1/companies/{company}/notes/", {"body": "Hello"}, content_type="application/json"
    )
    assert response.status_code == 201
    schema = api_schema(owner_client_a)
    for entity in ("contacts", "companies", "deals", "leads", "activities"):
        responses = schema["paths"][f"/api/v1/{entity}/{{id}}/notes/"]["post"]["responses"]
        assert "201" in responses and "200" not in responses


LARGEST = 2_147_483_647  # a PositiveIntegerField's largest value in PostgreSQL


def test_after_the_largest_order_the_next_record_still_saves(owner_client_a: Client) -> None:
    """A record created without `order` goes one past the largest; once a client had set
    the largest order PostgreSQL holds, that overflowed: a 500 (found on lead sources)."""
    lists = {
        "/api/v1/lead-sources/": lambda n: {"name": f"Source {n}"},
        "/api/v1/lost-reasons/": lambda n: {"name": f"Reason {n}"},
        "/api/v1/pipelines/": lambda n: {"name": f"Pipeline {n}"},
        "/api/v1/custom-fields/": lambda n: {
            "entity": "lead",
            "key": f"overflow_{n}",
            "label": f"Overflow {n}",
            "type": "text",
        },
    }
    for path, body in lists.items():
        first = owner_client_a.post(
            path, {**body(1), "order": LARGEST}, content_type="application/json"
        )
        assert first.status_code == 201, (path, first.content)
        made = json.loads(first.content)
        if made["order"] != LARGEST:  # pipelines take their order from an update only
            moved = owner_client_a.patch(
                f"{path}{made['id']}/", {"order": LARGEST}, content_type="application/json"
            )
            assert json.loads(moved.content)["order"] == LARGEST, (path, moved.content)
        second = owner_client_a.post(path, body(2), content_type="application/json")
        assert second.status_code == 201, (path, second.status_code, second.content[:300])
        assert json.loads(second.content)["order"] == LARGEST


def test_a_web_form_field_order_past_the_column_is_a_400(owner_client_a: Client) -> None:
    """A form field's `order` had no maximum: past the column's range it could not be saved."""
    response = owner_client_a.post(
        "/api/v1/forms/",
        {"name": "Too far", "fields": [{"target": "email", "order": LARGEST + 1}]},
        content_type="application/json",
    )
    assert response.status_code == 400, response.content
    assert envelope(response)["field"] == "fields"


def test_updating_a_report_subscription_with_a_non_object_body_is_a_400(
    owner_client_a: Client,
) -> None:
    """PUT/PATCH read the body's keys before validating it: a JSON number was a 500."""
    made = owner_client_a.post(
        "/api/v1/report-subscriptions/",
        {"report": "dashboard", "cadence": "weekly"},
        content_type="application/json",
    )
    assert made.status_code == 201, made.content
    path = f"/api/v1/report-subscriptions/{json.loads(made.content)['id']}/"
    for body in ("5", "[1, 2]", '[{"a": 1}]'):
        response = owner_client_a.patch(path, body, content_type="application/json")
        assert response.status_code == 400, (body, response.content)
        assert envelope(response)["code"] == "validation_error"
