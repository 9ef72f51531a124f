"""Reminders on time across many organisations, and one organisation's flood of work not
delaying another's reminders: real Celery worker and beat, real Redis and PostgreSQL.

    .venv/bin/python bench/reminders.py [--orgs 50] [--meetings 40] [--window 60]
                                        [--flood 10000] [--quiet 20] [--cap 240] [--keep]

Every measurement runs the product's own processes, as `make dev` starts them: a Celery
worker (prefork, concurrency 2, `-Q default --tenant-queues reminders,reports`) and beat
(whose dispatcher, `tenants.tasks.dispatch_due_jobs`, runs every second and sends each
organisation with due work one delivery task on its own reminders queue). Lateness of a
reminder is `Notification.created_at - Reminder.remind_at`: the moment its notification row
was written (inside the delivery transaction) minus the moment it fell due.

1. On time with many organisations. `--orgs` organisations, each with `--meetings`
   meetings made through `activity_create(..., reminders=[0])`, whose reminders fall due at
   random moments (seed 7) over `--window` seconds, starting once every meeting is saved.
   Baseline, in the same run, on a second set of meetings made the same way: what a typical
   CRM does, a cron every 60 s (on the minute) that scans every organisation's schema for
   due pending reminders and delivers each with the same code (`reminder_deliver`, then that
   schema's due emails), run as a real process of its own while no worker or beat runs.
2. Fairness under a flood. Organisation A sends `--flood` `pipeline_snapshot` tasks from
   its schema (routed to its own reports queue); right after, organisation B saves `--quiet`
   meetings whose reminders fall due 5 to 15 s later, while the worker is still working
   through A's tasks. Baseline: the same with every organisation's task in ONE queue
   (`bench/reminders_one_queue.py`: worker `-Q default,shared --tenant-queues none`; A's
   tasks sent with `queue="shared"`), where B's reminders wait behind A's backlog. Each run
   ends when B's reminders are all delivered (A's remaining tasks are then dropped), or
   `--cap` seconds after the flood began: a reminder not delivered by then counts as "> N s".

The organisations (named `bench-rem-<run>-...`) are deleted at the end with their schemas,
scheduled jobs, queues and Redis keys, and so are the processes' logs (a temporary folder,
printed at the start); `--keep` keeps both. Results: a markdown table on stdout and
bench/results/reminders.json.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.development")
# The worker, beat and cron processes must reach the same servers as this one: resolve the
# embedded development servers here (as deploy/dev.py does) when no URLs are given.
if not os.environ.get("DATABASE_URL") or not os.environ.get("REDIS_URL"):
    from deploy import devservices

    if not os.environ.get("DATABASE_URL"):
        os.environ["DATABASE_URL"] = devservices.ensure_postgres()
    if not os.environ.get("REDIS_URL"):
        os.environ["REDIS_URL"] = devservices.ensure_redis()

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402

# Organisations made and deleted by a benchmark need no final backup.
settings.KESTREL_BACKUP_ON_DELETE = False

import redis  # noqa: E402
from django.core.cache import cache  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import close_old_connections, transaction  # noqa: E402
from django_tenants.utils import schema_context  # noqa: E402

from apps.accounts.models import User  # noqa: E402
from apps.activities.models import Reminder, ReminderStatus  # noqa: E402
from apps.activities.reminders import JOB_KIND, reminder_deliver  # noqa: E402
from apps.activities.services import activity_create  # noqa: E402
from apps.core.models import FailedTask  # noqa: E402
from apps.deals.services import deal_create, pipeline_default  # noqa: E402
from apps.deals.tasks import SNAPSHOT_KEY, pipeline_snapshot  # noqa: E402
from apps.notifications.models import Notification  # noqa: E402
from apps.notifications.tasks import TASK_NAME as EMAIL_TASK  # noqa: E402
from apps.notifications.tasks import email_deliver  # noqa: E402
from config.celery_app import app  # noqa: E402
from tenants import jobs, provisioning, services  # noqa: E402
from tenants.models import ScheduledJob, Tenant  # noqa: E402
from tenants.queues import active_schemas, queue_name  # noqa: E402
from tenants.validators import schema_name_for_slug  # noqa: E402

PREFIX = "bench-rem-"
PY = sys.executable
SHARED_QUEUE = "shared"
ONE_QUEUE_SETTINGS = "bench.reminders_one_queue"
# Seconds between the last meeting saved and the first reminder falling due.
LEAD = 5.0
TARGET_P99 = 5.0


def now() -> float:
    return time.time()


def moment(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, tz=UTC)


def log(message: str) -> None:
    print(f"[{datetime.now():%H:%M:%S}] {message}", file=sys.stderr, flush=True)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def code_state() -> str:
    """The commit measured, and how many application files differed from it."""
    git = ["git", "-C", str(ROOT)]
    head = subprocess.run(  # noqa: S603 - our own fixed git commands
        [*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    )
    changed = subprocess.run(  # noqa: S603
        [*git, "status", "--porcelain", "--", "apps", "config", "tenants", "templates"],
        capture_output=True,
        text=True,
    )
    state = head.stdout.strip() or "unknown commit"
    files = len(changed.stdout.splitlines())
    return f"{state} with {files} uncommitted application files" if files else state


# --- processes ------------------------------------------------------------------------------


class Processes:
    """The worker, beat and cron processes this run starts (and only those are stopped)."""

    def __init__(self, logdir: Path) -> None:
        self.logdir = logdir
        self.running: dict[str, tuple[subprocess.Popen[bytes], Path]] = {}
        self.count = 0

    def start(self, name: str, argv: list[str], settings_module: str | None = None) -> Path:
        self.count += 1
        path = self.logdir / f"{self.count:02d}-{name}.log"
        env = dict(os.environ)
        env["PYTHONUNBUFFERED"] = "1"
        if settings_module:
            env["DJANGO_SETTINGS_MODULE"] = settings_module
        with path.open("wb") as out:
            process = subprocess.Popen(  # noqa: S603 - our own fixed commands
                argv,
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.running[name] = (process, path)
        return path

    def wait_for(self, name: str, texts: list[str], timeout: float = 90) -> None:
        process, path = self.running[name]
        deadline = now() + timeout
        while now() < deadline:
            if process.poll() is not None:
                raise SystemExit(f"{name} exited with {process.returncode}; see {path}")
            content = path.read_text(errors="replace")
            if all(text in content for text in texts):
                return
            time.sleep(0.2)
        raise SystemExit(
            f"{name} not ready after {timeout:.0f} s (waiting for {texts}); see {path}"
        )

    def check(self) -> None:
        for name, (process, path) in self.running.items():
            if process.poll() is not None:
                raise SystemExit(f"{name} exited with {process.returncode}; see {path}")

    def stop(self, name: str, timeout: float = 30) -> None:
        entry = self.running.pop(name, None)
        if entry is None:
            return
        process = entry[0]
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()

    def stop_all(self) -> None:
        for name in reversed(list(self.running)):  # beat before the worker it feeds
            self.stop(name)


def worker_argv(run: str, queues: str, tenant_queues: str) -> list[str]:
    return [
        PY, "-m", "celery", "-A", "config.celery_app", "worker", "-l", "info",
        "-P", "prefork", "--concurrency", "2", "-Q", queues, "--tenant-queues", tenant_queues,
        "-n", f"bench-rem-{run}@%h",
    ]  # fmt: skip


def beat_argv(schedule: Path) -> list[str]:
    return [
        PY, "-m", "celery", "-A", "config.celery_app", "beat", "-l", "info",
        "--schedule", str(schedule),
    ]  # fmt: skip


def start_product(procs: Processes, run: str, logdir: Path, tag: str, organisations: int) -> None:
    """The product's worker and beat, as `make dev` runs them."""
    procs.start("worker", worker_argv(run, "default", "reminders,reports"))
    procs.start("beat", beat_argv(logdir / f"beat-{tag}"))
    procs.wait_for("worker", ["ready.", f"consuming {2 * organisations} organisation queues"])
    procs.wait_for("beat", ["beat: Starting..."])


