"""The import run, on the organisation's reports queue. A session advisory lock per import
keeps a redelivered message (late acks, a worker killed, the visibility timeout passing on
a long run) from running the same import twice at once; a killed worker's transaction rolls
back and the redelivered message runs the import again from the start."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from tenants.db import connection
from tenants.queues import tenant_task
from tenants.tasks import deliver_jobs

from . import services
from .models import ImportJob

# A million rows take about a minute; the limits leave room for much larger files on
# slower machines without letting a stuck run hold a worker forever.
SOFT_LIMIT = 3600
HARD_LIMIT = 3700


# A run cut off by a lost database connection (services.run) wrote nothing: it is run again
# after 1, 2 and 4 s; past that the import's watch sends it again once it is stale.
RETRY_ON = services.CONNECTION_LOST


@tenant_task(
    "reports",
    name="imports.tasks.run_import",
    soft_time_limit=SOFT_LIMIT,
    time_limit=HARD_LIMIT,
    autoretry_for=RETRY_ON,
    max_retries=3,
    retry_backoff=1,
    retry_jitter=False,
)
def run_import(job_id: int, dry_run: bool) -> None:
    key = f"importjob:{connection.schema_name}:{job_id}"
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(hashtext(%s))", [key])
        (locked,) = cursor.fetchone()
    if not locked:
        return  # the same import is running on another worker
    try:
        job = ImportJob.objects.filter(pk=job_id).first()
        if job is not None:
            services.run(job, dry_run=dry_run)
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(hashtext(%s))", [key])


WATCH_KIND = "import_watch"
WATCH_TASK = "imports.tasks.watch_imports"


def watch(job_id: int) -> dt.datetime | None:
    """A queued or running import is looked at every STALE_SECONDS until it ends: one whose
    worker vanished (its message lost, or a worker killed with the message not yet handed
    back by Redis) is sent again, without anyone having to open its page."""
    job = ImportJob.objects.filter(pk=job_id).first()
    if job is None or not job.is_active:
        return None
    services.resume_if_stale(job)
    job.refresh_from_db()
    if not job.is_active:
        return None
    return timezone.now() + dt.timedelta(seconds=services.STALE_SECONDS)


@tenant_task("reports", name=WATCH_TASK)
def watch_imports() -> int:
    """Look at this organisation's imports whose watch is due (sent by the dispatcher)."""
    return deliver_jobs(WATCH_KIND, watch, WATCH_TASK)
