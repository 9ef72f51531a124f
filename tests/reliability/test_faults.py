"""Faults under load, with real processes: a real Gunicorn (deploy/gunicorn.conf.py) serving
two organisations, a real Celery worker, a private Redis; client threads create contacts and
leads through the API (a unique marker in each, an Idempotency-Key on each POST, every failed
attempt retried with the same key) and queue small imports, while

(a) Redis is killed and started again on the same port and data directory (its append-only
    file: queued messages survive, as with a production Redis that restarts);
(b) every backend of the test database is terminated (pg_terminate_backend), twice;
(c) the worker's pool process running a long import is SIGKILLed.

Afterwards: every record a client got a 2xx for exists exactly once, in its own organisation
and not in the other; every failed attempt was answered (no hang) with a 5xx in the API's
JSON error envelope; the same Gunicorn serves again once the fault is over; every import
queued ran once, in the organisation that queued it. `pytest -s` prints what each fault did
(records sent, attempts refused, recovery time).
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import kombu.pools
import pytest
from django.test import Client as DjangoClient
from django.utils import timezone
from django_tenants.utils import schema_context

from apps.accounts.models import User
from apps.apikeys.services import api_key_create
from apps.contacts.models import Contact
from apps.core.api.middleware import ABANDONED_AFTER
from apps.core.models import IdempotencyRecord
from apps.imports.models import ImportJob
from apps.leads.models import Lead
from config.settings.base import redis_caches
from tenants.db import connection
from tenants.models import Domain, Tenant
from tenants.queues import queue_name
from tests.reliability.conftest import CommittedOrganisations
from tests.reliability.faults_support import (
    Attempt,
    Client,
    Imports,
    Load,
    hand_back,
    import_body,
    import_status,
    queue_import,
    start_long_import,
    start_server,
    unacked_runs,
)
from tests.reliability.live import LiveServer
from tests.workers import conftest as workers
from tests.workers.conftest import CeleryWorker, RedisServer, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.worker]

# The workers' harness (tests/workers/conftest.py), used here as fixtures of this module.
redis_server = workers.redis_server
celery_worker = workers.celery_worker
celery_client = workers.celery_client
committed_db = workers.committed_db

# Once the fault is over, the same server answers again within this long (a bound against a
# server that stays broken, not a speed target: it recovers in about a second here).
RECOVERY_BOUND = 30.0
RESULTS = Path(workers.ROOT) / "test-results" / "reliability"


# A client retries a failed request (same key, same body) for at most this long after the
# load stops; imports queued must have run within IMPORTS_DRAIN after that.
GIVE_UP = 30.0
IMPORTS_DRAIN = 45.0
# Imports report progress every 5,000 rows: these are seen running (some rows done) with
# more to go when the fault comes.
BIG_IMPORT_ROWS = 10_000
LONG_IMPORT_ROWS = 10_000


# --- fixtures ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server(django_db_setup: None, redis_server: RedisServer) -> Iterator[LiveServer]:
    live = start_server(database_url=workers.test_database_url(), redis_url=redis_server.url)
    try:
        yield live
    finally:
        live.stop()


def api_client(tenant: Any, label: str) -> Client:
    """An API key made by the organisation's owner (an import needs a person behind it)."""
    domain = Domain.objects.get(tenant=tenant, is_primary=True).domain
    with schema_context(tenant.schema_name):
        owner = User.objects.get(email=f"owner@{tenant.slug}.test")
        issued = api_key_create(name=f"faults {label}", created_by=owner)
    return Client(label=label, schema=tenant.schema_name, host=domain, key=issued.secret)


@pytest.fixture(scope="module")
def clients(
    committed_organisations: CommittedOrganisations,
    celery_worker: CeleryWorker,
    server: LiveServer,
    django_db_blocker: Any,
) -> list[Client]:
    """Two organisations (committed, shared by this module's tests: every record and import
    carries a marker of its own test), each with an API key, whose queues the worker
    consumes."""
    made = []
    for label in ("one", "two"):
        tenant = committed_organisations.make(label)
        with django_db_blocker.unblock():
            made.append(api_client(tenant, label))
    for client in made:
        consuming = f"Started consuming from {queue_name(client.schema, 'reports')}"
        wait_until(lambda c=consuming: c in celery_worker.log_since_start(), timeout=15)  # type: ignore[misc]
    return made


# --- checks: each adds its figures and names what went wrong in `problems` ----------------


