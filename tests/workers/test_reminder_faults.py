"""Reminders are delivered exactly once through real faults, with real processes: a worker
SIGKILLed in the middle of a delivery's transaction, two workers and repeated delivery tasks on
one organisation's queue, Redis stopped while reminders fall due (and coming back with its data
or empty), beat killed and restarted while reminders fall due.

"Exactly once" is checked as the person would see it, and below that: one reminder
notification per reminder, every reminder `sent`, no scheduled job left, and one committed
notification insert per reminder as recorded by the worker itself (tests/workers/
delivery_hold.py, which can also pause a delivery inside its transaction). Each test prints
how long delivery took after the fault (`pytest -s` shows it)."""

from __future__ import annotations

import os
import signal
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

import kombu.pools
import pytest
from django.db import transaction
from django.utils import timezone
from django_tenants.utils import schema_context

from apps.accounts.models import User
from apps.activities import services
from apps.activities.models import Reminder, ReminderStatus
from apps.activities.tasks import deliver_due_reminders
from apps.notifications.models import Notification
from tenants.models import ScheduledJob, Tenant
from tenants.queues import queue_name
from tests.workers import delivery_hold
from tests.workers.conftest import (
    CeleryBeat,
    CeleryWorker,
    Organisations,
    RedisServer,
    _reset_app_connections,
    group_members,
    probe_records,
    wait_until,
)

pytestmark = pytest.mark.worker

DISPATCHER = "tenants-dispatch-due-jobs"


# --- helpers ----------------------------------------------------------------------------


def _reminders_at(tenant: Tenant, moments: list[datetime]) -> list[int]:
    """One meeting per moment, starting then, reminded "at the time": through the product's
    service, committed. Returns the reminders' ids."""
    with schema_context(tenant.schema_name):
        owner = User.objects.get(email=f"owner@{tenant.slug}.test")
        ids = []
        for number, moment in enumerate(moments):
            meeting = services.activity_create(
                actor=owner,
                type="meeting",
                subject=f"Call {number} {uuid.uuid4().hex[:6]}",
                start_at=moment,
                reminders=[0],
            )
            reminder = meeting.reminders.get()
            assert reminder.status == ReminderStatus.PENDING
            ids.append(reminder.pk)
        return ids


def _due_now(tenant: Tenant, count: int) -> list[int]:
    return _reminders_at(tenant, [timezone.now()] * count)


def _reminder_id(dedupe_key: str) -> int:
    return int(dedupe_key.split(":")[1])  # "reminder:<id>:<moment>"


def _pending(tenant: Tenant, ids: list[int]) -> int:
    with schema_context(tenant.schema_name):
        return Reminder.objects.filter(pk__in=ids).exclude(status=ReminderStatus.SENT).count()


def _all_sent(tenant: Tenant, ids: list[int]) -> Callable[[], bool]:
    return lambda: _pending(tenant, ids) == 0


def _held_inside_transaction(tenant: Tenant, reminder_id: int) -> bool:
    """The reminder's job exists but another transaction holds it (a delivery is inside its
    transaction), and no notification of it is visible yet."""
    with schema_context(tenant.schema_name):
        jobs = ScheduledJob.objects.filter(
            schema_name=tenant.schema_name, kind="reminder", object_id=reminder_id
        )
        with transaction.atomic():
            free = jobs.select_for_update(skip_locked=True).exists()
        return (
            jobs.exists()
            and not free
            and not Notification.objects.filter(
                dedupe_key__startswith=f"reminder:{reminder_id}:"
            ).exists()
            and Reminder.objects.get(pk=reminder_id).status == ReminderStatus.PENDING
        )


def _records(redis_server: RedisServer, run: str, tenant: Tenant) -> list[dict[str, Any]]:
    return [
        r
        for r in probe_records(redis_server, run, 0, timeout=0)
        if r["schema"] == tenant.schema_name and r["key"].startswith("reminder:")
    ]


