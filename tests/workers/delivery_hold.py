"""A pause inside reminder delivery, for the real-worker tests only (no product code changes).

Loaded by the worker through CELERY_IMPORTS (tests/workers/worker_settings.py). In each pool
process of a real worker it connects a `post_save` receiver to notifications.Notification, so
it runs where the product's `notify()` inserts a notification: inside the delivery's
transaction (tenants.jobs.deliver_due), with the scheduled job and the reminder locked and
nothing committed yet. The receiver

- records every insert on the probe list INSERTS (schema, dedupe key, pid, worker node), before
  pausing: the test reads it to know a delivery is inside its transaction now;
- pauses while the key PAUSE_KEY exists, at most as many seconds as it holds
  (`hold(redis, 20)`: until the test deletes the key; `hold(redis, 0.25)`: every delivery
  takes a quarter of a second);
- records the insert again on COMMITS once its transaction commits (transaction.on_commit), so
  a test can count deliveries that really took effect, per reminder.

Redis being down (a test stopping it) simply means no pause and no record. The test process
never connects the receiver (it has no pool processes), so other tests are unaffected.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

import redis
from celery import current_task
from celery.signals import worker_process_init
from django.conf import settings
from django.db import transaction
from django.db.models.signals import post_save

from tenants.db import connection
from tests.workers.probe_tasks import probe_key

PAUSE_KEY = "probe:notification-pause"
INSERTS = "notification-inserts"
COMMITS = "notification-commits"


def hold(client: redis.Redis, seconds: float) -> None:
    client.set(PAUSE_KEY, str(seconds))


def release(client: redis.Redis) -> None:
    client.delete(PAUSE_KEY)


def _client() -> redis.Redis:
    return redis.Redis.from_url(
        settings.CELERY_BROKER_URL, socket_timeout=2, socket_connect_timeout=1
    )


def _push(run: str, entry: dict[str, Any]) -> None:
    try:
        client = _client()
        try:
            client.rpush(probe_key(run), json.dumps(entry))
        finally:
            client.close()
    except redis.RedisError:
        pass


def _paused_insert(sender: Any, instance: Any, created: bool, **kwargs: Any) -> None:
    if not created:
        return
    request = getattr(current_task, "request", None)
    entry = {
        "schema": str(connection.schema_name),
        "key": instance.dedupe_key or "",
        "pid": os.getpid(),
        "node": getattr(request, "hostname", "") or "",
    }
    try:
        client = _client()
        try:
            client.rpush(probe_key(INSERTS), json.dumps(entry))
            deadline = time.monotonic() + float(client.get(PAUSE_KEY) or 0)
            while time.monotonic() < deadline and client.exists(PAUSE_KEY):
                time.sleep(0.02)
        finally:
            client.close()
    except redis.RedisError:
        pass
    transaction.on_commit(lambda: _push(COMMITS, entry))


@worker_process_init.connect
def _connect(**kwargs: Any) -> None:
    post_save.connect(
        _paused_insert,
        sender="notifications.Notification",
        dispatch_uid="tests.workers.delivery_hold",
    )