def start_one_queue(procs: Processes, run: str, logdir: Path, tag: str) -> None:
    """The baseline: every organisation's task in one queue."""
    procs.start("worker", worker_argv(run, f"default,{SHARED_QUEUE}", "none"), ONE_QUEUE_SETTINGS)
    procs.start("beat", beat_argv(logdir / f"beat-{tag}"), ONE_QUEUE_SETTINGS)
    procs.wait_for("worker", ["ready."])
    procs.wait_for("beat", ["beat: Starting..."])


def stop_product(procs: Processes) -> None:
    procs.stop("beat")
    procs.stop("worker")


# --- CPU ------------------------------------------------------------------------------------

CLOCK = os.sysconf("SC_CLK_TCK")


def machine_cpu() -> tuple[float, float]:
    """(busy, elapsed) CPU seconds of the whole machine since boot, all cores (/proc/stat)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n")[0].split()[1:9]]
    return (sum(fields) - fields[3] - fields[4]) / CLOCK, sum(fields) / CLOCK


def process_cpu(pgids: set[int], pids: set[int]) -> dict[int, float]:
    """CPU seconds so far of every process in the process groups `pgids` or in `pids`."""
    found: dict[int, float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        rest = stat[stat.rindex(")") + 2 :].split()  # state ppid pgrp ... utime(11) stime(12)
        pid = int(entry.name)
        if int(rest[2]) in pgids or pid in pids:
            found[pid] = (int(rest[11]) + int(rest[12])) / CLOCK
    return found


def database_backends() -> set[int]:
    """This database's PostgreSQL server processes (when PostgreSQL runs on this machine)."""
    from django.db import connection as db

    with db.cursor() as cursor:
        cursor.execute("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")
        return {row[0] for row in cursor.fetchall()}


