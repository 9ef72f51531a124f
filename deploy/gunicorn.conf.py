"""Gunicorn for the web role, sized from the environment:

    gunicorn config.wsgi:application -c deploy/gunicorn.conf.py

WEB_CONCURRENCY   worker processes (Gunicorn's own convention); default twice the CPUs this
                  container may use (its cgroup quota, else its CPU affinity), 2 to 8.
GUNICORN_THREADS  threads per worker; default 4. Above 1 the workers are `gthread`, so a
                  request waiting on PostgreSQL does not hold a whole process; 1 gives plain
                  `sync` workers. Each thread may hold a database connection: a pod opens up to
                  WEB_CONCURRENCY x GUNICORN_THREADS of them (PgBouncer takes the strain).
FORWARDED_ALLOW_IPS  addresses whose X-Forwarded-* headers are believed (Gunicorn's own
                  variable); default "*": the web container is reachable only through the
                  reverse proxy (compose) or the ingress (Kubernetes). Behind such a proxy the
                  client's address becomes REMOTE_ADDR (see `post_worker_init`), which the
                  per-IP rate limits and the audit log read.

Anything else can be overridden with GUNICORN_CMD_ARGS (e.g. "--timeout 120").
"""

from __future__ import annotations

import contextlib
import ipaddress
import math
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    return int(value) if value else default


def available_cpus() -> float:
    """CPUs this process may use: the cgroup v2 quota (a Kubernetes CPU limit, `docker run
    --cpus`) when there is one, else the CPUs it may be scheduled on."""
    try:
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()[:2]
        if quota != "max":
            return max(int(quota) / int(period), 1.0)
    except (OSError, ValueError):
        pass
    try:
        return float(len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return float(os.cpu_count() or 1)


def default_workers(cpus: float) -> int:
    # Two per CPU, at least 2 (one can restart while the other serves) and at most 8 (each is
    # a whole Django process, ~150 MB; past that, run more pods instead).
    return min(max(2, math.ceil(cpus) * 2), 8)


bind = "0.0.0.0:8000"
workers = _env_int("WEB_CONCURRENCY", default_workers(available_cpus()))
threads = _env_int("GUNICORN_THREADS", 4)
worker_class = "gthread" if threads > 1 else "sync"

# A request running longer than this is cut off (sync) / the worker is restarted (gthread,
# when it stops answering its heartbeat). Imports and exports run on the queue, not here.
timeout = 60
# On SIGTERM (a deploy, a scale-down) running requests get this long to finish.
graceful_timeout = 30
# Longer than the proxy's idle keep-alive to us (Caddy 60 s, ingress-nginx 60 s), so the
# proxy, not Gunicorn, closes an idle connection and never sends on one just closed.
keepalive = 75
# Django is loaded once, in the master, before the workers fork: a worker that is replaced
# starts in milliseconds instead of importing the whole application again (about a second of
# CPU each time, which under load was taken from the requests). Nothing opens a connection or
# starts a thread at import; the metrics buffer and the Redis and Sentry clients start their
# own after the fork.
preload_app = True
# Each worker is replaced after about this many requests, which bounds slow memory growth;
# the jitter keeps the workers from all restarting at once.
max_requests = 5000
max_requests_jitter = 500

# The heartbeat file in memory: on a disk-backed /tmp its fchmod may stall a worker.
SHM = "/dev/shm"  # noqa: S108 - a tmpfs of the container's own, not a shared /tmp
worker_tmp_dir = SHM if os.path.isdir(SHM) else None
# No control socket: it would be created under $HOME, read-only in the container.
control_socket_disable = True

# Django logs each request itself (with request id, organisation and user): no access log.
accesslog = None
errorlog = "-"
loglevel = "info"

forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "*")
# Gunicorn would let a trusted forwarder set SCRIPT_NAME and PATH_INFO by headers of those
# names; the proxy passes a client's headers on, so that would be any client's to set.
# Kestrel is served at the root: no header sets the server's environment.
forwarder_headers = ""


def trusted(peer: str, allowed: Iterable[str]) -> bool:
    """Whether `peer` is one of the `allowed` addresses or networks ("*": any)."""
    try:
        address = ipaddress.ip_address(peer)
    except ValueError:
        return False
    for entry in allowed:
        entry = entry.strip()
        if entry == "*":
            return True
        try:
            if address in ipaddress.ip_network(entry, strict=False):
                return True
        except ValueError:
            continue
    return False


def behind_proxy(app: Callable[..., Any], allowed: Iterable[str]) -> Callable[..., Any]:
    """WSGI wrapper: when the peer is a trusted proxy, REMOTE_ADDR becomes the address that
    proxy appended last to X-Forwarded-For (the client it talked to). Entries further left
    came from the client and are never believed."""
    allowed = [a for a in allowed if a.strip()]

    def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        forwarded = environ.get("HTTP_X_FORWARDED_FOR", "")
        if forwarded and trusted(str(environ.get("REMOTE_ADDR", "")), allowed):
            client = forwarded.split(",")[-1].strip()
            with contextlib.suppress(ValueError):
                environ["REMOTE_ADDR"] = str(ipaddress.ip_address(client))
        return app(environ, start_response)

    return application


def post_worker_init(worker: Any) -> None:
    allowed = worker.cfg.forwarded_allow_ips
    worker.wsgi = behind_proxy(
        worker.wsgi, allowed.split(",") if isinstance(allowed, str) else allowed
    )