def assert_each_delivered_once(
    tenant: Tenant, ids: list[int], redis_server: RedisServer, recorded: list[int] | None = None
) -> list[dict[str, Any]]:
    """Every reminder sent, one notification each (and none for anything else), no job left,
    and one committed delivery each of `recorded` (default: all) as the workers recorded it
    (records kept in Redis are gone after a flush). Returns those records."""
    recorded = ids if recorded is None else recorded
    with schema_context(tenant.schema_name):
        statuses = dict(Reminder.objects.filter(pk__in=ids).values_list("pk", "status"))
        assert statuses == dict.fromkeys(ids, ReminderStatus.SENT)
        assert not Reminder.objects.filter(pk__in=ids, sent_at__isnull=True).exists()
        keys = Notification.objects.filter(kind="reminder").values_list("dedupe_key", flat=True)
        per_reminder = Counter(_reminder_id(k or "") for k in keys)
        assert per_reminder == Counter(ids), "a reminder lost or doubled in the inbox"
        assert not ScheduledJob.objects.filter(
            schema_name=tenant.schema_name, kind="reminder"
        ).exists()

    # The commits are recorded just after they happen: give the last one a moment.
    def mine() -> list[dict[str, Any]]:
        records = _records(redis_server, delivery_hold.COMMITS, tenant)
        return [r for r in records if _reminder_id(r["key"]) in recorded]

    wait_until(lambda: len(mine()) >= len(recorded), timeout=5)
    time.sleep(0.3)  # a doubled commit would show up now
    commits = mine()
    assert Counter(_reminder_id(r["key"]) for r in commits) == Counter(recorded)
    return commits


def _first_deliveries(redis_server: RedisServer, tenant: Tenant) -> list[dict[str, Any]]:
    """Wait until a worker has started a delivery in `tenant` (it is paused inside its
    transaction now); returns the deliveries started so far."""
    started: list[dict[str, Any]] = []

    def any_started() -> bool:
        started[:] = _records(redis_server, delivery_hold.INSERTS, tenant)
        return bool(started)

    wait_until(any_started, timeout=15)
    return started


def _lateness(tenant: Tenant, ids: list[int]) -> float:
    """The longest time from a reminder's moment to its delivery, in seconds."""
    with schema_context(tenant.schema_name):
        moments = Reminder.objects.filter(pk__in=ids).values_list("remind_at", "sent_at")
        return max((sent - at).total_seconds() for at, sent in moments if sent is not None)


def report(figure: str) -> None:
    print(f"\n[reminder faults] {figure}")


@pytest.fixture
def pause(redis_server: RedisServer) -> Iterator[Any]:
    """The switch of the pause inside deliveries (delivery_hold); off when the test ends."""
    client = redis_server.client()
    yield client
    if redis_server.running:
        delivery_hold.release(client)
    client.close()


@pytest.fixture
def redis_outage(redis_server: RedisServer, celery_client: Any) -> Iterator[RedisServer]:
    """For a test that stops Redis: running again when the test ends, whatever happened, and
    the test process's pooled broker connections (cut by the restart, and kept by kombu per
    broker URL for the whole process) dropped, so later tests start with fresh ones."""
    yield redis_server
    if not redis_server.running:
        redis_server.start()
    kombu.pools.reset()
    _reset_app_connections(celery_client)


# --- 1. a worker killed in the middle of a delivery -------------------------------------