class Meter:
    """How busy the machine's CPUs were during a phase, and the CPU time /proc charges to this
    run's own processes (the bench, its worker, beat or cron, and PostgreSQL's processes
    serving its database). Kernel work charged to no process (on this virtual machine, much
    of the system time under load) and other people's work make up the difference."""

    def __init__(self, procs: Processes) -> None:
        self.procs = procs
        self.busy0, self.total0 = machine_cpu()
        self.load0 = os.getloadavg()[0]
        self.ours0 = self._ours()

    def _ours(self) -> dict[int, float]:
        pgids = {process.pid for process, _ in self.procs.running.values()}
        return process_cpu(pgids, {os.getpid(), *database_backends()})

    def stop(self) -> dict[str, Any]:
        busy, total = machine_cpu()
        ours = self._ours()
        spent = sum(cpu - self.ours0.get(pid, 0.0) for pid, cpu in ours.items())
        elapsed = (total - self.total0) or 1.0
        return {
            "machine_busy": (busy - self.busy0) / elapsed,
            "this_run": spent / elapsed,
            "cores": float(os.cpu_count() or 1),
            "load_average": [self.load0, os.getloadavg()[0]],
        }


# --- the baseline cron ----------------------------------------------------------------------


def cron() -> int:
    """The baseline: once a minute (on the minute, like `* * * * *`), scan every
    organisation's schema for due pending reminders and deliver each with the product's own
    code, then that schema's due notification emails. Runs until terminated."""
    stop = False

    def terminate(*_: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, terminate)
    print("cron: started", flush=True)
    while not stop:
        wake = (int(now()) // 60 + 1) * 60
        while not stop and now() < wake:
            time.sleep(min(0.2, max(0.0, wake - now())))
        if stop:
            break
        started = now()
        reminders = emails = 0
        close_old_connections()
        for schema in active_schemas():
            with schema_context(schema):
                due = list(
                    Reminder.objects.filter(
                        status=ReminderStatus.PENDING, remind_at__lte=moment(now())
                    )
                    .order_by("remind_at")
                    .values_list("pk", flat=True)
                )
                for pk in due:
                    with transaction.atomic():
                        reminder_deliver(pk)
                        jobs.unschedule(kind=JOB_KIND, object_id=pk)
                reminders += len(due)
                sent, _ = jobs.deliver_due(
                    kind="email", handler=email_deliver, task_name=EMAIL_TASK, limit=10**9
                )
                emails += sent
        print(
            f"cron: pass at {moment(started):%H:%M:%S} delivered {reminders} reminders and "
            f"{emails} emails in {now() - started:.2f} s",
            flush=True,
        )
    return 0


# --- data -----------------------------------------------------------------------------------


@dataclass
class Org:
    slug: str
    schema: str
    owner_pk: int


@dataclass
class ReminderSet:
    name: str
    # schema -> reminder ids
    reminders: dict[str, list[int]] = field(default_factory=dict)
    first_due: float = 0.0
    last_due: float = 0.0
    saved_at: float = 0.0

    @property
    def count(self) -> int:
        return sum(len(ids) for ids in self.reminders.values())


def provision(run: str, count: int) -> tuple[list[Org], Org, Org]:
    def make(slug: str) -> Org:
        made = provisioning.tenant_provision(
            slug=slug, name=slug, owner_email=f"owner@{slug}.test", use_pool=False
        )
        return Org(slug, made.tenant.schema_name, made.owner.pk)

    orgs = [make(f"{PREFIX}{run}-{i:03d}") for i in range(count)]
    return orgs, make(f"{PREFIX}{run}-flood"), make(f"{PREFIX}{run}-quiet")


def give_deals(org: Org, count: int) -> None:
    """A's pipeline, so that its snapshot task aggregates something: `count` open deals over
    the default pipeline's open stages."""
    with schema_context(org.schema):
        owner = User.objects.get(pk=org.owner_pk)
        stages = list(pipeline_default().stages.filter(kind="open").order_by("order"))
        for i in range(count):
            deal_create(
                actor=owner,
                title=f"Deal {i}",
                value=500 + 37 * i,
                stage=stages[i % len(stages)].pk,
            )


def make_meetings(org: Org, due: list[float], label: str) -> list[int]:
    """Meetings starting at the `due` moments, each with one reminder at its start."""
    ids: list[int] = []
    with schema_context(org.schema):
        owner = User.objects.get(pk=org.owner_pk)
        for i, at in enumerate(due):
            activity = activity_create(
                actor=owner,
                type="meeting",
                subject=f"{label} meeting {i + 1}",
                start_at=moment(at),
                end_at=moment(at + 1800),
                location="Zoom",
                reminders=[0],
            )
            ids.extend(r.pk for r in activity.reminders.all())
    return ids


def spread_set(
    name: str, orgs: list[Org], per_org: int, window: float, rate: float, seed: int
) -> ReminderSet:
    """Meetings in every organisation, due at random moments (seeded) over `window` seconds,
    starting LEAD seconds after the last is saved (estimated from `rate`, seconds per
    meeting)."""
    rng = random.Random(seed)
    start = now() + rate * per_org * len(orgs) * 1.6 + LEAD
    offsets = [[rng.uniform(0, window) for _ in range(per_org)] for _ in orgs]
    made = ReminderSet(name)
    for org, mine in zip(orgs, offsets, strict=True):
        made.reminders[org.schema] = make_meetings(org, [start + o for o in mine], name)
    made.saved_at = now()
    every = [start + o for mine in offsets for o in mine]
    made.first_due, made.last_due = min(every), max(every)
    if made.saved_at > made.first_due:
        late = made.saved_at - made.first_due
        log(f"WARNING: {name}: the last meeting was saved {late:.1f} s after the first due moment")
    return made


def calibrate(org: Org, count: int = 20) -> float:
    """Seconds per meeting saved (meetings without reminders, which change nothing here)."""
    with schema_context(org.schema):
        owner = User.objects.get(pk=org.owner_pk)
        started = now()
        for i in range(count):
            at = moment(now() + 86_400)
            activity_create(
                actor=owner,
                type="meeting",
                subject=f"Calibration {i}",
                start_at=at,
                end_at=at + timedelta(minutes=30),
                reminders=[],
            )
        return (now() - started) / count


# --- measuring ------------------------------------------------------------------------------


def pending_jobs(schemas: list[str]) -> int:
    return ScheduledJob.objects.filter(schema_name__in=schemas, kind=JOB_KIND).count()


def wait_delivered(made: ReminderSet, procs: Processes | None, cap: float) -> float:
    """Until every reminder of the set is delivered (its job gone) or `cap` seconds after
    the last due moment. Returns when it stopped."""
    schemas = list(made.reminders)
    while True:
        if procs is not None:
            procs.check()
        if now() > made.last_due and pending_jobs(schemas) == 0:
            return now()
        if now() > made.last_due + cap:
            log(f"{made.name}: {pending_jobs(schemas)} reminders still undelivered at the cap")
            return now()
        time.sleep(0.5)


def settle(schemas: list[str], procs: Processes, cap: float = 120) -> None:
    """Until the organisations have no scheduled work left (the reminders' emails)."""
    deadline = now() + cap
    while ScheduledJob.objects.filter(schema_name__in=schemas).exists() and now() < deadline:
        procs.check()
        time.sleep(0.5)


def lateness(made: ReminderSet, stopped_at: float) -> dict[str, Any]:
    """Notification.created_at - Reminder.remind_at for every reminder of the set, with
    duplicates (more than one notification) and missing ones (none by `stopped_at`, counted
    at their lower bound stopped_at - remind_at)."""
    delays: list[float] = []
    undelivered: list[float] = []
    detail: list[tuple[float, float]] = []  # (due, seconds after the first due; lateness)
    duplicates = 0
    failed = 0
    statuses: dict[str, int] = {}
    for schema, ids in made.reminders.items():
        with schema_context(schema):
            due = dict(Reminder.objects.filter(pk__in=ids).values_list("pk", "remind_at"))
            for status in Reminder.objects.filter(pk__in=ids).values_list("status", flat=True):
                statuses[status] = statuses.get(status, 0) + 1
            written: dict[int, list[datetime]] = {}
            for key, created in Notification.objects.filter(
                kind="reminder", dedupe_key__startswith="reminder:"
            ).values_list("dedupe_key", "created_at"):
                written.setdefault(int(str(key).split(":")[1]), []).append(created)
            failed += FailedTask.objects.count()
        for pk in ids:
            rows = written.get(pk, [])
            if not rows:
                undelivered.append(stopped_at - due[pk].timestamp())
                continue
            duplicates += len(rows) > 1
            delays.append((min(rows) - due[pk]).total_seconds())
            detail.append((due[pk].timestamp() - made.first_due, delays[-1]))
    every = delays + undelivered
    return {
        "count": made.count,
        "delivered": len(delays),
        "missing": len(undelivered),
        "duplicates": duplicates,
        "failed_tasks": failed,
        "statuses": statuses,
        # With reminders missing, percentiles are lower bounds (marked "> " in the table).
        "lower_bound": bool(undelivered),
        "p50": percentile(every, 0.50),
        "p95": percentile(every, 0.95),
        "p99": percentile(every, 0.99),
        "max": max(every),
        "min": min(every),
        "window": [made.first_due, made.last_due],
        "saved_at": made.saved_at,
        "lateness_by_due": sorted((round(d, 3), round(late, 3)) for d, late in detail),
    }


def flood(schema: str, count: int, queue: str | None) -> float:
    """A sends `count` pipeline snapshots from its own schema; returns the seconds it took."""
    started = now()
    options: dict[str, Any] = {"queue": queue} if queue else {}
    with schema_context(schema), app.producer_or_acquire() as producer:
        for _ in range(count):
            pipeline_snapshot.apply_async(producer=producer, **options)
    return now() - started


def fairness(
    *,
    name: str,
    flood_org: Org,
    quiet_org: Org,
    tasks: int,
    quiet: int,
    queue: str | None,
    procs: Processes,
    cap: float,
    broker: redis.Redis,
) -> dict[str, Any]:
    key = queue or queue_name(flood_org.schema, "reports")
    meter = Meter(procs)
    started = now()
    send_seconds = flood(flood_org.schema, tasks, queue)
    queued = broker.llen(key)
    log(f"{name}: {tasks} tasks sent in {send_seconds:.1f} s; {queued} in {key}")
    base = now() + 5
    due = [base + i * 10 / max(quiet - 1, 1) for i in range(quiet)]
    made = ReminderSet(name, first_due=due[0], last_due=due[-1])
    made.reminders[quiet_org.schema] = make_meetings(quiet_org, due, name)
    made.saved_at = now()
    samples: list[tuple[float, int]] = []
    delivered_at: float | None = None
    drained_at: float | None = None
    # Until B's reminders are all delivered (or the cap); A's remaining tasks are then dropped.
    while delivered_at is None:
        procs.check()
        t, length = now(), int(broker.llen(key))
        samples.append((t, length))
        if drained_at is None and length == 0:
            drained_at = t
        if t > made.last_due and pending_jobs([quiet_org.schema]) == 0:
            delivered_at = t
        elif t > started + cap:
            log(f"{name}: cap of {cap:.0f} s reached")
            break
        else:
            time.sleep(0.25)
    stopped = now() if delivered_at is None else delivered_at
    result = lateness(made, stopped)
    result["cpu"] = meter.stop()
    left = int(broker.llen(key))
    purge_queue(broker, key)

    def queued_at(moment_: float) -> int:
        return min(samples, key=lambda s: abs(s[0] - moment_))[1]

    # A's tasks done per second while its queue was not empty (from the queue's length).
    (t0, l0), (t1, l1) = samples[0], next((s for s in samples if s[1] == 0), samples[-1])
    result.update(
        {
            "flood_tasks": tasks,
            "flood_send_seconds": send_seconds,
            "flood_rate": (l0 - l1) / (t1 - t0) if t1 > t0 else None,
            "flood_drained_seconds": None if drained_at is None else drained_at - started,
            "queued_at_first_due": queued_at(made.first_due),
            "queued_at_last_due": queued_at(made.last_due),
            "queued_when_delivered": left,
            "queue": key,
        }
    )
    return result


def purge_queue(broker: redis.Redis, name: str) -> None:
    # A queue that never existed is fine.
    with app.connection_for_write() as conn, contextlib.suppress(Exception):
        conn.default_channel.queue_purge(name)
    broker.delete(name)


def remove_orgs(prefix: str, broker: redis.Redis) -> int:
    """Delete the organisations whose slugs start with `prefix`, and what they left in Redis:
    deleting an organisation purges its queues, but kombu's binding keys for them and the
    job markers stay behind (a day's expiry for the markers, none for the bindings)."""
    removed = 0
    for tenant in Tenant.objects.filter(slug__startswith=prefix).order_by("slug"):
        with schema_context(tenant.schema_name):
            cache.delete(SNAPSHOT_KEY)
        services.tenant_delete(tenant=tenant, confirmation=tenant.slug, actor="bench")
        removed += 1
    schemas = schema_name_for_slug(prefix)  # every schema of these organisations starts so
    for key in broker.scan_iter(match=f"*{schemas}*", count=1000):
        broker.delete(key)
    for key in (f"_kombu.binding.{SHARED_QUEUE}", f"_kombu.binding_permanent.{SHARED_QUEUE}"):
        broker.delete(key)
    return removed


# --- report ---------------------------------------------------------------------------------


def seconds(value: float, bound: bool) -> str:
    return f"{'> ' if bound else ''}{value:.2f} s"


def table(results: dict[str, Any], args: argparse.Namespace) -> str:
    ours, cron_ = results["on_time"], results["on_time_cron"]
    fair, shared = results["flood"], results["flood_one_queue"]
    lines = [
        "| scenario | variant | reminders | p50 | p95 | p99 | max | duplicates | missing "
        "| baseline p99 / Kestrel p99 | target |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]

    def row(scenario: str, variant: str, r: dict[str, Any], ratio: str, target: str) -> str:
        b = r["lower_bound"]
        return (
            f"| {scenario} | {variant} | {r['count']:,} | {seconds(r['p50'], b)} | "
            f"{seconds(r['p95'], b)} | {seconds(r['p99'], b)} | {seconds(r['max'], b)} | "
            f"{r['duplicates']} | {r['missing']} | {ratio} | {target} |"
        )

    def ratio(base: dict[str, Any], mine: dict[str, Any]) -> str:
        value = base["p99"] / max(mine["p99"], 1e-3)
        return f"{'> ' if base['lower_bound'] else ''}{value:.1f}"

    verdict = (
        "met"
        if ours["p99"] < TARGET_P99 and not ours["missing"] and not ours["duplicates"]
        else "**missed**"
    )
    on_time = f"{args.orgs} organisations x {args.meetings} meetings, due over {args.window:.0f} s"
    lines.append(row(on_time, "baseline: cron every 60 s scanning every schema", cron_, "1.0", "—"))
    lines.append(
        row(
            "",
            "**Kestrel**: dispatcher every 1 s, per-organisation reminders queues",
            ours,
            ratio(cron_, ours),
            f"p99 < {TARGET_P99:g} s, 0 duplicates, 0 missing: {verdict}",
        )
    )
    flood_name = (
        f"A floods {args.flood:,} pipeline snapshots; B's {args.quiet} reminders fall due "
        "5-15 s later"
    )
    lines.append(row(flood_name, "baseline: one queue for every organisation", shared, "1.0", "—"))
    lines.append(
        row(
            "",
            "**Kestrel**: A's own reports queue, B's own reminders queue",
            fair,
            ratio(shared, fair),
            "—",
        )
    )
    lines.append("")
    lines.append(
        "| flood | A's tasks sent in | A's tasks done per second | A's tasks still queued when "
        "B's first / last reminder fell due | ... when B's last reminder was delivered |"
    )
    lines.append("|---|---|---|---|---|")
    for label, r in (("one queue", shared), ("per-organisation queues", fair)):
        rate = r["flood_rate"]
        lines.append(
            f"| {label} | {r['flood_send_seconds']:.1f} s | "
            f"{'—' if rate is None else f'{rate:.0f}'} | "
            f"{r['queued_at_first_due']:,} / {r['queued_at_last_due']:,} | "
            f"{r['queued_when_delivered']:,} |"
        )
    lines.append("")
    lines.append("| phase | machine CPU busy | load average start / end |")
    lines.append("|---|---|---|")
    for label, r in (
        ("on time: cron", cron_),
        ("on time: Kestrel", ours),
        ("flood: one queue", shared),
        ("flood: per-organisation queues", fair),
    ):
        cpu = r["cpu"]
        lines.append(
            f"| {label} | {100 * cpu['machine_busy']:.0f}% of {cpu['cores']:.0f} cores | "
            f"{cpu['load_average'][0]:.2f} / {cpu['load_average'][1]:.2f} |"
        )
    return "\n".join(lines)


# --- main -----------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orgs", type=int, default=50)
    parser.add_argument("--meetings", type=int, default=40, help="per organisation")
    parser.add_argument("--window", type=float, default=60, help="seconds the reminders span")
    parser.add_argument("--flood", type=int, default=10_000, help="A's pipeline snapshots")
    parser.add_argument("--quiet", type=int, default=20, help="B's reminders during the flood")
    parser.add_argument("--deals", type=int, default=200, help="A's open deals")
    parser.add_argument("--cap", type=float, default=200, help="seconds to wait for a flood")
    parser.add_argument("--keep", action="store_true", help="keep the organisations and logs")
    parser.add_argument("--cron", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.cron:
        return cron()

    run = uuid.uuid4().hex[:6]
    logdir = Path(tempfile.mkdtemp(prefix="kestrel-bench-reminders-"))
    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    procs = Processes(logdir)
    code = code_state()
    load_before = os.getloadavg()[0]
    started = now()
    log(f"run {run}; logs in {logdir}")
    call_command("migrate_schemas", interactive=False, verbosity=0)
    stale = remove_orgs(PREFIX, broker)
    if stale:
        log(f"removed {stale} organisations left by an earlier run")
    purge_queue(broker, SHARED_QUEUE)
    results: dict[str, Any] = {}
    try:
        t = now()
        orgs, flood_org, quiet_org = provision(run, args.orgs)
        give_deals(flood_org, args.deals)
        organisations = len(active_schemas())
        # Beat tops the warm pool up every 30 s; fill it now so that no clone runs mid-window.
        provisioning.warm_pool_refill()
        log(f"{len(orgs) + 2} organisations provisioned in {now() - t:.1f} s")

        # 1. On time, Kestrel: the product's worker and beat run while the meetings are saved.
        start_product(procs, run, logdir, "product", organisations)
        rate = calibrate(quiet_org)
        log(f"worker and beat up; {1000 * rate:.1f} ms per meeting saved")
        ours = spread_set("on-time", orgs, args.meetings, args.window, rate, seed=7)
        log(f"{ours.count} meetings saved; due from +{ours.first_due - now():.1f} s")
        meter = Meter(procs)
        results["on_time"] = lateness(ours, wait_delivered(ours, procs, cap=180))
        results["on_time"]["cpu"] = meter.stop()
        log(f"on time: p99 {results['on_time']['p99']:.2f} s")

        # 2. Fairness, Kestrel (same worker and beat), once the reminders' emails are out.
        settle([o.schema for o in orgs], procs)
        results["flood"] = fairness(
            name="flood",
            flood_org=flood_org,
            quiet_org=quiet_org,
            tasks=args.flood,
            quiet=args.quiet,
            queue=None,
            procs=procs,
            cap=args.cap,
            broker=broker,
        )
        log(f"flood: B's p99 {results['flood']['p99']:.2f} s")
        stop_product(procs)

        # 1b. On time, baseline: the cron process alone (no worker, no beat).
        procs.start("cron", [PY, str(Path(__file__).resolve()), "--cron"])
        procs.wait_for("cron", ["cron: started"])
        cron_set = spread_set("on-time-cron", orgs, args.meetings, args.window, rate, seed=7)
        log(f"{cron_set.count} meetings saved; due from +{cron_set.first_due - now():.1f} s")
        meter = Meter(procs)
        results["on_time_cron"] = lateness(cron_set, wait_delivered(cron_set, procs, cap=180))
        results["on_time_cron"]["cpu"] = meter.stop()
        log(f"cron: p99 {results['on_time_cron']['p99']:.2f} s")
        procs.stop("cron")

        # 2b. Fairness, baseline: one queue for every organisation's work.
        start_one_queue(procs, run, logdir, "one-queue")
        results["flood_one_queue"] = fairness(
            name="flood-one-queue",
            flood_org=flood_org,
            quiet_org=quiet_org,
            tasks=args.flood,
            quiet=args.quiet,
            queue=SHARED_QUEUE,
            procs=procs,
            cap=args.cap,
            broker=broker,
        )
        log(f"one queue: B's p99 {results['flood_one_queue']['p99']:.2f} s")
    finally:
        procs.stop_all()
        purge_queue(broker, SHARED_QUEUE)
        if not args.keep:
            log(f"removed {remove_orgs(f'{PREFIX}{run}-', broker)} organisations")

    minutes = (now() - started) / 60
    load_after = os.getloadavg()[0]
    print(
        f"\nReminders and queues: real worker (prefork, concurrency 2) and beat; "
        f"{minutes:.1f} min; load average {load_before:.2f} at the start, {load_after:.2f} "
        f"at the end ({os.cpu_count()} cores); code {code}\n"
    )
    if not args.keep:
        shutil.rmtree(logdir, ignore_errors=True)
    report = table(results, args)
    print(report)
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "reminders.json").write_text(
        json.dumps(
            {
                "args": vars(args),
                "minutes": minutes,
                "code": code,
                "load_average": [load_before, load_after],
                "results": results,
                "logs": str(logdir) if args.keep else None,
            },
            indent=2,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
