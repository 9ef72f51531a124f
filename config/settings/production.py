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
