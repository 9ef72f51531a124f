"""A real Gunicorn serving Kestrel, for tests (and benchmarks) that need a server process.

Gunicorn runs the image's web command (`gunicorn config.wsgi:application -c
deploy/gunicorn.conf.py`) on a free loopback port, in a process group of its own, against
the database and Redis it is given. By default it runs the test settings (no collectstatic
needed, the suite's generous API rate limits); pass `settings_module` for others.

    from tests.reliability.live import database_url, start_gunicorn

    server = start_gunicorn(database_url=database_url(), redis_url=..., log=tmp / "g.log")
    try:
        status, headers, body = server.get("/healthz", host="localhost")
    finally:
        server.stop()

Python cannot resolve *.localhost: requests go to 127.0.0.1:<port> with a Host header,
`server.host(slug)` being `<slug>.<base domain>`.
"""

from __future__ import annotations

import atexit
import contextlib
import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
GUNICORN_CONF = ROOT / "deploy" / "gunicorn.conf.py"
WEB_COMMAND = ["config.wsgi:application", "-c", str(GUNICORN_CONF)]
START_TIMEOUT = 60.0

_RUNNING: list[LiveServer] = []


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def database_url() -> str:
    """The URL of the database the calling process's Django is connected to (in a test:
    the test database pytest-django created; call it with database access)."""
    from urllib.parse import quote

    from tenants.db import connection

    db = connection.settings_dict
    auth = quote(db.get("USER") or "", safe="")
    if db.get("PASSWORD"):
        auth += ":" + quote(db["PASSWORD"], safe="")
    port = f":{db['PORT']}" if db.get("PORT") else ""
    return f"postgresql://{auth}@{db.get('HOST') or '127.0.0.1'}{port}/{db['NAME']}"


def redis_url() -> str:
    """The Redis the calling process's cache uses (the server should share it: the host
    table's generation counter and the caches live there)."""
    from django.conf import settings

    return str(settings.CACHES["default"]["LOCATION"])


class LiveServer:
    """A running Gunicorn master and its workers."""

    def __init__(
        self, port: int, process: subprocess.Popen[bytes], log: Path, base_domain: str
    ) -> None:
        self.port = port
        self.process = process
        self.log = log
        self.base_domain = base_domain

    def host(self, slug: str | None = None) -> str:
        """The Host header of organisation `slug` (the base domain without one)."""
        return f"{slug}.{self.base_domain}" if slug else self.base_domain

    def connection(self, timeout: float = 30.0) -> http.client.HTTPConnection:
        """A new keep-alive connection to the server (one per thread: they are not shared)."""
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def request(
        self,
        method: str,
        path: str,
        *,
        host: str,
        headers: Mapping[str, str] | None = None,
        body: bytes | str | None = None,
        timeout: float = 30.0,
    ) -> tuple[int, dict[str, str], bytes]:
        """One request on a connection of its own: (status, lower-cased headers, body)."""
        connection = self.connection(timeout)
        try:
            connection.request(method, path, body=body, headers={"Host": host, **(headers or {})})
            response = connection.getresponse()
            return (
                response.status,
                {k.lower(): v for k, v in response.getheaders()},
                response.read(),
            )
        finally:
            connection.close()

    def get(
        self, path: str, *, host: str, headers: Mapping[str, str] | None = None
    ) -> tuple[int, dict[str, str], bytes]:
        return self.request("GET", path, host=host, headers=headers)

    def wait_until_ready(self, timeout: float = START_TIMEOUT) -> LiveServer:
        """Block until the server listens and answers /healthz (see `start_gunicorn(wait=)`);
        stops it and raises if it does not within `timeout` seconds."""
        _wait_until_listening(self, timeout)
        _wait_until_ready(self, timeout)
        return self

    @property
    def running(self) -> bool:
        return self.process.poll() is None

    def log_tail(self, chars: int = 4000) -> str:
        try:
            return self.log.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM to the whole group (master and workers), SIGKILL if it lingers."""
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        if self in _RUNNING:
            _RUNNING.remove(self)


def _wait_until_listening(server: LiveServer, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", server.port), timeout=1).close()
            return
        except OSError:
            if not server.running or time.monotonic() > deadline:
                server.stop()
                raise RuntimeError(
                    f"Gunicorn did not start on port {server.port}:\n{server.log_tail()}"
                ) from None
            time.sleep(0.1)


def _wait_until_ready(server: LiveServer, timeout: float) -> None:
    """Every worker imports Django lazily; /healthz answering once means one worker is up.
    Ask a few times so the first requests of the caller do not all pay the import."""
    deadline = time.monotonic() + timeout
    answered = 0
    while answered < 3:
        try:
            status, _, _ = server.get("/healthz", host=server.host())
        except OSError:
            status = 0
        if status == 200:
            answered += 1
            continue
        if not server.running or time.monotonic() > deadline:
            server.stop()
            raise RuntimeError(f"Gunicorn did not answer /healthz:\n{server.log_tail()}")
        time.sleep(0.1)


def start_gunicorn(
    *,
    database_url: str,
    redis_url: str,
    log: Path,
    settings_module: str = "config.settings.test",
    workers: int = 2,
    threads: int = 4,
    base_domain: str = "localhost",
    env: Mapping[str, str] | None = None,
    pythonpath: Sequence[str | Path] = (),
    extra_args: Sequence[str] = (),
    timeout: float = START_TIMEOUT,
    wait: bool = True,
) -> LiveServer:
    """Start Gunicorn with deploy/gunicorn.conf.py on a free loopback port and wait until it
    answers /healthz. WEB_CONCURRENCY / GUNICORN_THREADS are `workers` / `threads`.
    `env` adds to (or overrides) the environment: give it the caller's DJANGO_SECRET_KEY when
    sessions or signed values made in the calling process must be valid there (the test
    settings fall back to a fixed development key). `pythonpath` is put before the project
    (e.g. a folder holding a settings module of the caller's). With `wait=False` it returns
    at once: the caller does other work while the workers boot, then calls
    `server.wait_until_ready()`. The server is stopped when the calling process exits, if the
    caller has not stopped it before."""
    port = free_port()
    environment = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([*(str(p) for p in pythonpath), str(ROOT)]),
        "DJANGO_SETTINGS_MODULE": settings_module,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "BASE_DOMAIN": base_domain,
        "WEB_CONCURRENCY": str(workers),
        "GUNICORN_THREADS": str(threads),
        "PYTHONUNBUFFERED": "1",
        **(env or {}),
    }
    environment.pop("GUNICORN_CMD_ARGS", None)
    gunicorn = str(Path(sys.executable).parent / "gunicorn")
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [gunicorn, *WEB_COMMAND, "--bind", f"127.0.0.1:{port}", *extra_args],
            cwd=ROOT,
            env=environment,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    server = LiveServer(port, process, log, base_domain)
    _RUNNING.append(server)
    return server.wait_until_ready(timeout) if wait else server


@atexit.register
def _stop_all() -> None:
    for server in list(_RUNNING):
        with contextlib.suppress(Exception):
            server.stop(timeout=10)