class Outcome:
    def __init__(self, fault: str) -> None:
        self.figures: dict[str, Any] = {"fault": fault}
        self.problems: dict[str, Any] = {}

    def problem(self, name: str, found: Any) -> None:
        if found:
            self.problems[name] = found

    def finish(self, name: str) -> None:
        """Print and keep the figures (test-results/reliability/), then fail on a problem."""
        self.figures["problems"] = self.problems
        print(f"\n[faults] {name}: {json.dumps(self.figures, default=str)}")
        RESULTS.mkdir(parents=True, exist_ok=True)
        (RESULTS / f"faults-{name}.json").write_text(
            json.dumps(self.figures, indent=2, default=str)
        )
        assert self.problems == {}


def markers_in(schema: str, prefix: str) -> dict[str, Counter[str]]:
    with schema_context(schema):
        return {
            "contacts": Counter(
                Contact.all_objects.filter(last_name__startswith=prefix).values_list(
                    "last_name", flat=True
                )
            ),
            "leads": Counter(
                Lead.all_objects.filter(last_name__startswith=prefix).values_list(
                    "last_name", flat=True
                )
            ),
        }


def check_records(outcome: Outcome, load: Load, clients: list[Client]) -> None:
    """Every record with a 2xx exists once in its organisation and in no other; every record
    got its 2xx in the end (each was retried with its key until it did)."""
    found = {c.schema: markers_in(c.schema, f"f{load.run}-") for c in clients}
    missing, duplicated, leaked, unacknowledged = [], [], [], []
    for record in load.records:
        own = found[record.client.schema][record.resource][record.marker]
        elsewhere = sum(
            counts[record.marker]
            for schema, by_resource in found.items()
            for resource, counts in by_resource.items()
            if (schema, resource) != (record.client.schema, record.resource)
        )
        if elsewhere:
            leaked.append(record.marker)
        if not record.created:
            unacknowledged.append(f"{record.marker} ({own} stored)")
        elif own == 0:
            missing.append(record.marker)
        elif own > 1:
            duplicated.append(f"{record.marker} x{own}")
    outcome.figures.update(
        records=len(load.records),
        attempts=len(load.attempts()),
        missing=len(missing),
        duplicated=len(duplicated),
        in_the_other_organisation=len(leaked),
        never_acknowledged=len(unacknowledged),
        statuses=dict(load.statuses()),
    )
    outcome.problem("missing", missing[:10])
    outcome.problem("duplicated", duplicated[:10])
    outcome.problem("in_the_other_organisation", leaked[:10])
    outcome.problem("never_acknowledged", unacknowledged[:10])


def check_failures_were_answered(outcome: Outcome, attempts: list[Attempt]) -> None:
    """Every attempt that failed was answered, within the client's timeout (no hang), with a
    5xx in the API's JSON error envelope."""
    failed = [a for a in attempts if not a.ok]
    unclean = [
        a.describe()
        for a in failed
        if a.status is None or a.status < 500 or a.envelope_code is None
    ]
    outcome.figures["failed_attempts"] = dict(
        Counter(f"{a.status} {a.envelope_code or a.content_type or a.error[:60]}" for a in failed)
    )
    outcome.figures["slowest_failure_s"] = round(max((a.elapsed for a in failed), default=0), 2)
    outcome.problem("unclean_failures", unclean[:5])


def check_recovered(
    outcome: Outcome, load: Load, fault_over: float, server: LiveServer, master: int
) -> None:
    """The same Gunicorn (no restart) answered 2xx again after the fault."""
    outcome.problem("gunicorn_restarted", not server.running or server.process.pid != master)
    recovery = load.first_success_after(fault_over)
    outcome.figures["recovery_s"] = None if recovery is None else round(recovery, 2)
    outcome.problem("not_recovered", recovery is None or recovery > RECOVERY_BOUND)