def test_worker_killed_inside_a_delivery_then_restarted_delivers_each_reminder_once(
    celery_worker: CeleryWorker,
    redis_server: RedisServer,
    organisations: Organisations,
    start_beat: Callable[..., CeleryBeat],
    pause: Any,
) -> None:
    tenant = organisations.make("killed")
    ids = _due_now(tenant, 6)
    delivery_hold.hold(pause, 20)  # every delivery stops inside its transaction
    start_beat(DISPATCHER)

    inside = _first_deliveries(redis_server, tenant)
    held = _reminder_id(inside[0]["key"])
    assert _held_inside_transaction(tenant, held)

    assert celery_worker.process is not None
    group = celery_worker.process.pid
    celery_worker.kill()  # SIGKILL, the main process and both pool processes
    assert group_members(group) == []
    delivery_hold.release(pause)
    assert _pending(tenant, ids) == len(ids), "nothing was committed by the killed worker"

    restarted = time.monotonic()
    celery_worker.start()
    ready = time.monotonic() - restarted
    delay = wait_until(_all_sent(tenant, ids), timeout=15, interval=0.05)
    assert_each_delivered_once(tenant, ids, redis_server)
    report(
        f"worker SIGKILLed inside a delivery: restarted in {ready:.1f} s, all {len(ids)} "
        f"reminders delivered {delay:.1f} s after it was ready"
    )
    assert delay < 10


def test_pool_process_killed_inside_a_delivery_gives_the_task_back_and_it_runs_again(
    celery_worker: CeleryWorker,
    redis_server: RedisServer,
    organisations: Organisations,
    pause: Any,
) -> None:
    """No beat here: only the one delivery task we send. acks_late and
    reject_on_worker_lost put its message back when its pool process dies, and the worker's
    other process runs it."""
    tenant = organisations.make("poolkill")
    ids = _due_now(tenant, 4)
    queue = queue_name(tenant.schema_name, "reminders")
    wait_until(lambda: queue in celery_worker.active_queues(), timeout=10)
    delivery_hold.hold(pause, 20)
    with schema_context(tenant.schema_name):
        deliver_due_reminders.apply_async()

    inside = _first_deliveries(redis_server, tenant)
    assert _held_inside_transaction(tenant, _reminder_id(inside[0]["key"]))
    killed = time.monotonic()
    os.kill(inside[0]["pid"], signal.SIGKILL)
    delivery_hold.release(pause)

    delay = wait_until(_all_sent(tenant, ids), timeout=15, interval=0.05)
    commits = assert_each_delivered_once(tenant, ids, redis_server)
    assert celery_worker.running
    assert inside[0]["pid"] not in {r["pid"] for r in commits}
    report(
        f"pool process SIGKILLed inside a delivery: all {len(ids)} reminders delivered "
        f"{time.monotonic() - killed:.1f} s after the kill (redelivered task; {delay:.1f} s "
        "after the pause was lifted)"
    )


# --- 2. two workers, and the same delivery task many times ------------------------------


def test_two_workers_and_repeated_delivery_tasks_deliver_each_reminder_once(
    celery_worker: CeleryWorker,
    start_worker: Callable[..., CeleryWorker],
    redis_server: RedisServer,
    organisations: Organisations,
    pause: Any,
) -> None:
    tenant = organisations.make("twice")
    second = start_worker()
    queue = queue_name(tenant.schema_name, "reminders")
    wait_until(
        lambda: queue in celery_worker.active_queues() and queue in second.active_queues(),
        timeout=10,
    )
    ids = _due_now(tenant, 12)
    # Each delivery takes a quarter of a second inside its transaction, so the four pool
    # processes of the two workers really deliver at the same time.
    delivery_hold.hold(pause, 0.25)
    sent = time.monotonic()
    with schema_context(tenant.schema_name):
        repeated = str(uuid.uuid4())
        for _ in range(3):  # the very same task (one id) delivered three times
            deliver_due_reminders.apply_async(task_id=repeated)
        for _ in range(3):  # and three more sends of it
            deliver_due_reminders.apply_async()

    delay = wait_until(_all_sent(tenant, ids), timeout=15, interval=0.05)
    commits = assert_each_delivered_once(tenant, ids, redis_server)
    # Both workers, and more than one process, took part: the deliveries really competed.
    assert {r["node"] for r in commits} == {celery_worker.node, second.node}
    assert len({r["pid"] for r in commits}) >= 3
    report(
        f"two workers, six sends of the delivery task: {len(ids)} reminders delivered once "
        f"each by {len({r['pid'] for r in commits})} processes in {delay:.1f} s "
        f"({time.monotonic() - sent:.1f} s with the check)"
    )


