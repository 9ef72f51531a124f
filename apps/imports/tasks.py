"""The import run, on the organisation's reports queue. A session advisory lock per import
keeps a redelivered message (late acks, a worker killed, the visibility timeout passing on
a long run) from running the same import twice at once; a killed worker's transaction rolls
back and the redelivered message runs the import again from the start."""

from __future__ import annotations

from tenants.db import connection
from tenants.queues import tenant_task

from . import services
from .models import ImportJob

# A million rows take about a minute; the limits leave room for much larger files on
# slower machines without letting a stuck run hold a worker forever.
SOFT_LIMIT = 3600
HARD_LIMIT = 3700


@tenant_task(
    "reports", name="imports.tasks.run_import", soft_time_limit=SOFT_LIMIT, time_limit=HARD_LIMIT
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
