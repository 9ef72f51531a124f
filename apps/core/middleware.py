from __future__ import annotations

from collections.abc import Callable
from urllib.parse import unquote_to_bytes

from django.conf import settings
from django.core.exceptions import SuspiciousOperation
from django.http import HttpRequest, HttpResponse


class InvalidEncoding(SuspiciousOperation):
    """The query string or a form's fields are not UTF-8; answered 400 (core.web.views)."""


def _is_utf8(raw: bytes) -> bool:
    try:
        unquote_to_bytes(raw.replace(b"+", b" ")).decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


class Utf8RequestMiddleware:
    """Refuses a query string or a url-encoded form that is not UTF-8 with a 400 saying so.

    Django decodes them with U+FFFD for every bad byte: a search would silently look for
    something else, and a form would save the replacement characters instead of what was
    typed. JSON bodies are checked by their parser, multipart forms by their fields."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        # WSGI hands the query string over as latin-1 text, byte for byte.
        query = request.META.get("QUERY_STRING", "")
        if query and not _is_utf8(query.encode("latin-1", "replace")):
            raise InvalidEncoding("The address's query string is not valid UTF-8.")
        if (
            request.method not in ("GET", "HEAD", "OPTIONS")
            and request.content_type == "application/x-www-form-urlencoded"
            and not _is_utf8(request.body)
        ):
            raise InvalidEncoding("The form's fields are not valid UTF-8.")
        return self.get_response(request)


def with_security_headers(response: HttpResponse) -> HttpResponse:
    """The headers SecurityMiddleware, XFrameOptionsMiddleware and the policy below add, for
    a response made before they run (the routing middleware's unknown-host and suspended
    pages)."""
    defaults = {
        "Content-Security-Policy": settings.CONTENT_SECURITY_POLICY,
        "X-Frame-Options": settings.X_FRAME_OPTIONS,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": settings.SECURE_REFERRER_POLICY,
        "Cross-Origin-Opener-Policy": settings.SECURE_CROSS_ORIGIN_OPENER_POLICY,
    }
    for name, value in defaults.items():
        response.headers.setdefault(name, value)
    return response


class ContentSecurityPolicyMiddleware:
    """Sends the strict policy on every response: no inline script, nothing from other hosts."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.policy = settings.CONTENT_SECURITY_POLICY

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.headers.setdefault("Content-Security-Policy", self.policy)
        return response
