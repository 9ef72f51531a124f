"""Rate limits per API key (or user) and per organisation, counted in Redis.

Keys go through the tenant-aware cache, so one organisation's counters can never touch
another's: a burst in one never throttles the next. If Redis is unreachable the request is
served (and the failure logged): an outage of the counter store must not become an API outage.
"""

from __future__ import annotations

import functools
import logging
import time
from typing import Any

from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

logger = logging.getLogger("kestrel.api")


def _limits(request: Request) -> tuple[tuple[int, int], tuple[int, int]]:
    tenant = getattr(request, "tenant", None)
    plan = getattr(tenant, "plan", "free")
    per_plan: dict[str, dict[str, tuple[int, int]]] = settings.API_RATE_LIMITS
    limits = per_plan.get(plan, per_plan["free"])
    return limits["key"], limits["organisation"]


@functools.lru_cache(maxsize=32)
def _client(pool: Any) -> Any:
    """A Redis client on the cache's connection pool (thread-safe), kept: Django's cache
    builds a new one on every call, which copies redis-py's table of reply parsers."""
    import redis

    return redis.Redis(connection_pool=pool)


def _hit_both(counters: list[tuple[str, int]]) -> list[int]:
    """Counts one hit on each (key, window) counter, in one Redis round trip: per counter,
    create it at 0 expiring after its window unless it exists, then increment it (MULTI/EXEC,
    so a counter cannot expire between the two)."""
    backend = caches["default"]
    if not isinstance(backend, RedisCache):  # e.g. the local-memory cache without REDIS_URL
        counts = []
        for key, window in counters:
            backend.add(key, 0, timeout=window + 1)
            counts.append(int(backend.incr(key)))
        return counts
    keys = [backend.make_and_validate_key(key) for key, _ in counters]
    client = _client(backend._cache._get_connection_pool(write=True))  # type: ignore[attr-defined]
    pipe = client.pipeline(transaction=True)
    for key, (_, window) in zip(keys, counters, strict=True):
        pipe.set(key, 0, ex=window + 1, nx=True)
        pipe.incr(key)
    replies = pipe.execute()
    return [int(reply) for reply in replies[1::2]]


class KeyAndOrganisationRateThrottle(BaseThrottle):
    def allow_request(self, request: Request, view: Any) -> bool:
        (key_limit, key_window), (org_limit, org_window) = _limits(request)
        auth = request.auth
        if auth is not None and hasattr(auth, "prefix"):
            who = f"key:{auth.prefix}"
        elif request.user and request.user.is_authenticated:
            who = f"user:{request.user.pk}"
        else:
            who = f"ip:{request.META.get('REMOTE_ADDR', '')}"
        now = time.time()
        key_slot = int(now // key_window)
        org_slot = int(now // org_window)
        try:
            used, org_used = _hit_both(
                [
                    (f"api-rate:{who}:{key_slot}", key_window),
                    (f"api-rate:organisation:{org_slot}", org_window),
                ]
            )
        except Exception:
            logger.warning("rate limit store unreachable; serving without a limit", exc_info=True)
            return True
        reset = (key_slot + 1) * key_window
        request._request.ratelimit = {  # type: ignore[attr-defined]
            "limit": key_limit,
            "remaining": max(0, key_limit - used),
            "reset": reset,
        }
        if used > key_limit:
            self._wait = reset - now
            return False
        if org_used > org_limit:
            self._wait = (org_slot + 1) * org_window - now
            return False
        return True

    def wait(self) -> float | None:
        return max(1.0, getattr(self, "_wait", 1.0))
