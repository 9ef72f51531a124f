"""HTTP concerns of the API that sit around DRF: rate-limit headers and Idempotency-Key."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from django.conf import settings
from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse
from django_tenants.utils import get_public_schema_name

from tenants.db import connection

from .errors import ErrorCode, error_response

MAX_STORED_BODY = 1024 * 1024


class RateLimitHeadersMiddleware:
    """Adds X-RateLimit-Limit/Remaining/Reset to API responses the throttle counted."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        info = getattr(request, "ratelimit", None)
        if info is not None:
            response["X-RateLimit-Limit"] = str(info["limit"])
            response["X-RateLimit-Remaining"] = str(info["remaining"])
            response["X-RateLimit-Reset"] = str(int(info["reset"]))
        return response


class IdempotencyMiddleware:
    """`Idempotency-Key` on an API POST: the first response is stored, a repeat with the same
    key and body gets it back (marked `Idempotent-Replayed: true`) and creates nothing; the
    same key with a different body is refused; a repeat while the first is running gets 409.
    Keys are scoped to the caller's credentials and kept in the organisation's schema."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        idempotency_key = request.headers.get("Idempotency-Key", "").strip()
        if (
            not idempotency_key
            or request.method != "POST"
            or not request.path_info.startswith("/api/")
            or connection.schema_name == get_public_schema_name()
        ):
            return self.get_response(request)
        if len(idempotency_key) > 255:
            return error_response(
                ErrorCode.VALIDATION_ERROR, "Idempotency-Key may be at most 255 characters.", 400
            )
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if limit is not None and int(request.META.get("CONTENT_LENGTH") or 0) > limit:
            # The key is checked against the whole body, which must then fit in memory; a
            # large upload (an import file) goes without it (the import's dry run is the
            # safe retry there).
            return error_response(
                ErrorCode.VALIDATION_ERROR,
                f"Idempotency-Key works on request bodies up to {limit // 1_048_576} MB; "
                "send this request without it.",
                413,
            )
        from apps.core.models import IdempotencyRecord

        caller = request.headers.get("Authorization") or request.COOKIES.get("sessionid", "")
        caller_hash = hashlib.sha256(caller.encode()).hexdigest()
        request_hash = hashlib.sha256(
            request.method.encode() + request.path_info.encode() + b"\n" + request.body
        ).hexdigest()
        try:
            with transaction.atomic():
                record = IdempotencyRecord.objects.create(
                    key=idempotency_key, caller_hash=caller_hash, request_hash=request_hash
                )
        except IntegrityError:
            existing = IdempotencyRecord.objects.get(key=idempotency_key, caller_hash=caller_hash)
            if existing.request_hash != request_hash:
                return error_response(
                    ErrorCode.IDEMPOTENCY_KEY_REUSED,
                    "This Idempotency-Key was used with a different request.",
                    422,
                )
            if existing.status_code is None:
                return error_response(
                    ErrorCode.IDEMPOTENCY_IN_PROGRESS,
                    "A request with this Idempotency-Key is still being processed.",
                    409,
                )
            replay = HttpResponse(
                bytes(existing.body),
                status=existing.status_code,
                content_type=existing.content_type,
            )
            replay["Idempotent-Replayed"] = "true"
            return replay

        response = self.get_response(request)
        if (
            response.status_code >= 500
            or response.streaming
            or len(response.content) > MAX_STORED_BODY
        ):
            # Let the client retry with the same key; nothing durable was promised.
            record.delete()
            return response
        record.status_code = response.status_code
        record.body = response.content
        record.content_type = response.get("Content-Type", "application/json")
        record.save(update_fields=["status_code", "body", "content_type"])
        return response
