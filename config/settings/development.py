"""Development: embedded PostgreSQL and Redis unless DATABASE_URL / REDIS_URL name others."""

from __future__ import annotations

from .base import *  # noqa: F403
from .base import database_config, redis_caches
from .env import DATABASE_URL, DJANGO_SECRET_KEY, REDIS_URL, env_bool, env_str

DEBUG = env_bool("DJANGO_DEBUG", default=True)
SECRET_KEY = DJANGO_SECRET_KEY or "dev-only-not-secret-kestrel"
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False
KESTREL_URL_SCHEME = "http"
KESTREL_URL_PORT = env_str("PORT", "8000")  # the port `make dev` serves on

if not DATABASE_URL or not REDIS_URL:
    # Imported lazily: production images do not ship the embedded servers.
    from deploy import devservices

    if not DATABASE_URL:
        DATABASES = {"default": database_config(devservices.ensure_postgres())}
    if not REDIS_URL:
        _redis_url = devservices.ensure_redis()
        CACHES = redis_caches(_redis_url)
        CELERY_BROKER_URL = _redis_url

# Serve straight from the source folders; no collectstatic needed while developing.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True

STORAGES = {
    **STORAGES,
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
