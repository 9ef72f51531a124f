"""A fixed-window rate limit for public endpoints, counted in Redis per client IP."""

from __future__ import annotations

import functools
import ipaddress
import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponseBase
from django.shortcuts import render

View = Callable[..., HttpResponseBase]


def client_ip(request: HttpRequest) -> str | None:
    """The peer's address, or None when there is none (e.g. a request built in code).
    Behind a proxy, the deployment's proxy must set REMOTE_ADDR; forwarded headers are not
    trusted here because clients can forge them."""
    address = str(request.META.get("REMOTE_ADDR", ""))
    try:
        return str(ipaddress.ip_address(address))
    except ValueError:
        return None


def rate_limit(
    *, scope: str, per_minute: int | None = None, methods: tuple[str, ...] = ("GET", "POST")
) -> Callable[[View], View]:
    """Answer 429 with Retry-After once a client exceeds the per-minute budget of `scope`."""

    def decorator(view: View) -> View:
        @functools.wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            if request.method in methods:
                limit = per_minute or settings.PUBLIC_RATE_LIMIT_PER_MINUTE
                window = int(time.time() // 60)
                key = f"ratelimit:{scope}:{client_ip(request) or 'unknown'}:{window}"
                try:
                    cache.add(key, 0, timeout=61)
                    count = cache.incr(key)
                except Exception:  # a cache outage must not take sign-up down with it
                    count = 0
                if count > limit:
                    retry_after = 60 - int(time.time()) % 60
                    response = render(request, "core/rate_limited.html", status=429)
                    response["Retry-After"] = str(retry_after)
                    return response
            return view(request, *args, **kwargs)

        return wrapper

    return decorator
