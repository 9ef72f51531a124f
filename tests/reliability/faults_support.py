"""What the fault tests (test_faults.py) drive and measure: a real Gunicorn serving the test
database through deploy/gunicorn.conf.py, and client threads that create records through the
API while a fault is injected.

- `start_server`: Gunicorn as tests/reliability/live.py starts it (`gunicorn
  config.wsgi:application -c deploy/gunicorn.conf.py` on a free loopback port, in a process
  group of its own), with the real workers' settings (tests/workers/worker_settings.py: the
  test settings, tasks sent through the private Redis, not run eagerly), so the web process
  and the workers share one broker and one cache, as in a deployment. Its log goes to
  test-results/workers/gunicorn-faults-*.log.
- `Load`: client threads, each creating records (contacts and leads, alternately) through
  `POST /api/v1/<resource>/`, one at a time, each with a unique marker in its email and an
  `Idempotency-Key`. An attempt that does not get a 2xx is retried with the same key and
  body until it does (or the load's deadline passes), as a careful client would. Every
  attempt is recorded: status, how long it took, whether its body was the API's JSON error
  envelope, or the exception (a timeout: the server hung).
- `Imports`: a thread queueing small imports (a CSV of a few contacts with markers) in each
  organisation in turn, so tasks are in the queues and on the workers during the fault.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from tests.reliability.live import LiveServer, start_gunicorn
from tests.workers.conftest import LOG_DIR, WORKER_SETTINGS

# A request that takes longer than this has hung: the fault must be answered, not waited on.
CLIENT_TIMEOUT = 20.0


# --- the server ---------------------------------------------------------------------


def start_server(
    *, database_url: str, redis_url: str, workers: int = 2, threads: int = 2
) -> LiveServer:
    """Gunicorn (tests/reliability/live.py: deploy/gunicorn.conf.py on a loopback port) with
    the real workers' settings, so web and workers share the private Redis as broker and
    cache, as in a deployment."""
    return start_gunicorn(
        database_url=database_url,
        redis_url=redis_url,
        log=LOG_DIR / f"gunicorn-faults-{uuid.uuid4().hex[:8]}.log",
        settings_module=WORKER_SETTINGS,
        workers=workers,
        threads=threads,
        env={"CELERY_BROKER_URL": redis_url},
    )


def request(
    port: int,
    method: str,
    path: str,
    *,
    host: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = CLIENT_TIMEOUT,
) -> tuple[int, dict[str, str], bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request(method, path, body=body, headers={"Host": host, **(headers or {})})
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


def multipart(fields: dict[str, str], files: dict[str, tuple[str, bytes]]) -> tuple[bytes, str]:
    """A multipart/form-data body and its Content-Type."""
    boundary = uuid.uuid4().hex
    parts: list[bytes] = []
    for name, value in fields.items():
        head = f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
        parts.append(f"{head}{value}\r\n".encode())
    for name, (filename, content) in files.items():
        parts.append(
            (
                f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; '
                f'filename="{filename}"\r\nContent-Type: text/csv\r\n\r\n'
            ).encode()
            + content
            + b"\r\n"
        )
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


# --- one organisation as an API client sees it -----------------------------------------


@dataclass(frozen=True)
class Client:
    """An organisation's host and an API key of its owner."""

    label: str
    schema: str
    host: str
    key: str

    def headers(self, **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}", "Accept": "application/json", **extra}


# --- attempts and the load --------------------------------------------------------------


@dataclass
class Attempt:
    marker: str
    key: str
    started: float  # time.monotonic()
    elapsed: float
    status: int | None  # None: no answer (see `error`)
    body: bytes = b""
    content_type: str = ""
    error: str = ""  # the exception when there was no answer

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    @property
    def envelope_code(self) -> str | None:
        """The API error envelope's `code`, None when the body is not that envelope."""
        if not self.content_type.startswith("application/json"):
            return None
        try:
            data = json.loads(self.body)
        except ValueError:
            return None
        error = data.get("error") if isinstance(data, dict) else None
        code = error.get("code") if isinstance(error, dict) else None
        return code if isinstance(code, str) else None

    def describe(self) -> str:
        what = self.error or f"{self.status} {self.content_type} {self.body[:200]!r}"
        return f"{self.marker} after {self.elapsed:.2f} s: {what}"


@dataclass
class Record:
    """One record a client meant to create (once), with every attempt it took."""

    client: Client
    resource: str
    marker: str
    key: str
    attempts: list[Attempt] = field(default_factory=list)

    @property
    def created(self) -> bool:
        return any(a.ok for a in self.attempts)

    @property
    def created_at(self) -> float | None:
        return next((a.started + a.elapsed for a in self.attempts if a.ok), None)


