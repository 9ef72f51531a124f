"""Tests: the same real PostgreSQL and Redis as development, faster hashing, no network."""

from __future__ import annotations

from .development import *  # noqa: F403

DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
TENANT_WARM_POOL_SIZE = 2
# Tasks run in-process through their real code path unless a test starts a real worker.
CELERY_TASK_ALWAYS_EAGER = True
CELERY_TASK_EAGER_PROPAGATES = True
TENANT_WARM_POOL_REFILL_ON_PROVISION = False
KESTREL_URL_PORT = "8000"  # fixed, whatever PORT the machine running the tests has set

# The suite makes hundreds of API calls a second as one owner; the limits themselves are
# tested with small values set by those tests.
API_RATE_LIMITS = {
    plan: {"key": (100_000, 10), "organisation": (100_000, 10)}
    for plan in ("free", "team", "business")
}
# Organisations made inside a test's transaction are invisible to pg_dump (another process):
# the final backup before deletion is switched on by the tests of that feature.
KESTREL_BACKUP_ON_DELETE = False