# --- 3. Redis stopped while reminders fall due -------------------------------------------


@pytest.mark.parametrize("comes_back", ["with its data", "empty"])
def test_reminders_falling_due_while_redis_is_down_are_delivered_once_when_it_returns(
    comes_back: str,
    celery_worker: CeleryWorker,
    redis_server: RedisServer,
    organisations: Organisations,
    start_beat: Callable[..., CeleryBeat],
    redis_outage: RedisServer,
) -> None:
    """Redis comes back with its data (append-only file), or empty: FLUSHALL as soon as it
    answers again, as after a flush or with a Redis that keeps nothing on disk. Queued
    messages, unacknowledged ones and the dispatch markers are then gone."""
    tenant = organisations.make("outage")
    start_beat(DISPATCHER)
    before = _due_now(tenant, 1)  # the whole path works before the outage
    wait_until(_all_sent(tenant, before), timeout=15)

    stopped = time.monotonic()
    redis_server.stop()
    due_at = timezone.now() + timedelta(seconds=1)
    during = _reminders_at(tenant, [due_at] * 4)  # PostgreSQL is up: the writes succeed
    while timezone.now() < due_at + timedelta(seconds=1.5):
        time.sleep(0.1)
    assert _pending(tenant, during) == len(during)  # due, and nobody could deliver them

    redis_server.start()
    if comes_back == "empty":
        redis_server.client().flushall()
    returned = time.monotonic()
    delay = wait_until(_all_sent(tenant, during), timeout=20, interval=0.05)
    # (The record of the delivery before the outage went with a flush; the database has it.)
    assert_each_delivered_once(tenant, before + during, redis_server, recorded=during)
    report(
        f"Redis down {returned - stopped:.1f} s, back {comes_back}: "
        f"{len(during)} reminders that fell due meanwhile delivered {delay:.1f} s after it "
        f"answered again (at most {_lateness(tenant, during):.1f} s late)"
    )
    assert delay < 15


# --- 4. beat killed and restarted while reminders fall due ------------------------------


def test_beat_killed_and_restarted_while_reminders_fall_due_delivers_each_once(
    celery_worker: CeleryWorker,
    redis_server: RedisServer,
    organisations: Organisations,
    start_beat: Callable[..., CeleryBeat],
) -> None:
    tenant = organisations.make("beat")
    beat = start_beat(DISPATCHER)
    start = timezone.now()
    # One reminder falls due every half second for the next five seconds.
    ids = _reminders_at(tenant, [start + timedelta(seconds=0.5 * n) for n in range(1, 11)])
    down = []
    for _ in range(2):  # SIGKILL, start again (same schedule file); and at once once more
        killed = time.monotonic()
        beat.restart(kill=True)
        down.append(time.monotonic() - killed)
    # A rolling deploy: the new beat starts before the old one is gone (two dispatchers).
    newer = start_beat(DISPATCHER)
    beat.kill()
    delay = wait_until(_all_sent(tenant, ids), timeout=15, interval=0.05)
    assert_each_delivered_once(tenant, ids, redis_server)
    assert newer.running
    report(
        f"beat SIGKILLed and restarted twice (down {down[0]:.1f} s, then {down[1]:.1f} s), "
        f"then replaced: {len(ids)} reminders delivered once each, the last {delay:.1f} s "
        f"after the replacement, at most {_lateness(tenant, ids):.1f} s after its moment"
    )
    # Late by the time beat was down, and a few seconds more at worst.
    assert _lateness(tenant, ids) < sum(down) + 5
