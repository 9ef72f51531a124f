"""Settings shared by every environment; concerns live in their own modules."""

from __future__ import annotations

from pathlib import Path

import dj_database_url

from .celery import *  # noqa: F403
from .drf import *  # noqa: F403
from .email import *  # noqa: F403  (outgoing mail, from the environment)
from .env import BASE_DOMAIN, DATABASE_URL, DJANGO_DEBUG, KESTREL_MEDIA_ROOT, REDIS_URL
from .logging import *  # noqa: F403
from .security import *  # noqa: F403
from .tenancy import *  # noqa: F403

BASE_DIR = Path(__file__).resolve().parent.parent.parent

DEBUG = DJANGO_DEBUG
KESTREL_BASE_DOMAIN = BASE_DOMAIN
# How links to other hosts (e.g. a new organisation's subdomain) are written outside a request.
KESTREL_URL_SCHEME = "https"
KESTREL_URL_PORT = ""

MIDDLEWARE = [
    # Request id, access log and request metrics; touches neither the database nor the
    # session, and comes first so that routing's own log lines carry the request id too.
    "apps.core.observability.middleware.RequestObservabilityMiddleware",
    # Chooses the tenant (and its schema) from the Host before anything else touches the database.
    "tenants.middleware.TenantRoutingMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "apps.core.middleware.ContentSecurityPolicyMiddleware",
    # A query string or url-encoded form that is not UTF-8: 400, not U+FFFD saved or searched.
    "apps.core.middleware.Utf8RequestMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "apps.core.api.middleware.RateLimitHeadersMiddleware",
    "apps.core.api.middleware.IdempotencyMiddleware",
]

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "apps.core.context_processors.kestrel",
            ],
        },
    },
]

WSGI_APPLICATION = "config.wsgi.application"

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "guardian.backends.ObjectPermissionBackend",
]
# Anonymous object permissions are not used; every CRM record belongs to a signed-in user.
ANONYMOUS_USER_NAME = None
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "core:home"
LOGOUT_REDIRECT_URL = "accounts:login"


def database_config(url: str, *, transaction_pooling: bool | None = None) -> dict[str, object]:
    """DATABASES entry for `url`; `transaction_pooling` (default DATABASE_TRANSACTION_POOLING)
    when `url` is a PgBouncer in transaction pooling mode."""
    if transaction_pooling is None:
        from .env import DATABASE_TRANSACTION_POOLING as transaction_pooling
    config: dict[str, object] = dict(dj_database_url.parse(url, conn_max_age=60))
    # Schema switching needs the tenant-aware backend on every connection. Behind a
    # transaction pooler, its variant that sets the schema in every transaction instead of
    # once per session (tenants/pooling/base.py).
    config["ENGINE"] = (
        "tenants.pooling" if transaction_pooling else "django_tenants.postgresql_backend"
    )
    config["CONN_HEALTH_CHECKS"] = True
    # Typo-tolerant search matches words at least this similar (pg_trgm's default, 0.6,
    # misses most single-letter transpositions in short names). Behind a transaction pooler
    # the backend sets it in every transaction instead (PgBouncer refuses `options`).
    options = dict(config.get("OPTIONS") or {})  # type: ignore[call-overload]
    options["options"] = "-c pg_trgm.word_similarity_threshold=0.3"
    if transaction_pooling:
        # A prepared statement or a server-side cursor lives on one server connection.
        options["prepare_threshold"] = None
        config["DISABLE_SERVER_SIDE_CURSORS"] = True
    config["OPTIONS"] = options
    return config


def redis_caches(url: str) -> dict[str, dict[str, object]]:
    return {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": url,
            # Every key is prefixed with the current schema: tenants never read each other's.
            "KEY_FUNCTION": "django_tenants.cache.make_key",
            "REVERSE_KEY_FUNCTION": "django_tenants.cache.reverse_key",
        },
        # Platform-wide keys that belong to no tenant (e.g. the routing generation).
        "platform": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": url,
            "KEY_PREFIX": "platform",
        },
    }


DATABASES = {"default": database_config(DATABASE_URL)} if DATABASE_URL else {}
CACHES = redis_caches(REDIS_URL) if REDIS_URL else {}

SESSION_ENGINE = "django.contrib.sessions.backends.db"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(KESTREL_MEDIA_ROOT) if KESTREL_MEDIA_ROOT else BASE_DIR / "media"
# Per-organisation backup archives (backup_tenant, restore_tenant, the final copy kept when an
# organisation is deleted). Deleting one refuses to go ahead unless that final copy was written.
from .env import KESTREL_BACKUP_DIR as _BACKUP_DIR  # noqa: E402

KESTREL_BACKUP_DIR = Path(_BACKUP_DIR) if _BACKUP_DIR else BASE_DIR / "backups"
KESTREL_BACKUP_ON_DELETE = True

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

# Optional error reporting (apps/core/observability/sentry.py): nothing is sent without a DSN.
# Events are filed under the deployment's domain, so staging and production never mix.
SENTRY_ENVIRONMENT = BASE_DOMAIN
if SENTRY_DSN:
    from apps.core.observability.sentry import init_sentry

    init_sentry(SENTRY_DSN, environment=SENTRY_ENVIRONMENT, release=SENTRY_RELEASE)
