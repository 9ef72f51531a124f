"""Production: everything comes from the environment; refuse to start without it."""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F403
from .env import DATABASE_URL, DJANGO_SECRET_KEY, REDIS_URL

for _name, _value in (
    ("DJANGO_SECRET_KEY", DJANGO_SECRET_KEY),
    ("DATABASE_URL", DATABASE_URL),
    ("REDIS_URL", REDIS_URL),
):
    if not _value:
        raise ImproperlyConfigured(f"{_name} must be set in production")

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_HSTS_SECONDS = 31536000
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
# HSTS is not submitted for preloading: a preload entry binds the base domain and every name
# under it to HTTPS in browsers for months after removal, a choice for whoever owns the
# domain (a self-hosted deployment's operator), not a default of the product. Operators who
# want it set SECURE_HSTS_PRELOAD in their own settings module and submit the domain.
SECURE_HSTS_PRELOAD = False

SILENCED_SYSTEM_CHECKS = [
    # security.W008 (SECURE_SSL_REDIRECT): TLS ends at the proxy (deploy/Caddyfile, the
    # chart's ingress), which redirects http to https itself; behind it the application is
    # reached over plain http (the proxy, probes, the metrics scraper), where a redirect here
    # would loop or break them. Django still sees https through SECURE_PROXY_SSL_HEADER.
    "security.W008",
    # security.W021 (SECURE_HSTS_PRELOAD): not preloaded by default, see above.
    "security.W021",
]