def check_imports(
    outcome: Outcome,
    port: int,
    imports: Imports,
    clients: list[Client],
    other_jobs: dict[str, int] | None = None,
) -> None:
    """Each import queued (2xx) ran once, in its organisation: its rows are there once and
    in no other organisation. `other_jobs`: imports the test queued itself, by label."""
    queued = [q for q in imports.queued if q.job_id is not None]
    outcome.problem("no_import_queued", not queued)
    outcome.problem("import_never_queued", [q.key for q in imports.queued if q.job_id is None])
    finished: dict[tuple[str, int], dict[str, Any]] = {}  # ids are per organisation

    last: dict[tuple[str, int], str] = {}

    def all_finished() -> bool:
        for q in queued:
            assert q.job_id is not None
            if (q.client.schema, q.job_id) not in finished:
                state = import_status(port, q.client, q.job_id)
                last[q.client.schema, q.job_id] = f"{state['status']} {state.get('message')}"
                if state["status"] in ("succeeded", "failed", "cancelled"):
                    finished[q.client.schema, q.job_id] = state
        return len(finished) == len(queued)

    started = time.monotonic()
    try:
        wait_until(all_finished, timeout=IMPORTS_DRAIN, interval=0.3)
    except AssertionError:
        outcome.problem(
            "imports_unfinished",
            {f"{k[0]} {k[1]}": v for k, v in last.items() if k not in finished},
        )
    outcome.problem(
        "imports_not_done",
        {
            f"{schema} {job}": (state["status"], state.get("message"))
            for (schema, job), state in finished.items()
            if state["status"] != "succeeded"
        },
    )
    found = {c.schema: markers_in(c.schema, f"i{imports.run}-")["contacts"] for c in clients}
    wrong = []
    for q in queued:
        for email in q.emails:
            name = email.split("@")[0]
            counts = {schema: found[schema][name] for schema in found}
            if counts != {schema: int(schema == q.client.schema) for schema in found}:
                wrong.append((name, counts))
    outcome.figures.update(
        imports=len(queued),
        import_attempts=len(imports.attempts()),
        imported_rows=sum(len(q.emails) for q in queued),
        imports_drained_s=round(time.monotonic() - started, 2),
    )
    outcome.problem("imported_rows_wrong", wrong[:10])
    # Each import acknowledged made one import job, and a failed attempt none: a retry of a
    # request that failed after its import was stored would queue the file twice.
    jobs = {}
    for client in clients:
        with schema_context(client.schema):
            made = ImportJob.objects.filter(created_at__gte=imports.started_at)
            jobs[client.label] = made.count()
    expected = {
        c.label: sum(q.client == c for q in queued) + (other_jobs or {}).get(c.label, 0)
        for c in clients
    }
    outcome.figures["import_jobs"] = jobs
    outcome.problem("import_jobs_not_one_per_import", jobs != expected and (jobs, expected))


def hand_back_cut_off(
    outcome: Outcome,
    port: int,
    jobs: list[tuple[Client, int]],
    redis_server: RedisServer,
    app: Any,
) -> None:
    """Runs that the fault cut off (a worker loses its broker: it stops the late-acknowledged
    tasks it was running) must not be lost: their messages wait in Redis's `unacked` set,
    which hands them out again after the visibility timeout. The test hands them back at
    once, even for a run that finished (its acknowledgement was lost with the connection):
    running it again must change nothing."""
    client = redis_server.client()
    handed = 0
    try:
        for org, job_id in jobs:
            status = import_status(port, org, job_id)["status"]
            tags = unacked_runs(client, org.schema, job_id)
            if status == "running" and not tags:
                outcome.problem("cut_off_run_lost", f"{org.label} {job_id}")
            for tag in tags:
                hand_back(app, tag)
                handed += 1
    finally:
        client.close()
    outcome.figures["runs_handed_back"] = outcome.figures.get("runs_handed_back", 0) + handed


def check_long_import(
    outcome: Outcome,
    port: int,
    one: Client,
    two: Client,
    job_id: int,
    emails: list[str],
    redis_server: RedisServer,
    app: Any,
) -> None:
    """The import that was running when the fault came ends done, its rows there once (in
    its organisation only). Its run may have been cut off by the fault: then it must not be
    failed, and its message must still be in Redis, unacknowledged, which Redis hands out
    again after the visibility timeout; the test hands it back at once and checks that run."""
    outcome.figures["long_import_after_fault"] = import_status(port, one, job_id)["status"]
    hand_back_cut_off(outcome, port, [(one, job_id)], redis_server, app)
    finished: dict[str, Any] = {}

    def over() -> bool:
        finished.update(import_status(port, one, job_id))
        return finished["status"] not in ("queued", "running")

    try:
        wait_until(over, timeout=IMPORTS_DRAIN, interval=0.2)
    except AssertionError:
        outcome.problem("long_import_unfinished", finished.get("status"))
    outcome.problem(
        "long_import_not_done_once",
        (finished.get("status"), finished.get("counts", {}).get("created"))
        != ("succeeded", len(emails)),
    )
    names = {email.split("@")[0] for email in emails}
    with schema_context(one.schema):
        counts = Counter(
            Contact.all_objects.filter(last_name__startswith="long").values_list(
                "last_name", flat=True
            )
        )
    outcome.problem(
        "long_import_rows_not_once", set(counts) != names or set(counts.values()) != {1}
    )
    with schema_context(two.schema):
        outcome.problem(
            "long_import_in_the_other_organisation",
            Contact.all_objects.filter(last_name__startswith="long").count(),
        )


