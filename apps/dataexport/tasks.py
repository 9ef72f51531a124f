"""Building a data export on the organisation's reports queue. A session advisory lock per
export keeps a redelivered message (a worker killed, the visibility timeout passing on a
long run) from building the same export twice at once; a run that died is built again from
the start by the redelivered message."""

from __future__ import annotations

from tenants.db import connection
from tenants.queues import tenant_task

from . import services

# The export of a large organisation takes minutes; the limits leave room for much more
# without letting a stuck run hold a worker forever.
SOFT_LIMIT = 3600
HARD_LIMIT = 3700


@tenant_task(
    "reports",
    name="dataexport.tasks.build_export",
    soft_time_limit=SOFT_LIMIT,
    time_limit=HARD_LIMIT,
)
def build_export(export_id: int) -> None:
    key = f"dataexport:{connection.schema_name}:{export_id}"
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(hashtext(%s))", [key])
        (locked,) = cursor.fetchone()
    if not locked:
        return  # the same export is being built on another worker
    try:
        services.run(export_id)
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(hashtext(%s))", [key])
