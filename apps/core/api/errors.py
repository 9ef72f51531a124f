"""One error envelope for the whole API: {"error": {"code", "message", "field", "details"}}."""

from __future__ import annotations

import enum
import sys
from typing import Any

import kombu.exceptions
import redis
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.db import InterfaceError, OperationalError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views.defaults import page_not_found
from django.views.defaults import server_error as server_error_page
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler


class ErrorCode(enum.StrEnum):
    VALIDATION_ERROR = "validation_error"
    PARSE_ERROR = "parse_error"
    UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"
    NOT_ACCEPTABLE = "not_acceptable"
    REQUEST_TOO_LARGE = "request_too_large"
    NOT_AUTHENTICATED = "not_authenticated"
    AUTHENTICATION_FAILED = "authentication_failed"
    PERMISSION_DENIED = "permission_denied"
    NOT_FOUND = "not_found"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    THROTTLED = "rate_limited"
    CONFLICT = "conflict"
    DUPLICATE_SUSPECTED = "duplicate_suspected"
    TENANT_SUSPENDED = "tenant_suspended"
    IDEMPOTENCY_KEY_REUSED = "idempotency_key_reused"
    IDEMPOTENCY_IN_PROGRESS = "idempotency_in_progress"
    SERVER_ERROR = "server_error"
    SERVICE_UNAVAILABLE = "service_unavailable"


class DuplicateConflict(exceptions.APIException):
    """409: the record looks like existing ones; `?allow_duplicate=true` creates it anyway."""

    status_code = status.HTTP_409_CONFLICT
    default_code = "duplicate_suspected"

    def __init__(self, message: str, candidates: list[int]) -> None:
        super().__init__(message)
        self.candidates = candidates


# DRF answers Django's own Http404 and PermissionDenied too; they keep their codes.
_CODES: dict[type[Exception], ErrorCode] = {
    Http404: ErrorCode.NOT_FOUND,
    DjangoPermissionDenied: ErrorCode.PERMISSION_DENIED,
    exceptions.ValidationError: ErrorCode.VALIDATION_ERROR,
    exceptions.ParseError: ErrorCode.PARSE_ERROR,
    exceptions.UnsupportedMediaType: ErrorCode.UNSUPPORTED_MEDIA_TYPE,
    exceptions.NotAcceptable: ErrorCode.NOT_ACCEPTABLE,
    exceptions.NotAuthenticated: ErrorCode.NOT_AUTHENTICATED,
    exceptions.AuthenticationFailed: ErrorCode.AUTHENTICATION_FAILED,
    exceptions.PermissionDenied: ErrorCode.PERMISSION_DENIED,
    exceptions.NotFound: ErrorCode.NOT_FOUND,
    exceptions.MethodNotAllowed: ErrorCode.METHOD_NOT_ALLOWED,
    exceptions.Throttled: ErrorCode.THROTTLED,
}


def error_body(
    code: ErrorCode | str, message: str, field: str | None = None, details: Any = None
) -> dict[str, Any]:
    return {
        "error": {
            "code": code.value if isinstance(code, ErrorCode) else code,
            "message": message,
            "field": field,
            "details": details,
        }
    }


def error_response(code: ErrorCode, message: str, status_code: int) -> JsonResponse:
    """For code outside DRF views (middleware) that must still speak the API's envelope."""
    return JsonResponse(error_body(code, message), status=status_code)


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """Django's 404 handler: a path no route answers (or an Http404 outside DRF) gets the
    envelope under /api/, Django's page elsewhere."""
    if request.path_info.startswith("/api/"):
        return error_response(
            ErrorCode.NOT_FOUND,
            "No such resource or endpoint; GET /api/v1/ lists the resources.",
            status.HTTP_404_NOT_FOUND,
        )
    return page_not_found(request, exception or Http404())


# A store that cannot be reached for the moment (PostgreSQL restarting or its connection
# cut, Redis restarting, the broker away): the request may well succeed if sent again.
UNAVAILABLE = (
    OperationalError,
    InterfaceError,
    redis.ConnectionError,
    redis.TimeoutError,
    kombu.exceptions.OperationalError,
)


def server_error(request: HttpRequest) -> HttpResponse:
    """Django's 500 handler (called while the exception is handled): under /api/ the
    envelope, a 503 with Retry-After when a store was unreachable, else a 500; Django's page
    elsewhere."""
    if not request.path_info.startswith("/api/"):
        return server_error_page(request)
    if isinstance(sys.exc_info()[1], UNAVAILABLE):
        response = error_response(
            ErrorCode.SERVICE_UNAVAILABLE,
            "The service is briefly unavailable; send the request again (with the same "
            "Idempotency-Key, if it had one: nothing of it was kept).",
            status.HTTP_503_SERVICE_UNAVAILABLE,
        )
        response["Retry-After"] = "1"
        return response
    return error_response(
        ErrorCode.SERVER_ERROR,
        "Something went wrong on our side; the error was logged.",
        status.HTTP_500_INTERNAL_SERVER_ERROR,
    )


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    code = next(
        (value for cls, value in _CODES.items() if isinstance(exc, cls)), ErrorCode.SERVER_ERROR
    )
    if isinstance(exc, DuplicateConflict):
        response.data = error_body(
            ErrorCode.DUPLICATE_SUSPECTED,
            str(exc.detail),
            details={"candidates": exc.candidates},
        )
        return response
    if isinstance(exc, exceptions.ValidationError):
        detail = exc.detail
        field = None
        message = "The request has invalid fields."
        if isinstance(detail, dict) and detail:
            field = next(iter(detail))
            first = detail[field]
            message = str(first[0] if isinstance(first, list) and first else first)
        response.data = error_body(code, message, field=field, details=detail)
    else:
        # Django's Http404 / PermissionDenied carry no `detail` (a bare Http404 from a
        # malformed id is empty); DRF has put its default message in the response.
        drf_detail = response.data.get("detail") if isinstance(response.data, dict) else None
        message = str(getattr(exc, "detail", None) or drf_detail or exc)
        if response.status_code == status.HTTP_403_FORBIDDEN and code is ErrorCode.SERVER_ERROR:
            code = ErrorCode.PERMISSION_DENIED
        response.data = error_body(code, message)
    return response