# --- the faults -------------------------------------------------------------------------


@pytest.fixture
def restartable_redis(redis_server: RedisServer, celery_client: Any) -> Iterator[RedisServer]:
    """The private Redis, for a test that kills it: running again afterwards, and this
    process's broker connections (kombu's pools, the app's) dropped, since they point at the
    connections the kill cut."""
    yield redis_server
    if not redis_server.running:
        redis_server.start()
    kombu.pools.reset()
    workers._reset_app_connections(celery_client)


def test_redis_killed_and_restarted_under_load_loses_and_doubles_nothing(
    clients: list[Client],
    server: LiveServer,
    restartable_redis: RedisServer,
    celery_client: Any,
    committed_db: None,
) -> None:
    app = celery_client
    redis_server = restartable_redis
    outcome = Outcome("redis SIGKILL, restarted on the same port and data directory")
    master = server.process.pid
    one, two = clients
    with Load(server.port, clients) as load, Imports(server.port, clients) as imports:
        load.warmed_up()
        # A task in flight when Redis goes: a worker must survive losing its broker then.
        long_job, long_emails = start_long_import(server.port, one, LONG_IMPORT_ROWS)
        down = time.monotonic()
        redis_server.kill()  # SIGKILL: no save, no goodbye
        time.sleep(2.0)
        redis_server.start()  # same port, same data directory (append-only file)
        fault_over = time.monotonic()
        time.sleep(2.0)
        imports.stop(give_up=GIVE_UP)
        load.stop(give_up=GIVE_UP)
    outcome.figures["down_s"] = round(fault_over - down, 2)
    check_records(outcome, load, clients)
    check_failures_were_answered(outcome, load.attempts() + imports.attempts())
    check_recovered(outcome, load, fault_over, server, master)
    queued = [(q.client, q.job_id) for q in imports.queued if q.job_id is not None]
    time.sleep(2.0)  # what is in the queues runs; what was cut off waits in `unacked`
    hand_back_cut_off(outcome, server.port, queued, redis_server, app)
    check_imports(outcome, server.port, imports, clients, other_jobs={"one": 1})
    check_long_import(outcome, server.port, one, two, long_job, long_emails, redis_server, app)
    outcome.finish("redis")


