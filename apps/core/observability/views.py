"""GET /metrics: Prometheus text format, for a scraper holding KESTREL_METRICS_TOKEN.

Served on the platform host only (config/urls_public.py): an organisation's host has no
/metrics. Without the token setting, or without `Authorization: Bearer <token>`, the answer
is the ordinary 404 page, so the endpoint is not advertised. Every counter is shared through
Redis, so one scrape of any web process shows the whole deployment; the `process_*` series
are the answering process's own.
"""

from __future__ import annotations

import hmac

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector

from .metrics import RedisCollector

registry = CollectorRegistry(auto_describe=False)
registry.register(RedisCollector())
ProcessCollector(registry=registry)
PlatformCollector(registry=registry)


def authorised(request: HttpRequest) -> bool:
    token = str(getattr(settings, "KESTREL_METRICS_TOKEN", "") or "")
    if not token:
        return False
    scheme, _, given = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(given.strip().encode(), token.encode())


@csrf_exempt
@never_cache
def metrics(request: HttpRequest) -> HttpResponse:
    if request.method not in ("GET", "HEAD") or not authorised(request):
        raise Http404
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
