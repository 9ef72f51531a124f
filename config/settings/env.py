"""The one place that reads the process environment.

Every setting that depends on the deployment comes from here, under the names fixed by the
product brief, so a misspelt variable is caught by one test instead of silently ignored.
"""

from __future__ import annotations

import os

# The fixed interface between a deployment and the code; the chart, the compose file and the
# dev launcher are tested against this tuple.
ENV_VARS: tuple[str, ...] = (
    "DATABASE_URL",
    "REDIS_URL",
    "BASE_DOMAIN",
    "DJANGO_SECRET_KEY",
    "DJANGO_DEBUG",
    "DJANGO_SETTINGS_MODULE",
)

_TRUE = {"1", "true", "yes", "on"}


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default).strip()


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    return value.strip().lower() in _TRUE


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    return int(value) if value else default


DATABASE_URL = env_str("DATABASE_URL")
REDIS_URL = env_str("REDIS_URL")
BASE_DOMAIN = env_str("BASE_DOMAIN", "localhost").lower() or "localhost"
DJANGO_SECRET_KEY = env_str("DJANGO_SECRET_KEY")
DJANGO_DEBUG = env_bool("DJANGO_DEBUG", default=False)
# Optional, unlike ENV_VARS: where uploaded files live (default BASE_DIR/media). The web process
# saves an import's file and a Celery worker, in another container, reads it and writes the
# rejected rows next to it, so every deployment points web and workers at one shared volume.
KESTREL_MEDIA_ROOT = env_str("KESTREL_MEDIA_ROOT")

# Optional operations settings (docs/operations.md). Each is read here and nowhere else.
# true when DATABASE_URL points at a PgBouncer in transaction-pooling mode: the schema is then
# set inside every transaction instead of once per connection (tenants/pooling.py).
DATABASE_TRANSACTION_POOLING = env_bool("DATABASE_TRANSACTION_POOLING", default=False)
# "json" (one JSON object per line, with request id, tenant and user) or "plain".
KESTREL_LOG_FORMAT = env_str("KESTREL_LOG_FORMAT", "plain").lower() or "plain"
# Bearer token that /metrics (Prometheus) demands; unset, /metrics answers 404.
KESTREL_METRICS_TOKEN = env_str("KESTREL_METRICS_TOKEN")
# Errors and traces to Sentry when set; nothing is sent otherwise.
SENTRY_DSN = env_str("SENTRY_DSN")
# Where backup_tenant writes, restore_tenant reads by name, and deletion keeps its final copy.
KESTREL_BACKUP_DIR = env_str("KESTREL_BACKUP_DIR")
