"""Celery: Redis broker, tasks acknowledged late so a killed worker's task runs again."""

from __future__ import annotations

from datetime import timedelta

from .env import REDIS_URL, env_int

CELERY_BROKER_URL = REDIS_URL
CELERY_RESULT_BACKEND = None
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Keep reconnecting to Redis however long it is away (Celery's default gives up after 100
# tries, about 45 minutes, and the worker then waits for its supervisor): reminders that fall
# due meanwhile are kept in PostgreSQL and go out once it is back.
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
# A task sent while Redis restarts (a request queueing an import) waits for it about 4 s (five
# retries, 0 to 1 s apart) instead of Celery's 1.2 s; past that the sender decides (an
# import's run is sent again by its watch, kept in PostgreSQL).
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 5,
    "interval_start": 0,
    "interval_step": 0.5,
    "interval_max": 1,
}
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

# Organisations' tasks are routed to their own queues (tenants/queues.py).
CELERY_TASK_ROUTES = ("tenants.queues.route_task",)
CELERY_TASK_IGNORE_RESULT = True
# Deliberate limits: every task of ours is short (scheduled work is split into batches by
# tenants/jobs.py), so a stuck task is killed after 5 minutes and its work retried.
CELERY_TASK_SOFT_TIME_LIMIT = 240
CELERY_TASK_TIME_LIMIT = 300
# Redis re-delivers a message that was taken but not acknowledged (its worker died) after the
# visibility timeout. It must exceed the longest task (300 s) and any countdown we use: delays
# longer than that are kept in PostgreSQL (tenants.ScheduledJob), never as Celery ETAs.
# priority_steps [0]: one Redis list per queue instead of kombu's four (we send no task
# priorities), so a worker's BRPOP names 2 keys per organisation, not 8: at 1,000
# organisations a worker's consume loop spends 3 ms of CPU per task instead of 11 ms
# (bench/queues_scaling.py, docs/operations.md).
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 900, "priority_steps": [0]}
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = True
# Celery's consumer, kept running when Redis goes away with a task in flight (its docstring).
CELERY_WORKER_CONSUMER = "config.celery_app:Consumer"
CELERY_WORKER_SEND_TASK_EVENTS = False

# Which task (its import path) delivers due scheduled jobs of each kind (tenants/jobs.py).
KESTREL_JOB_TASKS = {
    "reminder": "apps.activities.tasks.deliver_due_reminders",
    "email": "apps.notifications.tasks.deliver_due_emails",
    "import_watch": "apps.imports.tasks.watch_imports",
    "report_subscription": "apps.reports.tasks.deliver_subscriptions",
}
# How often workers look for new, suspended or deleted organisations' queues.
KESTREL_QUEUE_REFRESH_SECONDS = 5
# 0: one queue per organisation and kind. N > 0: organisations share N queues per kind.
KESTREL_QUEUE_SHARDS = env_int("KESTREL_QUEUE_SHARDS", 0)

CELERY_BEAT_SCHEDULE["tenants-dispatch-due-jobs"] = {
    "task": "tenants.tasks.dispatch_due_jobs",
    "schedule": timedelta(seconds=1),
    "options": {"expires": 10},
}
CELERY_BEAT_SCHEDULE["deals-pipeline-snapshot"] = {
    "task": "tenants.tasks.fan_out",
    "schedule": timedelta(hours=1),
    "args": ["apps.deals.tasks.pipeline_snapshot"],
}
