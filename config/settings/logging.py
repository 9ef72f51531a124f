"""Logging, metrics and error reporting (apps/core/observability/).

Logs go to stderr, one line per record: plain text, or with KESTREL_LOG_FORMAT=json one JSON
object with the request id, organisation (schema) and user of the request or task it belongs
to. Every request also writes one access line (logger `kestrel.access`), so the application
server's own access log can stay off.
"""

from __future__ import annotations

from pathlib import Path

from .env import KESTREL_LOG_FORMAT, KESTREL_METRICS_TOKEN, REDIS_URL, SENTRY_DSN

LOG_FORMAT = "json" if KESTREL_LOG_FORMAT == "json" else "plain"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"context": {"()": "apps.core.observability.logging.ContextFilter"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "json": {"()": "apps.core.observability.logging.JsonFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["context"],
        }
    },
    "root": {"handlers": ["console"], "level": "INFO"},
    "loggers": {
        # Django's records reach the root handler only (Django's own console handler would
        # print them a second time, unformatted, while DEBUG is on).
        "django": {"handlers": [], "level": "INFO", "propagate": True},
        "django.db.backends": {"level": "WARNING"},
        "kestrel": {"level": "INFO"},
    },
}
KESTREL_LOG_FORMAT = LOG_FORMAT

# Prometheus: /metrics on the platform host answers only `Authorization: Bearer <token>`.
KESTREL_METRICS_TOKEN = KESTREL_METRICS_TOKEN
# Where every process adds up its request and task metrics (the broker's Redis if empty),
# and how often each process sends its buffered counts there.
KESTREL_METRICS_REDIS_URL = REDIS_URL
KESTREL_METRICS_FLUSH_SECONDS = 1.0


def _release() -> str | None:
    """kestrel-crm@<version> from pyproject.toml (shipped in the image), if readable."""
    import tomllib

    try:
        with (Path(__file__).resolve().parents[2] / "pyproject.toml").open("rb") as handle:
            return f"kestrel-crm@{tomllib.load(handle)['project']['version']}"
    except (OSError, KeyError, tomllib.TOMLDecodeError):
        return None


# Sentry (optional): initialised by config/settings/base.py when SENTRY_DSN is set.
SENTRY_DSN = SENTRY_DSN
SENTRY_RELEASE = _release()
