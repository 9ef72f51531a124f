"""OpenAPI: every operation documents the errors it may answer, all in the one envelope of
apps/core/api/errors.py, so a client generated from the schema knows their shape."""

from __future__ import annotations

from typing import Any

from .errors import ErrorCode

ERROR_COMPONENT = "Error"

ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "Every error the API answers (4xx, 5xx) has this shape.",
    "properties": {
        "error": {
            "type": "object",
            "properties": {
                "code": {
                    "type": "string",
                    "description": (
                        "Stable, machine-readable: branch on it, not on the message. One of "
                        + ", ".join(code.value for code in ErrorCode)
                        + ", or a code of the resource (e.g. invalid_filter)."
                    ),
                },
                "message": {"type": "string", "description": "For people; may change."},
                "field": {
                    "type": "string",
                    "nullable": True,
                    "description": "The (first) field or parameter the error concerns.",
                },
                "details": {
                    "nullable": True,
                    "description": "Per-field messages (validation) or the error's data.",
                },
            },
            "required": ["code", "message", "field", "details"],
        }
    },
    "required": ["error"],
}

# Any operation: bad query parameters or body, no/bad key, not allowed, not found (also
# for objects of other organisations), rate limited.
ALWAYS = {
    "400": "Invalid parameters or body (validation_error, ...).",
    "401": "No API key or session, or an invalid one.",
    "403": "The caller may not do this (permission_denied, tenant_suspended).",
    "404": "No such object, or one the caller may not see.",
    "429": "Rate limited (rate_limited); Retry-After says when to try again.",
}
# Writes: a conflict with the current state (duplicate_suspected, idempotency_*, ...).
WRITES = {"409": "Conflicts with the current state (duplicate_suspected, conflict, ...)."}
# A request body: too large, or of a type the operation does not read.
BODY = {
    "413": "The request body is too large (request_too_large).",
    "415": "The body's Content-Type is not one the operation reads.",
}
METHODS = {"get", "post", "put", "patch", "delete"}


def error_responses_hook(
    result: dict[str, Any], generator: Any, request: Any, public: bool
) -> dict[str, Any]:
    """drf-spectacular postprocessing hook: adds the error responses an operation does not
    declare itself, each with the `Error` envelope."""
    result.setdefault("components", {}).setdefault("schemas", {})[ERROR_COMPONENT] = ERROR_SCHEMA
    reference = {"$ref": f"#/components/schemas/{ERROR_COMPONENT}"}
    for operations in result.get("paths", {}).values():
        for method, operation in operations.items():
            if method not in METHODS:
                continue
            codes = dict(ALWAYS)
            if method != "get":
                codes.update(WRITES)
            if "requestBody" in operation:
                codes.update(BODY)
            responses = operation.setdefault("responses", {})
            for code, description in codes.items():
                responses.setdefault(
                    code,
                    {
                        "description": description,
                        "content": {"application/json": {"schema": reference}},
                    },
                )
    return result