def terminate_backends() -> int:
    """pg_terminate_backend on every other connection to the test database."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        (count,) = cursor.fetchone()
    return int(count)


def test_database_connections_terminated_twice_under_load_lose_and_double_nothing(
    clients: list[Client], server: LiveServer, committed_db: None
) -> None:
    outcome = Outcome("pg_terminate_backend on every backend of the test database, twice")
    master = server.process.pid
    terminated = []
    with Load(server.port, clients) as load, Imports(server.port, clients) as imports:
        load.warmed_up()
        terminated.append(terminate_backends())
        time.sleep(1.5)
        terminated.append(terminate_backends())
        fault_over = time.monotonic()
        time.sleep(2.0)
        imports.stop(give_up=GIVE_UP)
        load.stop(give_up=GIVE_UP)
    outcome.figures["terminated"] = terminated
    check_records(outcome, load, clients)
    check_failures_were_answered(outcome, load.attempts() + imports.attempts())
    check_recovered(outcome, load, fault_over, server, master)
    check_imports(outcome, server.port, imports, clients)
    outcome.finish("postgresql")


def test_worker_process_killed_during_an_import_runs_it_again_once(
    clients: list[Client],
    server: LiveServer,
    celery_worker: CeleryWorker,
    celery_client: Any,
    committed_db: None,
) -> None:
    outcome = Outcome(
        "SIGKILL of the pool process running an import (acks_late, reject_on_worker_lost)"
    )
    one, two = clients
    emails = [f"big{n}-{one.schema}@faults.test" for n in range(BIG_IMPORT_ROWS)]
    with Load(server.port, clients) as load:
        load.warmed_up()
        queued = queue_import(server.port, one, import_body(emails), key=uuid.uuid4().hex)
        assert queued.status == 202, queued.describe()
        job_id = int(json.loads(queued.body)["id"])

        def running() -> bool:
            state = import_status(server.port, one, job_id)
            return state["status"] == "running" and state["progress"]["done"] > 0

        wait_until(running, timeout=30, interval=0.05)
        inspect = celery_client.control.inspect(destination=[celery_worker.node], timeout=3)
        active = inspect.active() or {}
        pids = [
            task["worker_pid"]
            for task in active.get(celery_worker.node, [])
            if task["name"] == "imports.tasks.run_import"
        ]
        assert len(pids) == 1, active
        killed_at = time.monotonic()
        os.kill(pids[0], signal.SIGKILL)  # the pool process, in the middle of the import

        finished: dict[str, Any] = {}

        def done() -> bool:
            finished.update(import_status(server.port, one, job_id))
            return finished["status"] in ("succeeded", "failed")

        wait_until(done, timeout=IMPORTS_DRAIN, interval=0.2)
        outcome.figures["finished_after_kill_s"] = round(time.monotonic() - killed_at, 2)
        load.stop(give_up=GIVE_UP)
    outcome.figures.update(
        import_rows=BIG_IMPORT_ROWS,
        import_status=finished["status"],
        import_created=finished["counts"]["created"],
    )
    outcome.problem(
        "import_not_done_once",
        (finished["status"], finished["counts"]["created"], finished["counts"]["rows_total"])
        != ("succeeded", BIG_IMPORT_ROWS, BIG_IMPORT_ROWS),
    )
    with schema_context(one.schema):
        names = Counter(
            Contact.all_objects.filter(last_name__startswith="big").values_list(
                "last_name", flat=True
            )
        )
    outcome.problem(
        "imported_rows_not_once",
        len(names) != BIG_IMPORT_ROWS or set(names.values()) != {1},
    )
    with schema_context(two.schema):
        outcome.problem(
            "imported_in_the_other_organisation",
            Contact.all_objects.filter(last_name__startswith="big").count(),
        )
    check_records(outcome, load, clients)
    check_failures_were_answered(outcome, load.attempts())
    outcome.finish("worker")


# --- regression tests of the fixes, without a server ------------------------------------


def _api(tenant: Tenant, secret: str) -> DjangoClient:
    return DjangoClient(HTTP_HOST=f"{tenant.slug}.localhost", HTTP_AUTHORIZATION=f"Bearer {secret}")


@pytest.mark.django_db
def test_an_idempotency_key_left_in_progress_is_taken_over_once_abandoned(
    tenant_a: Tenant,
) -> None:
    """A request that never finished (its process killed, the database gone when it failed)
    leaves its key "in progress": a retry gets 409 while that may still be running, and
    runs the request itself once it is clearly abandoned."""
    with schema_context(tenant_a.schema_name):
        secret = api_key_create(name="faults idempotency").secret
    body = json.dumps({"first_name": "Abandoned", "last_name": uuid.uuid4().hex}).encode()
    stuck = {
        "key": "left-in-progress",
        "caller_hash": hashlib.sha256(f"Bearer {secret}".encode()).hexdigest(),
        "request_hash": hashlib.sha256(b"POST/api/v1/contacts/\n" + body).hexdigest(),
    }
    with schema_context(tenant_a.schema_name):
        record = IdempotencyRecord.objects.create(**stuck)

    def post() -> Any:
        return _api(tenant_a, secret).post(
            "/api/v1/contacts/",
            body,
            content_type="application/json",
            HTTP_IDEMPOTENCY_KEY="left-in-progress",
        )

    assert post().json()["error"]["code"] == "idempotency_in_progress"
    with schema_context(tenant_a.schema_name):
        IdempotencyRecord.objects.filter(pk=record.pk).update(
            created_at=timezone.now() - ABANDONED_AFTER - timedelta(seconds=1)
        )
    first, again = post(), post()
    assert (first.status_code, again.status_code) == (201, 201)
    assert again["Idempotent-Replayed"] == "true" and again.json() == first.json()
    with schema_context(tenant_a.schema_name):
        last_name = json.loads(body)["last_name"]
        assert Contact.objects.filter(last_name=last_name).count() == 1


@pytest.mark.django_db
def test_writes_that_move_report_figures_go_through_while_the_cache_is_unreachable(
    tenant_a: Tenant, settings: Any
) -> None:
    """A lead (a write the cached reports depend on) is saved, through the API, while Redis
    cannot be reached: nothing listens on the cache's port."""
    settings.CACHES = redis_caches(f"redis://127.0.0.1:{workers.free_port()}/0")
    with schema_context(tenant_a.schema_name):
        secret = api_key_create(name="faults cache").secret
    marker = uuid.uuid4().hex
    response = _api(tenant_a, secret).post(
        "/api/v1/leads/",
        {"first_name": "Cacheless", "last_name": marker, "email": f"{marker}@faults.test"},
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    with schema_context(tenant_a.schema_name):
        assert Lead.objects.filter(last_name=marker).count() == 1
