"""Per request: the request id, one access-log line and the request metrics.

First in MIDDLEWARE, before tenant routing, so that every line logged while serving the
request carries its id, the routing middleware's and unknown hosts' included; the tenant is
read from `request.tenant` when a line is logged, i.e. once routing has chosen it. It touches
neither the database nor the session.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from django.core.signals import request_finished
from django.http import HttpRequest, HttpResponse

from . import context
from .metrics import UNKNOWN_TENANT, store

access_log = logging.getLogger("kestrel.access")

REQUEST_ID_HEADER = "X-Request-ID"
# Probes and the scrape itself are neither logged nor counted (they would drown the rest).
UNCOUNTED_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
UNLOGGED_PATHS = frozenset({"/healthz", "/readyz"})


class RequestObservabilityMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = context.request_id_from(request.META.get("HTTP_X_REQUEST_ID"))
        request.request_id = request_id  # type: ignore[attr-defined]
        # Left bound after the response: Django logs "Not Found" and the like after the
        # middleware has returned. Cleared when the response is closed (request_finished).
        context.bind(context.Current(request_id=request_id, request=request))
        started = time.perf_counter()
        response = self.get_response(request)
        seconds = time.perf_counter() - started
        response[REQUEST_ID_HEADER] = request_id

        path = request.path_info
        if path in UNCOUNTED_PATHS and path in UNLOGGED_PATHS:
            return response
        tenant = getattr(request, "tenant", None)
        tenant_label = UNKNOWN_TENANT if tenant is None else str(tenant.schema_name)
        if path not in UNLOGGED_PATHS:
            shown = context.redact(request.path, context.url_secrets(request))
            access_log.info(
                "%s %s %s %.1fms",
                request.method,
                shown,
                response.status_code,
                seconds * 1000,
                extra={
                    "http_method": request.method,
                    "path": shown,  # never the query string, nor a token in the path
                    "status": response.status_code,
                    "duration_ms": round(seconds * 1000, 2),
                },
            )
        if path not in UNCOUNTED_PATHS:
            match = request.resolver_match
            store().record_request(
                tenant=tenant_label,
                method=request.method or "",
                status=response.status_code,
                seconds=seconds,
                view=(match.view_name if match is not None else "") or "unmatched",
            )
        return response


def _forget_request(**kwargs: object) -> None:
    now = context.current()
    if now is not None and now.request is not None:
        context.unbind()


request_finished.connect(_forget_request, dispatch_uid="kestrel_observability_request_done")
