"""Celery: Redis broker, tasks acknowledged late so a killed worker's task runs again."""

from __future__ import annotations

from datetime import timedelta

from .env import REDIS_URL

CELERY_BROKER_URL = REDIS_URL
CELERY_RESULT_BACKEND = None
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULE = {
    "tenants-warm-pool-refill": {
        "task": "tenants.tasks.warm_pool_refill",
        "schedule": timedelta(seconds=30),
    },
    "core-prune-expired": {
        "task": "core.tasks.prune_expired",
        "schedule": timedelta(hours=1),
    },
}
