"""Scheduled work per organisation, kept in PostgreSQL: when a reminder or an email falls due.

The contract, relied on by reminders and notification emails:

- `schedule()` and `unschedule()` run inside the caller's transaction, so a job exists exactly
  when the record that needs it was saved (a rolled-back write leaves no job behind).
- `deliver_due()` takes one due job at a time under `SELECT ... FOR UPDATE SKIP LOCKED` and runs
  its handler in the same transaction that deletes the job. A second worker (or the same task
  delivered twice) skips a locked job and finds a finished one gone, so a handler's database
  effects happen exactly once. A worker killed mid-job rolls back; the job is still due and the
  next delivery runs it.
- A handler that raises is retried with backoff; after `MAX_ATTEMPTS` the job is dropped and a
  `FailedTask` row records it where an Admin can see it.

The dispatcher (`tenants.tasks.dispatch_due_jobs`, every second from beat) finds which
organisations have due work with one indexed query and sends one delivery task per
organisation and kind to that organisation's own queue.
"""

from __future__ import annotations

import logging
import time
import traceback
from collections.abc import Callable
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from .db import connection
from .models import ScheduledJob

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
# Seconds to wait before attempt n+1 (after n failures): 30 s, 1 min, 2 min, ... capped at 2 h.
BACKOFF_BASE = 30
BACKOFF_CAP = 2 * 60 * 60
# A delivery task hands the queue back after this many jobs, so one organisation's backlog
# never holds a worker for long (the dispatcher sends another task while work remains).
BATCH = 200
# ... or after this many seconds, well inside the task's soft time limit (240 s).
BATCH_SECONDS = 60
# A job whose handler was started this many times without finishing (its worker killed, e.g.
# by the hard time limit, while handling it) is dropped and recorded as failed, rather than
# holding up the organisation's work of that kind forever. Counted in Redis: a flush only
# grants a few more tries.
MAX_STARTS = 5
STARTS_KEEP_SECONDS = 24 * 60 * 60

_UPSERT = """
    INSERT INTO public.tenants_scheduledjob
        (schema_name, kind, object_id, due_at, attempts, last_error, created_at)
    VALUES (%s, %s, %s, %s, 0, '', now())
    ON CONFLICT (schema_name, kind, object_id)
    DO UPDATE SET due_at = EXCLUDED.due_at, attempts = 0, last_error = ''
"""


def schedule(*, kind: str, object_id: int, due_at: datetime) -> None:
    """(Re)schedule the job `kind`/`object_id` of the current organisation for `due_at`."""
    with connection.cursor() as cursor:
        cursor.execute(_UPSERT, [connection.schema_name, kind, object_id, due_at])


def unschedule(*, kind: str, object_id: int) -> None:
    ScheduledJob.objects.filter(
        schema_name=connection.schema_name, kind=kind, object_id=object_id
    ).delete()


def unschedule_many(*, kind: str, object_ids: list[int]) -> None:
    if object_ids:
        ScheduledJob.objects.filter(
            schema_name=connection.schema_name, kind=kind, object_id__in=object_ids
        ).delete()


def backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(BACKOFF_BASE * 2 ** max(attempts - 1, 0), BACKOFF_CAP))


def deliver_due(
    *, kind: str, handler: Callable[[int], object], task_name: str, limit: int = BATCH
) -> tuple[int, bool]:
    """Run the handler of every due `kind` job of the current organisation, one transaction
    per job. A handler that returns a datetime keeps its job, due again then (a watch that
    repeats); otherwise the job is done and deleted. Returns (jobs handled, whether due work
    may remain)."""
    schema = connection.schema_name
    handled = 0
    stop_at = time.monotonic() + BATCH_SECONDS
    while handled < limit and time.monotonic() < stop_at:
        with transaction.atomic():
            job = (
                ScheduledJob.objects.select_for_update(skip_locked=True)
                .filter(schema_name=schema, kind=kind, due_at__lte=timezone.now())
                .order_by("due_at")
                .first()
            )
            if job is None:
                return handled, False
            starts = _count_start(job)
            if starts > MAX_STARTS:
                _failed(
                    job,
                    RuntimeError(f"its handler was started {starts - 1} times and never finished"),
                    task_name=task_name,
                    final=True,
                )
            else:
                try:
                    with transaction.atomic():
                        again = handler(job.object_id)
                except Exception as exc:  # any failure is retried, then recorded
                    _failed(job, exc, task_name=task_name)
                else:
                    if isinstance(again, datetime):  # the handler wants to look again then
                        job.due_at, job.attempts, job.last_error = again, 0, ""
                        job.save(update_fields=["due_at", "attempts", "last_error"])
                    else:
                        job.delete()
                _forget_starts(job)
        handled += 1
    return handled, True


def _starts_key(job: ScheduledJob) -> str:
    return f"job-starts:{job.schema_name}:{job.kind}:{job.object_id}"


def _count_start(job: ScheduledJob) -> int:
    """Count one more start of this job's handler (kept outside the transaction, so a start
    that never finishes still counts). Redis being unreachable counts as a first start."""
    from django.core.cache import caches

    cache = caches["platform"]
    key = _starts_key(job)
    try:
        cache.add(key, 0, STARTS_KEEP_SECONDS)
        return int(cache.incr(key))
    except Exception:  # Redis down: delivery goes on, unprotected against a poison job
        logger.warning("could not count starts of job %s %s", job.kind, job.object_id)
        return 1


def _forget_starts(job: ScheduledJob) -> None:
    from django.core.cache import caches

    try:
        caches["platform"].delete(_starts_key(job))
    except Exception:  # it expires by itself
        logger.debug("could not forget starts of job %s %s", job.kind, job.object_id)


def _failed(job: ScheduledJob, exc: Exception, *, task_name: str, final: bool = False) -> None:
    job.attempts += 1
    message = f"{type(exc).__name__}: {exc}"[:300]
    logger.warning(
        "job %s %s in %s failed (attempt %s): %s",
        job.kind,
        job.object_id,
        job.schema_name,
        job.attempts,
        message,
    )
    if final or job.attempts >= MAX_ATTEMPTS:
        from apps.core.models import FailedTask

        FailedTask.objects.create(
            task_name=task_name,
            job_kind=job.kind,
            object_id=job.object_id,
            attempts=job.attempts,
            error=message,
            traceback="".join(traceback.format_exception(exc))[-20_000:],
        )
        job.delete()
        return
    job.due_at = timezone.now() + backoff(job.attempts)
    job.last_error = message
    job.save(update_fields=["attempts", "due_at", "last_error"])


def due_work(*, now: datetime | None = None) -> list[tuple[str, str]]:
    """(schema, kind) pairs with at least one due job, across every organisation: one query
    on the `due_at` index."""
    moment = now or timezone.now()
    return list(
        ScheduledJob.objects.filter(due_at__lte=moment)
        .order_by()
        .values_list("schema_name", "kind")
        .distinct()
    )


def forget_schema(schema_name: str) -> int:
    """Drop every job of a deleted organisation."""
    return ScheduledJob.objects.filter(schema_name=schema_name).delete()[0]
