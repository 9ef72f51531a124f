"""An import whose worker is SIGKILLed in the middle of its run, with real processes: the
organisation is left without a single imported row (the run's one transaction died with
its connection), and once a new worker runs it again the file's rows are all there, once.

Which path runs it again (found out here, and asserted):

- Late acknowledgement keeps the message: after the kill it sits in Redis's `unacked` hash.
  But Redis hands it out again only when the visibility timeout has passed (900 s,
  config/settings/celery.py), so a new worker does not get it within any reasonable wait.
- `services.resume_if_stale` (called whenever the import's status is read, on its page and
  through the API) queues the run again once the progress it reports has been silent for
  STALE_SECONDS (120 s; shortened to 1 s here, in the test process only). This is the path
  that finishes the import in practice: the new worker takes the lock the dead session
  held, starts again from the first row and commits every row once.
- When the visibility timeout does pass, the original message comes back (the test hands it
  back by its delivery tag, as kombu's restore does after 900 s). Run second, it finds the
  import done and changes nothing; run first (nobody polled the import's status), it is
  the run that imports the file, from the first row, once: this path works too, only 15
  minutes late.

`pytest -s` shows how long each step took."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django_tenants.utils import schema_context

from apps.accounts.models import User
from apps.companies.models import Company
from apps.contacts.models import Contact, ContactEmail
from apps.imports import services
from apps.imports.models import ImportJob, Status
from config.settings.base import redis_caches
from tenants.db import connection
from tenants.models import Tenant
from tenants.queues import queue_name
from tests.workers.conftest import (
    CeleryWorker,
    Organisations,
    RedisServer,
    group_members,
    wait_until,
)

pytestmark = pytest.mark.worker

ROWS = 20_000  # four chunks of the engine (CHUNK = 5000): the kill comes after the first
TASK = "imports.tasks.run_import"


def people() -> bytes:
    """A contacts file that takes a worker a few seconds: every row valid and new."""
    lines = ["First name,Last name,Email,Phone,Company,Tags"]
    lines += [
        f"Person{i},Surname{i % 997},person{i}@example.com,+1 415 555 {i % 10_000:04d},"
        f"Company {i % 50},batch{i % 7}"
        for i in range(ROWS)
    ]
    return ("\n".join(lines) + "\n").encode()


def report(figure: str) -> None:
    print(f"\n[import worker death] {figure}")


def unacked_runs(redis_server: RedisServer, tenant: Tenant, job_id: int) -> dict[str, str]:
    """Delivery tag -> task id of the job's run messages taken by a worker and not yet
    acknowledged (kombu keeps them in the `unacked` hash until the task ends)."""
    client = redis_server.client()
    try:
        found: dict[str, str] = {}
        queue = queue_name(tenant.schema_name, "reports")
        for tag, raw in client.hgetall("unacked").items():
            message, _exchange, routing_key = json.loads(raw)
            headers = message["headers"]
            if (
                routing_key == queue
                and headers.get("task") == TASK
                and headers.get("argsrepr") == f"({job_id}, False)"
            ):
                found[str(tag)] = str(headers["id"])
        return found
    finally:
        client.close()


def hand_back(app: Any, tag: str) -> None:
    """Put an unacknowledged message back on its queue, as kombu's Redis transport does
    for every such message once the visibility timeout has passed."""
    with app.connection_for_write(transport_options=app.conf.broker_transport_options) as conn:
        conn.default_channel.qos.restore_by_tag(tag)


def advisory_locks() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database "
            "WHERE l.locktype = 'advisory' AND d.datname = current_database()"
        )
        (count,) = cursor.fetchone()
    return int(count)


def assert_imported_once(job: ImportJob) -> None:
    assert (job.status, job.message) == (Status.DONE, "")
    assert (job.rows_total, job.created, job.updated, job.errors) == (ROWS, ROWS, 0, 0)
    assert Contact.all_objects.count() == ROWS
    assert ContactEmail.objects.count() == ROWS
    assert ContactEmail.objects.values("email").distinct().count() == ROWS
    assert Company.all_objects.count() == 50


@pytest.mark.parametrize("path", ["resume_if_stale", "redelivery after the visibility timeout"])
def test_a_worker_killed_during_an_import_leaves_nothing_and_a_new_worker_imports_it_once(
    path: str,
    celery_worker: CeleryWorker,
    celery_client: Any,
    redis_server: RedisServer,
    organisations: Organisations,
    settings: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tenant = organisations.make("import")
    queue = queue_name(tenant.schema_name, "reports")
    wait_until(lambda: queue in celery_worker.active_queues(), timeout=10)
    # The progress the worker reports goes to its cache, the private Redis: read it there.
    settings.CACHES = redis_caches(redis_server.url)
    media = Path(settings.MEDIA_ROOT) / tenant.schema_name  # the worker reads the file here
    try:
        with schema_context(tenant.schema_name):
            owner = User.objects.get(email=f"owner@{tenant.slug}.test")
            upload = SimpleUploadedFile("people.csv", people(), "text/csv")
            job = services.import_create(actor=owner, entity="contact", upload=upload)
            assert (job.rows_total, job.mode, job.match_on) == (ROWS, "upsert", "email")
            services.import_start(actor=owner, job=job)  # queued as the request commits

            def importing() -> bool:
                job.refresh_from_db()
                return job.status == Status.RUNNING and services.progress(job)["done"] > 0

            def finished() -> bool:
                job.refresh_from_db()
                return job.is_finished

            started = time.monotonic()
            wait_until(importing, timeout=60, interval=0.02)
            done = services.progress(job)["done"]
            assert celery_worker.process is not None
            group = celery_worker.process.pid
            celery_worker.kill()  # SIGKILL: the main process and its pool processes
            assert group_members(group) == []
            report(f"killed {time.monotonic() - started:.1f} s after the start, {done:,} rows done")

            # Nothing of the run is in the database: its transaction died with it.
            job.refresh_from_db()
            assert job.status == Status.RUNNING and job.created == 0
            assert Contact.all_objects.count() == 0
            assert ContactEmail.objects.count() == 0
            assert Company.all_objects.count() == 0
            # The message was acknowledged late, so it is not lost: it waits in Redis, to be
            # handed out again when the visibility timeout has passed.
            [(tag, task_id)] = unacked_runs(redis_server, tenant, job.pk).items()
            assert celery_client.conf.broker_transport_options["visibility_timeout"] == 900

            restarted = time.monotonic()
            celery_worker.start()  # a new worker process
            wait_until(lambda: queue in celery_worker.active_queues(), timeout=10)
            # The dead worker's session ends as PostgreSQL sees its connection close; its
            # lock on the import goes with it.
            wait_until(lambda: advisory_locks() == 0, timeout=10)
            original = f"Task {TASK}[{task_id}] succeeded"

            if path == "resume_if_stale":
                monkeypatch.setattr(services, "STALE_SECONDS", 1)
                wait_until(lambda: services.progress(job)["stale"], timeout=10)
                assert services.resume_if_stale(ImportJob.objects.get(pk=job.pk))
                resumed = time.monotonic()
                wait_until(finished, timeout=120, interval=0.1)
                assert original not in celery_worker.log_since_start()  # a message of its own
                assert_imported_once(job)
                report(
                    f"re-queued by resume_if_stale {resumed - restarted:.1f} s after a new "
                    f"worker was started; all {ROWS:,} rows committed "
                    f"{time.monotonic() - resumed:.1f} s later"
                )
                # Later the visibility timeout passes: the original message comes back, runs
                # again and finds the import done.
                finished_at = job.finished_at
                hand_back(celery_client, tag)
                wait_until(lambda: original in celery_worker.log_since_start(), timeout=30)
                job.refresh_from_db()
                assert job.finished_at == finished_at
                assert_imported_once(job)
            else:
                hand_back(celery_client, tag)
                handed = time.monotonic()
                wait_until(finished, timeout=120, interval=0.1)
                wait_until(lambda: original in celery_worker.log_since_start(), timeout=30)
                assert_imported_once(job)
                report(
                    f"original message handed back {handed - restarted:.1f} s after a new worker "
                    f"was started; all {ROWS:,} rows committed {time.monotonic() - handed:.1f} s "
                    "later"
                )
            assert not unacked_runs(redis_server, tenant, job.pk)
    finally:
        shutil.rmtree(media, ignore_errors=True)
