from __future__ import annotations

import pytest
from django.test import Client
from rest_framework import exceptions

from apps.core.api.errors import exception_handler

pytestmark = pytest.mark.django_db


def test_api_root_and_me_name_the_caller_and_organisation(owner_client_a: Client) -> None:
    for path in ("/api/v1/", "/api/v1/me/"):
        body = owner_client_a.get(path).json()
        assert body["type"] == "user"
        assert body["organisation"] == {"slug": "alpha", "name": "Alpha Ltd", "plan": "free"}
        assert body["user"]["email"] == "owner@alpha.test"
        assert body["role"] == "owner"


def test_api_without_credentials_is_401_in_the_envelope(client_a: Client) -> None:
    response = client_a.get("/api/v1/me/")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'
    assert response.json() == {
        "error": {
            "code": "not_authenticated",
            "message": "Authentication credentials were not provided.",
            "field": None,
            "details": None,
        }
    }


def test_openapi_schema_and_docs_are_served(owner_client_a: Client) -> None:
    schema = owner_client_a.get("/api/v1/schema/")
    assert schema.status_code == 200
    assert b"openapi: 3" in schema.content and b"/api/v1/api-keys/" in schema.content
    docs = owner_client_a.get("/api/docs/")
    assert docs.status_code == 200
    assert b"swagger" in docs.content.lower()
    assert b"cdn" not in docs.content.lower()  # assets come from our own static files


def test_method_not_allowed_code(owner_client_a: Client) -> None:
    response = owner_client_a.delete("/api/v1/me/")
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"


def test_validation_errors_name_the_field() -> None:
    response = exception_handler(
        exceptions.ValidationError({"email": ["Enter a valid email address."]}), {}
    )
    assert response is not None and response.status_code == 400
    assert response.data["error"]["code"] == "validation_error"
    assert response.data["error"]["field"] == "email"
    assert response.data["error"]["message"] == "Enter a valid email address."
    flat = exception_handler(exceptions.ValidationError(["Bad request body."]), {})
    assert flat is not None and flat.data["error"]["field"] is None


def test_unknown_exceptions_are_left_to_django() -> None:
    assert exception_handler(RuntimeError("boom"), {}) is None


def test_other_api_exceptions_get_a_code() -> None:
    response = exception_handler(exceptions.APIException("Upstream failed."), {})
    assert response is not None and response.data["error"]["code"] == "server_error"


def test_djangos_own_not_found_and_permission_denied_keep_their_codes(
    owner_client_a: Client,
) -> None:
    missing = owner_client_a.get("/api/v1/contacts/999999/")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"
    from django.core.exceptions import PermissionDenied

    refused = exception_handler(PermissionDenied("Read-only access."), {})
    assert refused is not None and refused.status_code == 403
    assert refused.data["error"]["code"] == "permission_denied"
