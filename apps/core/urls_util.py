"""Building absolute URLs across hosts (public host <-> organisation subdomains)."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest
from django.utils.http import url_has_allowed_host_and_scheme


def host_url(host: str, path: str = "/", request: HttpRequest | None = None) -> str:
    """URL on `host`, keeping the scheme and port the visitor is using (e.g. :8000 in dev)."""
    scheme = settings.KESTREL_URL_SCHEME
    port = f":{settings.KESTREL_URL_PORT}" if settings.KESTREL_URL_PORT else ""
    if request is not None:
        scheme = request.scheme or scheme
        request_host = request.get_host()
        port = ":" + request_host.rsplit(":", 1)[1] if ":" in request_host else ""
    return f"{scheme}://{host}{port}{path}"


def tenant_host(slug: str) -> str:
    return f"{slug}.{settings.KESTREL_BASE_DOMAIN}"


def local_path(url: str) -> str | None:
    """`url` if it is a path on this host ("/deals/12/"), else None. A `next` parameter goes
    through it before any redirect: "//evil.example", "/\\evil.example" (which browsers
    read as //evil.example), "https://..." and "javascript:..." are all refused."""
    if not url or not url.startswith("/") or url.startswith("//") or "\\" in url:
        return None
    if not url_has_allowed_host_and_scheme(url, allowed_hosts=None):
        return None
    return url
