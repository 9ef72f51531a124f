"""HTTP concerns of the API that sit around DRF: rate-limit headers and Idempotency-Key."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.db import DatabaseError, IntegrityError, transaction
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django_tenants.utils import get_public_schema_name

from tenants.db import connection

from .errors import ErrorCode, error_response

MAX_STORED_BODY = 1024 * 1024
# A key still "in progress" after this long belongs to a request that will never finish (its
# process was killed, or the database was unreachable when it failed): the next request with
# the key takes it over. Far longer than any request may run (Gunicorn's timeout is 60 s).
ABANDONED_AFTER = timedelta(minutes=5)

logger = logging.getLogger("kestrel.api")


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
    Keys are scoped to the caller's credentials and kept in the organisation's schema.

    The request's writes and its stored answer commit in one transaction: a request cut off
    anywhere (its database connection lost, Redis gone in an on-commit step) leaves either
    both, and a retry gets the answer replayed, or neither, and a retry runs it again; never
    a record without an answer, which a retry would create a second time. A 5xx keeps
    nothing and frees the key."""

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
            if existing.status_code is not None:
                replay = HttpResponse(
                    bytes(existing.body),
                    status=existing.status_code,
                    content_type=existing.content_type,
                )
                replay["Idempotent-Replayed"] = "true"
                return replay
            if not _take_over(existing.pk):
                return error_response(
                    ErrorCode.IDEMPOTENCY_IN_PROGRESS,
                    "A request with this Idempotency-Key is still being processed.",
                    409,
                )
            record = existing

        failed = True  # until the transaction below has committed
        try:
            with transaction.atomic():
                response = self.get_response(request)
                if response.status_code >= 500:
                    transaction.set_rollback(True)  # nothing durable was promised
                elif response.streaming or len(response.content) > MAX_STORED_BODY:
                    record.delete()  # too big to keep: the key is forgotten
                else:
                    record.status_code = response.status_code
                    record.body = response.content
                    record.content_type = response.get("Content-Type", "application/json")
                    record.save(update_fields=["status_code", "body", "content_type"])
            failed = response.status_code >= 500
        finally:
            if failed:
                _forget(record.pk)  # the client may retry with the same key
        return response


def _take_over(pk: int) -> bool:
    """Whether this request may run in place of the abandoned one that holds the record."""
    from apps.core.models import IdempotencyRecord

    now = timezone.now()
    return bool(
        IdempotencyRecord.objects.filter(
            pk=pk, status_code__isnull=True, created_at__lt=now - ABANDONED_AFTER
        ).update(created_at=now)
    )


def _forget(pk: int) -> None:
    """Free the key of a request that failed, unless its answer was stored after all. The
    request's own connection may be the reason it failed: then once more on a new one (an
    unreachable database leaves the key to be taken over after ABANDONED_AFTER)."""
    from apps.core.models import IdempotencyRecord

    for last in (False, True):
        try:
            IdempotencyRecord.objects.filter(pk=pk, status_code__isnull=True).delete()
            return
        except DatabaseError:
            if last:
                logger.warning("could not free an Idempotency-Key", exc_info=True)
                return
            connection.close()
