"""Scheduled work kept in PostgreSQL (tenants/jobs.py): one job per object, in step with the
caller's transaction; delivery runs due jobs once, retries failures with backoff, records a
job that failed for good in its organisation, and skips a job another worker holds."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

import pytest
from django.db import connection as thread_connection
from django.db import transaction
from django.utils import timezone
from django_tenants.utils import schema_context

from apps.accounts.models import User
from apps.core.models import FailedTask
from tenants import jobs
from tenants.models import ScheduledJob, Tenant
from tests.factories import make_user

pytestmark = pytest.mark.django_db


def ago(seconds: float = 1) -> datetime:
    return timezone.now() - timedelta(seconds=seconds)


def job_rows(tenant: Tenant, kind: str = "email") -> list[tuple[int, int, str]]:
    return sorted(
        ScheduledJob.objects.filter(schema_name=tenant.schema_name, kind=kind).values_list(
            "object_id", "attempts", "last_error"
        )
    )


def test_rescheduling_an_object_moves_its_one_job_and_starts_its_attempts_afresh(
    tenant_a: Tenant,
) -> None:
    first, second = timezone.now() + timedelta(hours=1), timezone.now() + timedelta(hours=2)
    with schema_context(tenant_a.schema_name):
        jobs.schedule(kind="email", object_id=7, due_at=first)
        ScheduledJob.objects.filter(schema_name=tenant_a.schema_name).update(
            attempts=3, last_error="SMTPError: busy"
        )
        jobs.schedule(kind="email", object_id=7, due_at=second)

    job = ScheduledJob.objects.get(schema_name=tenant_a.schema_name, kind="email", object_id=7)
    assert (job.due_at, job.attempts, job.last_error) == (second, 0, "")


def test_jobs_belong_to_the_organisation_that_scheduled_them(
    tenant_a: Tenant, tenant_b: Tenant
) -> None:
    for tenant in (tenant_a, tenant_b):
        with schema_context(tenant.schema_name):
            jobs.schedule(kind="email", object_id=7, due_at=ago())
            jobs.schedule(kind="reminder", object_id=7, due_at=ago())
    with schema_context(tenant_a.schema_name):
        jobs.unschedule(kind="email", object_id=7)

    assert job_rows(tenant_a) == []
    assert job_rows(tenant_a, "reminder") == [(7, 0, "")]
    assert job_rows(tenant_b) == [(7, 0, "")]


def test_unschedule_many(tenant_a: Tenant) -> None:
    with schema_context(tenant_a.schema_name):
        for object_id in (1, 2, 3):
            jobs.schedule(kind="email", object_id=object_id, due_at=ago())
        jobs.unschedule_many(kind="email", object_ids=[1, 3])
        jobs.unschedule_many(kind="email", object_ids=[])
    assert job_rows(tenant_a) == [(2, 0, "")]


def test_a_rolled_back_write_leaves_no_job_behind(tenant_a: Tenant) -> None:
    with schema_context(tenant_a.schema_name), pytest.raises(RuntimeError), transaction.atomic():
        jobs.schedule(kind="email", object_id=9, due_at=ago())
        raise RuntimeError("the record's save failed")
    assert job_rows(tenant_a) == []


def test_delivery_runs_this_organisations_due_jobs_oldest_first_and_removes_them(
    tenant_a: Tenant, tenant_b: Tenant
) -> None:
    with schema_context(tenant_b.schema_name):
        jobs.schedule(kind="email", object_id=1, due_at=ago(300))
    with schema_context(tenant_a.schema_name):
        jobs.schedule(kind="email", object_id=2, due_at=ago(60))
        jobs.schedule(kind="email", object_id=1, due_at=ago(120))
        jobs.schedule(kind="email", object_id=3, due_at=timezone.now() + timedelta(minutes=5))
        jobs.schedule(kind="reminder", object_id=4, due_at=ago(60))
        ran: list[int] = []
        assert jobs.deliver_due(kind="email", handler=ran.append, task_name="t") == (2, False)

    assert ran == [1, 2]
    assert job_rows(tenant_a) == [(3, 0, "")]  # not due yet
    assert job_rows(tenant_a, "reminder") == [(4, 0, "")]  # another kind
    assert job_rows(tenant_b) == [(1, 0, "")]  # another organisation


def test_a_batch_hands_the_queue_back_and_says_work_remains(tenant_a: Tenant) -> None:
    with schema_context(tenant_a.schema_name):
        for object_id in (1, 2, 3):
            jobs.schedule(kind="email", object_id=object_id, due_at=ago(10 - object_id))
        ran: list[int] = []
        assert jobs.deliver_due(kind="email", handler=ran.append, task_name="t", limit=2) == (
            2,
            True,
        )
        assert jobs.deliver_due(kind="email", handler=ran.append, task_name="t", limit=2) == (
            1,
            False,
        )
    assert ran == [1, 2, 3]


def test_a_failing_job_is_retried_later_with_backoff_and_its_writes_are_undone(
    tenant_a: Tenant,
) -> None:
    def handler(object_id: int) -> None:
        make_user(email=f"half-done-{object_id}@alpha.test")
        raise ConnectionRefusedError("smtp.example.test refused the connection")

    with schema_context(tenant_a.schema_name):
        jobs.schedule(kind="email", object_id=5, due_at=ago())
        for attempt, wait in ((1, 30), (2, 60), (3, 120)):
            before = timezone.now()
            assert jobs.deliver_due(kind="email", handler=handler, task_name="t") == (1, False)
            job = ScheduledJob.objects.get(schema_name=tenant_a.schema_name, object_id=5)
            assert job.attempts == attempt
            assert job.last_error == (
                "ConnectionRefusedError: smtp.example.test refused the connection"
            )
            assert before + timedelta(seconds=wait) <= job.due_at
            assert job.due_at <= timezone.now() + timedelta(seconds=wait)
            # Not due again until then: a delivery now leaves it alone.
            assert jobs.deliver_due(kind="email", handler=handler, task_name="t") == (0, False)
            ScheduledJob.objects.filter(pk=job.pk).update(due_at=ago())
        assert not User.objects.filter(email__startswith="half-done-").exists()
        assert not FailedTask.objects.exists()


def test_backoff_doubles_up_to_two_hours() -> None:
    assert [jobs.backoff(n).total_seconds() for n in range(1, 6)] == [30, 60, 120, 240, 480]
    assert jobs.backoff(9) == jobs.backoff(30) == timedelta(hours=2)


def test_after_the_last_attempt_the_failure_is_recorded_in_the_organisation(
    tenant_a: Tenant, tenant_b: Tenant
) -> None:
    def handler(object_id: int) -> None:
        raise ValueError(f"notification {object_id} has no recipient")

    platforms_own = FailedTask.objects.count()  # public schema
    with schema_context(tenant_a.schema_name):
        jobs.schedule(kind="email", object_id=11, due_at=ago())
        ScheduledJob.objects.filter(schema_name=tenant_a.schema_name).update(
            attempts=jobs.MAX_ATTEMPTS - 1
        )
        assert jobs.deliver_due(kind="email", handler=handler, task_name="emails.deliver") == (
            1,
            False,
        )
        failed = list(FailedTask.objects.all())

    assert job_rows(tenant_a) == []  # dropped, not retried for ever
    assert [(f.task_name, f.job_kind, f.object_id, f.attempts, f.error) for f in failed] == [
        (
            "emails.deliver",
            "email",
            11,
            jobs.MAX_ATTEMPTS,
            "ValueError: notification 11 has no recipient",
        )
    ]
    assert "Traceback (most recent call last)" in failed[0].traceback
    with schema_context(tenant_b.schema_name):
        assert not FailedTask.objects.exists()
    assert FailedTask.objects.count() == platforms_own  # nor among the platform's own


def test_due_work_names_each_organisation_and_kind_with_due_jobs_once(
    tenant_a: Tenant, tenant_b: Tenant
) -> None:
    with schema_context(tenant_a.schema_name):
        jobs.schedule(kind="email", object_id=1, due_at=ago())
        jobs.schedule(kind="email", object_id=2, due_at=ago())
        jobs.schedule(kind="reminder", object_id=1, due_at=timezone.now() + timedelta(hours=1))
    with schema_context(tenant_b.schema_name):
        jobs.schedule(kind="reminder", object_id=1, due_at=ago())

    mine = {tenant_a.schema_name, tenant_b.schema_name}
    due = [pair for pair in jobs.due_work() if pair[0] in mine]
    assert sorted(due) == sorted(
        [(tenant_a.schema_name, "email"), (tenant_b.schema_name, "reminder")]
    )
    later = jobs.due_work(now=timezone.now() + timedelta(hours=2))
    assert (tenant_a.schema_name, "reminder") in later


def test_forgetting_a_deleted_organisation_drops_its_jobs_only(
    tenant_a: Tenant, tenant_b: Tenant
) -> None:
    for tenant in (tenant_a, tenant_b):
        with schema_context(tenant.schema_name):
            jobs.schedule(kind="email", object_id=1, due_at=ago())
            jobs.schedule(kind="reminder", object_id=2, due_at=ago())
    assert jobs.forget_schema(tenant_a.schema_name) == 2
    assert not ScheduledJob.objects.filter(schema_name=tenant_a.schema_name).exists()
    assert job_rows(tenant_b) == [(1, 0, "")]


def test_a_job_another_worker_holds_is_skipped_not_waited_for(tenant_a: Tenant) -> None:
    """A second connection (another worker, in a thread) commits a due job and holds its row
    lock; this connection's delivery skips it (SKIP LOCKED) and delivers the next one. Were it
    to wait for the lock instead, the other side gives up after a few seconds and this test
    fails on the job having been run."""
    locked, finished = threading.Event(), threading.Event()
    errors: list[BaseException] = []
    held: list[int] = []

    def other_worker() -> None:
        try:
            job = ScheduledJob.objects.create(
                schema_name=tenant_a.schema_name, kind="email", object_id=901, due_at=ago(60)
            )
            held.append(job.pk)
            with transaction.atomic():
                ScheduledJob.objects.select_for_update().get(pk=job.pk)
                locked.set()
                finished.wait(timeout=5)
        except BaseException as exc:  # reported by the test
            errors.append(exc)
        finally:
            locked.set()
            ScheduledJob.objects.filter(pk__in=held).delete()
            thread_connection.close()

    thread = threading.Thread(target=other_worker)
    thread.start()
    try:
        assert locked.wait(timeout=10)
        with schema_context(tenant_a.schema_name):
            jobs.schedule(kind="email", object_id=902, due_at=ago(1))
            ran: list[int] = []
            assert jobs.deliver_due(kind="email", handler=ran.append, task_name="t") == (1, False)
        assert ran == [902]
        # The held job is still there, untouched, for whoever holds it.
        assert job_rows(tenant_a) == [(901, 0, "")]
    finally:
        finished.set()
        thread.join(timeout=10)
    assert errors == []


def test_a_batch_also_stops_after_its_time_budget(
    tenant_a: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    with schema_context(tenant_a.schema_name):
        jobs.schedule(kind="email", object_id=7, due_at=ago())
        ran: list[int] = []
        monkeypatch.setattr(jobs, "BATCH_SECONDS", 0)
        assert jobs.deliver_due(kind="email", handler=ran.append, task_name="t") == (0, True)
        monkeypatch.setattr(jobs, "BATCH_SECONDS", 60)
        assert jobs.deliver_due(kind="email", handler=ran.append, task_name="t") == (1, False)
    assert ran == [7]


def test_a_job_whose_handler_keeps_dying_is_dropped_and_recorded(tenant_a: Tenant) -> None:
    """A handler killed mid-run (say by the hard time limit) rolls back and never counts a
    failed attempt; its starts are counted apart, so it cannot hold the queue forever."""
    from django.core.cache import caches

    with schema_context(tenant_a.schema_name):
        jobs.schedule(kind="email", object_id=99, due_at=ago())
        job = ScheduledJob.objects.get(schema_name=tenant_a.schema_name, object_id=99)
        # Five starts that never finished (each killed before its transaction committed).
        caches["platform"].set(jobs._starts_key(job), jobs.MAX_STARTS, 60)
        ran: list[int] = []
        assert jobs.deliver_due(kind="email", handler=ran.append, task_name="mail") == (1, False)
        assert ran == []
        assert job_rows(tenant_a) == []
        failure = FailedTask.objects.get(job_kind="email", object_id=99)
        assert "started 5 times and never finished" in failure.error
        assert failure.task_name == "mail"

        # A job that finishes forgets its starts: the next one begins from one.
        jobs.schedule(kind="email", object_id=100, due_at=ago())
        job = ScheduledJob.objects.get(schema_name=tenant_a.schema_name, object_id=100)
        caches["platform"].set(jobs._starts_key(job), 2, 60)
        assert jobs.deliver_due(kind="email", handler=ran.append, task_name="mail") == (1, False)
        assert ran == [100]
        assert caches["platform"].get(jobs._starts_key(job)) is None