def record_body(resource: str, marker: str) -> dict[str, Any]:
    email = f"{marker}@faults.test"
    if resource == "contacts":
        return {"first_name": "Fault", "last_name": marker, "email": email}
    return {"first_name": "Fault", "last_name": marker, "email": email, "company_name": marker}


def attempt(port: int, client: Client, resource: str, marker: str, key: str) -> Attempt:
    body = json.dumps(record_body(resource, marker)).encode()
    headers = client.headers(**{"Content-Type": "application/json", "Idempotency-Key": key})
    started = time.monotonic()
    try:
        status, response_headers, content = request(
            port,
            "POST",
            f"/api/v1/{resource}/?allow_duplicate=true",
            host=client.host,
            body=body,
            headers=headers,
        )
    except (OSError, http.client.HTTPException) as exc:
        return Attempt(marker, key, started, time.monotonic() - started, None, error=repr(exc))
    return Attempt(
        marker,
        key,
        started,
        time.monotonic() - started,
        status,
        content,
        response_headers.get("content-type", ""),
    )


class Load:
    """`threads` clients creating records in the given organisations (thread i in
    organisation i % len) until `stop()`; each record is retried with its key until it gets a
    2xx or `give_up` seconds after the stop."""

    def __init__(
        self, port: int, clients: list[Client], *, threads: int = 4, pause: float = 0.02
    ) -> None:
        self.port = port
        self.clients = clients
        self.run = uuid.uuid4().hex[:8]
        self.pause = pause
        self.records: list[Record] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._deadline = float("inf")
        self._threads = [
            threading.Thread(target=self._drive, args=(n,), daemon=True) for n in range(threads)
        ]

    def __enter__(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop(give_up=0)

    def stop(self, give_up: float = 60.0) -> None:
        self._deadline = time.monotonic() + give_up
        self._stopping.set()
        for thread in self._threads:
            thread.join(timeout=give_up + CLIENT_TIMEOUT + 5)

    def _drive(self, number: int) -> None:
        client = self.clients[number % len(self.clients)]
        sequence = 0
        while not self._stopping.is_set():
            resource = ("contacts", "leads")[sequence % 2]
            record = Record(
                client,
                resource,
                marker=f"f{self.run}-{number}-{sequence}",
                key=uuid.uuid4().hex,
            )
            with self._lock:
                self.records.append(record)
            sequence += 1
            while time.monotonic() < self._deadline:
                tried = attempt(self.port, client, resource, record.marker, record.key)
                record.attempts.append(tried)
                if tried.ok:
                    break
                time.sleep(0.1)  # then the same request again, with the same key
            time.sleep(self.pause)

    def warmed_up(self, successes: int = 8, timeout: float = 60.0) -> None:
        """Wait until the load has had `successes` 2xx answers (the server's workers have
        imported everything and opened their connections): the fault hits a warm server."""
        deadline = time.monotonic() + timeout
        while sum(a.ok for a in self.attempts()) < successes:
            if time.monotonic() > deadline:
                raise AssertionError(f"no {successes} successes in {timeout} s: {self.statuses()}")
            time.sleep(0.05)

    # What happened, for the assertions and the report.

    def attempts(self) -> list[Attempt]:
        return [a for r in self.records for a in r.attempts]

    def failures(self) -> list[Attempt]:
        return [a for a in self.attempts() if not a.ok]

    def first_success_after(self, moment: float) -> float | None:
        done = [a.started + a.elapsed for a in self.attempts() if a.ok and a.started >= moment]
        return min(done) - moment if done else None

    def statuses(self) -> Counter[str]:
        return Counter(
            str(a.status) + (f" {a.envelope_code}" if a.envelope_code else "")
            if a.status is not None
            else "no answer"
            for a in self.attempts()
        )


# --- imports queued during the load ------------------------------------------------------


@dataclass
class QueuedImport:
    client: Client
    emails: list[str]
    key: str
    job_id: int | None = None
    attempts: list[Attempt] = field(default_factory=list)


def import_file(emails: list[str]) -> bytes:
    lines = ["First name,Last name,Email"]
    lines += [f"Imported,{email.split('@')[0]},{email}" for email in emails]
    return ("\n".join(lines) + "\n").encode()


def import_body(emails: list[str]) -> tuple[bytes, str]:
    return multipart(
        {"entity": "contact", "mode": "create"}, {"file": ("people.csv", import_file(emails))}
    )


def queue_import(port: int, client: Client, payload: tuple[bytes, str], key: str) -> Attempt:
    """POST the import (`payload` from import_body: a retry sends the very same bytes)."""
    body, content_type = payload
    headers = client.headers(**{"Content-Type": content_type, "Idempotency-Key": key})
    started = time.monotonic()
    try:
        status, response_headers, content = request(
            port, "POST", "/api/v1/imports/", host=client.host, body=body, headers=headers
        )
    except (OSError, http.client.HTTPException) as exc:
        return Attempt(key, key, started, time.monotonic() - started, None, error=repr(exc))
    return Attempt(
        key,
        key,
        started,
        time.monotonic() - started,
        status,
        content,
        response_headers.get("content-type", ""),
    )


class Imports:
    """A thread queueing an import of `rows` new contacts every `every` seconds, in each
    organisation in turn, until stopped (each retried with its key until a 2xx)."""

    def __init__(self, port: int, clients: list[Client], *, rows: int = 5, every: float = 0.5):
        self.port = port
        self.clients = clients
        self.rows = rows
        self.every = every
        self.run = uuid.uuid4().hex[:8]
        self.started_at = datetime.now(UTC)
        self.queued: list[QueuedImport] = []
        self._stopping = threading.Event()
        self._deadline = float("inf")
        self._thread = threading.Thread(target=self._drive, daemon=True)

    def __enter__(self) -> Imports:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop(give_up=0)

    def stop(self, give_up: float = 60.0) -> None:
        self._deadline = time.monotonic() + give_up
        self._stopping.set()
        self._thread.join(timeout=give_up + CLIENT_TIMEOUT + 5)

    def _drive(self) -> None:
        number = 0
        while not self._stopping.is_set():
            client = self.clients[number % len(self.clients)]
            emails = [f"i{self.run}-{number}-{row}@faults.test" for row in range(self.rows)]
            queued = QueuedImport(client, emails, uuid.uuid4().hex)
            self.queued.append(queued)
            number += 1
            body = import_body(emails)
            while time.monotonic() < self._deadline:
                tried = queue_import(self.port, client, body, queued.key)
                queued.attempts.append(tried)
                if tried.ok:
                    queued.job_id = int(json.loads(tried.body)["id"])
                    break
                time.sleep(0.1)
            self._stopping.wait(self.every)

    def attempts(self) -> list[Attempt]:
        return [a for q in self.queued for a in q.attempts]


def import_status(port: int, client: Client, job_id: int) -> dict[str, Any]:
    status, _, body = request(
        port, "GET", f"/api/v1/imports/{job_id}/", host=client.host, headers=client.headers()
    )
    assert status == 200, (status, body[:300])
    data: dict[str, Any] = json.loads(body)
    return data


@contextlib.contextmanager
def timed(label: str, figures: dict[str, float]) -> Iterator[None]:
    started = time.monotonic()
    try:
        yield
    finally:
        figures[label] = round(time.monotonic() - started, 2)


# --- a long import in flight during a fault ------------------------------------------------

RUN_IMPORT = "imports.tasks.run_import"


def start_long_import(port: int, client: Client, rows: int) -> tuple[int, list[str]]:
    """Queue an import of `rows` new contacts (last names `long<n>-<schema>`) and return
    (its id, the emails) once a worker is running it (some rows done)."""
    emails = [f"long{n}-{client.schema}@faults.test" for n in range(rows)]
    queued = queue_import(port, client, import_body(emails), key=uuid.uuid4().hex)
    assert queued.status == 202, queued.describe()
    job_id = int(json.loads(queued.body)["id"])
    deadline = time.monotonic() + 30
    while True:
        state = import_status(port, client, job_id)
        if state["status"] == "running" and state["progress"]["done"] > 0:
            return job_id, emails
        assert time.monotonic() < deadline, f"the import did not start: {state}"
        time.sleep(0.05)


def unacked_runs(redis_client: Any, schema: str, job_id: int) -> list[str]:
    """Delivery tags of run messages of import `job_id` of organisation `schema` that a
    worker took and never acknowledged: kombu keeps them in Redis's `unacked` hash, and
    Redis hands them out again once the visibility timeout has passed."""
    tags = []
    for tag, raw in redis_client.hgetall("unacked").items():
        message, _exchange, routing_key = json.loads(raw)
        headers = message["headers"]
        if (
            schema in routing_key
            and headers.get("task") == RUN_IMPORT
            and headers.get("argsrepr") in (f"({job_id}, False)", f"[{job_id}, False]")
        ):
            tags.append(str(tag))
    return tags


def hand_back(app: Any, tag: str) -> None:
    """Put an unacknowledged message back on its queue now, as kombu's Redis transport does
    by itself once the visibility timeout (900 s) has passed."""
    with app.connection_for_write(transport_options=app.conf.broker_transport_options) as conn:
        conn.default_channel.qos.restore_by_tag(tag)
