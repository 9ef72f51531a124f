"""Prometheus metrics shared by every process through Redis.

Web runs several gunicorn processes and workers run elsewhere, so counters and histogram
buckets live in Redis hashes under `platform:metrics:` (platform keys, not a tenant's cache
keys), one hash per metric, one field per label set (and bucket). A request adds to five
fields and a task to three, in the process's buffer; a background thread sends the buffer
every second in one pipelined round trip (MetricsStore). A failing Redis never fails or slows
the request or the task: the counts wait in the buffer and the failed send is counted.

`/metrics` (views.py) renders the hashes through `RedisCollector`, with what is read at
scrape time: each organisation's queue depth (one pipelined LLEN round trip to the broker)
and the number of organisations per status.

Label values are joined with "|" in a field; no label value we write contains one (schema
names, HTTP methods, status classes, URL names and task names).
"""

from __future__ import annotations

import atexit
import bisect
import logging
import os
import threading
from collections import defaultdict
from collections.abc import Iterable, Iterator

import redis
from django.conf import settings
from prometheus_client.metrics_core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
    SummaryMetricFamily,
)
from prometheus_client.registry import Collector

logger = logging.getLogger(__name__)

PREFIX = "platform:metrics:"
HTTP_REQUESTS = PREFIX + "http_requests_total"
HTTP_DURATION = PREFIX + "http_request_duration_seconds"
HTTP_VIEWS = PREFIX + "http_view_requests_total"
HTTP_VIEW_SECONDS = PREFIX + "http_view_duration_seconds"
TASKS = PREFIX + "tasks_total"
TASK_DURATION = PREFIX + "task_duration_seconds"
KEYS = (HTTP_REQUESTS, HTTP_DURATION, HTTP_VIEWS, HTTP_VIEW_SECONDS, TASKS, TASK_DURATION)
# Hashes whose first label is the tenant: fields of organisations that no longer exist are
# removed at scrape time, so deleted organisations do not stay on the dashboard for ever.
TENANT_KEYS = (HTTP_REQUESTS, HTTP_DURATION, TASKS, TASK_DURATION)

HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
TASK_BUCKETS = (0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
TASK_STATES = {"SUCCESS": "succeeded", "FAILURE": "failed", "RETRY": "retried"}

# Labels for requests that reached no organisation (an unknown host) and for platform work.
UNKNOWN_TENANT = "unknown"
PUBLIC_TENANT = "public"
SHARED_QUEUE_TENANT = "shared"

_START_LOCK = threading.Lock()


def _bucket(buckets: tuple[float, ...], seconds: float) -> str:
    index = bisect.bisect_left(buckets, seconds)
    return repr(buckets[index]) if index < len(buckets) else "+Inf"


def _label(value: str) -> str:
    return value.replace("|", "_")


class MetricsStore:
    """The Redis hashes behind the metrics, for one Redis URL.

    Requests and tasks add to an in-process buffer (a dict update, a few microseconds); a
    background thread of each process sends the buffer every KESTREL_METRICS_FLUSH_SECONDS
    in one pipelined round trip, so no request waits on Redis. A failed send keeps the
    buffer (it is bounded by the number of label sets, not by traffic) for the next try and
    is counted; at most one interval of counts is lost if the process is killed.
    """

    def __init__(self, url: str, *, interval: float = 1.0) -> None:
        self.url = url
        self.interval = interval
        self._writer: redis.Redis | None = None
        self._reader: redis.Redis | None = None
        self._pid = 0
        self._lock = threading.Lock()
        self._flushing = threading.Lock()  # one send at a time; a scrape waits for it
        self._pending: dict[tuple[str, str], int | float] = {}
        self._wake = threading.Event()
        # This process's sends that failed (Redis down or unreachable), and whether the last
        # one did.
        self.failures = 0
        self.failing = False

    def writer(self) -> redis.Redis:
        if self._writer is None:
            self._writer = redis.Redis.from_url(
                self.url, socket_connect_timeout=0.5, socket_timeout=1
            )
        return self._writer

    def reader(self) -> redis.Redis:
        if self._reader is None:
            self._reader = redis.Redis.from_url(
                self.url, socket_connect_timeout=2, socket_timeout=5, decode_responses=True
            )
        return self._reader

    def _add(self, increments: Iterable[tuple[str, str, int | float]]) -> None:
        if self._pid != os.getpid():
            self._start_flusher()
        with self._lock:
            pending = self._pending
            for key, field, amount in increments:
                slot = (key, field)
                pending[slot] = pending.get(slot, 0) + amount

    def _start_flusher(self) -> None:
        """Once per process (a forked child starts its own, without its parent's buffer)."""
        with _START_LOCK:
            if self._pid == os.getpid():
                return
            self._lock = threading.Lock()
            self._flushing = threading.Lock()
            self._pending = {}
            self._wake = threading.Event()
            self._writer = None  # never share a parent's socket
            self._pid = os.getpid()
            threading.Thread(target=self._run, name="kestrel-metrics-flush", daemon=True).start()

    def _run(self) -> None:
        pid = os.getpid()
        while self._pid == pid:
            self._wake.wait(self.interval)
            self._wake.clear()
            self.flush()

    def close(self) -> None:
        """Stop this process's flusher (what it holds stays unsent)."""
        self._pid = -1
        self._wake.set()

    def flush(self) -> bool:
        """Send the buffer now; True if it is empty afterwards. Never raises."""
        with self._flushing:
            return self._send()

    def _send(self) -> bool:
        with self._lock:
            pending, self._pending = self._pending, {}
        if not pending:
            return True
        try:
            pipe = self.writer().pipeline(transaction=False)
            for (key, field), amount in pending.items():
                if isinstance(amount, float):
                    pipe.hincrbyfloat(key, field, amount)
                else:
                    pipe.hincrby(key, field, amount)
            pipe.execute()
        except redis.ResponseError:
            # Redis answered but refused a command (e.g. a key of another type): the batch
            # was applied except for that, so it is not sent again.
            with self._lock:
                self.failures += 1
            logger.warning("metrics: Redis refused a metrics write", exc_info=True)
            return False
        except Exception:  # any failure of the metrics store stays out of the product
            with self._lock:
                for slot, amount in pending.items():
                    self._pending[slot] = self._pending.get(slot, 0) + amount
                self.failures += 1
            if not self.failing:
                logger.warning("metrics: cannot write to Redis; keeping counts", exc_info=True)
            self.failing = True
            return False
        if self.failing:
            logger.info("metrics: writing to Redis again")
        self.failing = False
        return True

    def pending(self) -> int:
        """How many counters wait in this process's buffer."""
        with self._lock:
            return len(self._pending)

    def record_request(
        self, *, tenant: str, method: str, status: int, seconds: float, view: str
    ) -> None:
        tenant = _label(tenant)
        view = _label(view)
        method = method if method in METHODS else "other"
        status_class = f"{status // 100}xx"
        self._add(
            (
                (HTTP_REQUESTS, f"{tenant}|{method}|{status_class}", 1),
                (HTTP_DURATION, f"{tenant}|{_bucket(HTTP_BUCKETS, seconds)}", 1),
                (HTTP_DURATION, f"{tenant}|sum", float(seconds)),
                (HTTP_VIEWS, f"{view}|{status_class}", 1),
                (HTTP_VIEW_SECONDS, f"{view}|sum", float(seconds)),
            )
        )

    def record_task(self, *, tenant: str, task: str, state: str, seconds: float) -> None:
        tenant = _label(tenant)
        task = _label(task)
        self._add(
            (
                (TASKS, f"{tenant}|{task}|{state}", 1),
                (TASK_DURATION, f"{tenant}|{task}|{_bucket(TASK_BUCKETS, seconds)}", 1),
                (TASK_DURATION, f"{tenant}|{task}|sum", float(seconds)),
            )
        )

    def read(self) -> dict[str, dict[str, str]]:
        """Every metric hash, in one round trip."""
        pipe = self.reader().pipeline(transaction=False)
        for key in KEYS:
            pipe.hgetall(key)
        return dict(zip(KEYS, pipe.execute(), strict=True))

    def forget_tenants_except(
        self, hashes: dict[str, dict[str, str]], known: set[str]
    ) -> dict[str, dict[str, str]]:
        """Drop the fields of organisations not in `known` (deleted ones) from Redis and
        from `hashes`."""
        stale: dict[str, list[str]] = {}
        for key in TENANT_KEYS:
            fields = hashes.get(key, {})
            gone = [field for field in fields if field.split("|", 1)[0] not in known]
            if gone:
                stale[key] = gone
                for field in gone:
                    del fields[field]
        if stale:
            pipe = self.reader().pipeline(transaction=False)
            for key, gone in stale.items():
                pipe.hdel(key, *gone)
            pipe.execute()
        return hashes

    def clear(self) -> None:
        self.reader().delete(*KEYS)


_stores: dict[str, MetricsStore] = {}


def store() -> MetricsStore:
    """The store at KESTREL_METRICS_REDIS_URL (one per URL and process)."""
    url = settings.KESTREL_METRICS_REDIS_URL or settings.CELERY_BROKER_URL
    found = _stores.get(url)
    if found is None:
        interval = float(getattr(settings, "KESTREL_METRICS_FLUSH_SECONDS", 1.0))
        found = _stores.setdefault(url, MetricsStore(url, interval=interval))
    return found


@atexit.register
def flush_all() -> None:
    """Send what this process still holds (a gunicorn worker or Celery child that exits)."""
    for each in list(_stores.values()):
        if each._pid == os.getpid():
            each.flush()


# --- reading at scrape time ---------------------------------------------------------------


def organisations() -> list[tuple[str, str]]:
    """(schema, status) of every organisation."""
    from tenants.models import Tenant

    return list(
        Tenant.objects.exclude(schema_name=settings.PUBLIC_SCHEMA_NAME)
        .order_by("schema_name")
        .values_list("schema_name", "status")
    )


def queue_depths(schemas: Iterable[str]) -> list[tuple[str, str, str, int]]:
    """(tenant, kind, queue, messages waiting) for every organisation's queues and the
    default queue, in one pipelined round trip to the broker's Redis. With
    KESTREL_QUEUE_SHARDS organisations share queues; those are labelled tenant="shared"."""
    from config.celery_app import app
    from tenants.queues import DEFAULT_QUEUE, KINDS, queue_name

    queues: dict[str, tuple[str, str]] = {}
    for schema in schemas:
        for kind in KINDS:
            name = queue_name(schema, kind)
            owner = queues.get(name)
            tenant = schema if owner is None else SHARED_QUEUE_TENANT
            queues[name] = (tenant, kind)
    default = str(app.conf.task_default_queue or DEFAULT_QUEUE)
    queues[default] = (PUBLIC_TENANT, "default")
    # Sharded queues are named for their shard, not for an organisation.
    if int(getattr(settings, "KESTREL_QUEUE_SHARDS", 0) or 0) > 0:
        queues = {
            name: (PUBLIC_TENANT if name == default else SHARED_QUEUE_TENANT, kind)
            for name, (_, kind) in queues.items()
        }
    names = sorted(queues)
    client = _broker_client(str(app.conf.broker_url))
    pipe = client.pipeline(transaction=False)
    for name in names:
        pipe.llen(name)
    depths = pipe.execute()
    return [(*queues[name], name, int(depth)) for name, depth in zip(names, depths, strict=True)]


_broker_clients: dict[str, redis.Redis] = {}


def _broker_client(url: str) -> redis.Redis:
    client = _broker_clients.get(url)
    if client is None:
        client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=5)
        _broker_clients[url] = client
    return client


def _split(field: str) -> tuple[list[str], str]:
    labels = field.split("|")
    return labels[:-1], labels[-1]


def _histogram(
    name: str,
    documentation: str,
    labels: list[str],
    buckets: tuple[float, ...],
    fields: dict[str, str],
) -> HistogramMetricFamily:
    family = HistogramMetricFamily(name, documentation, labels=labels)
    counts: dict[tuple[str, ...], dict[str, float]] = defaultdict(dict)
    for field, value in fields.items():
        values, last = _split(field)
        counts[tuple(values)][last] = float(value)
    edges = [repr(edge) for edge in buckets] + ["+Inf"]
    for label_values, per_bucket in sorted(counts.items()):
        running = 0.0
        cumulative = []
        for edge in edges:
            running += per_bucket.get(edge, 0.0)
            cumulative.append((edge, running))
        family.add_metric(list(label_values), cumulative, per_bucket.get("sum", 0.0))
    return family


def _counter(
    name: str, documentation: str, labels: list[str], fields: dict[str, str]
) -> CounterMetricFamily:
    family = CounterMetricFamily(name, documentation, labels=labels)
    for field, value in sorted(fields.items()):
        family.add_metric(field.split("|"), float(value))
    return family


class RedisCollector(Collector):
    """Renders the shared counters and histograms, plus what is read at scrape time."""

    def collect(self) -> Iterator[Metric]:
        shared = store()
        shared.flush()  # this process's own latest counts
        up = GaugeMetricFamily(
            "kestrel_metrics_store_up", "1 if the shared metrics (Redis) could be read."
        )
        failures = CounterMetricFamily(
            "kestrel_metrics_flush_failures",
            "Sends of this process's buffered counts to Redis that failed (kept for the next).",
        )
        failures.add_metric([], float(shared.failures))
        yield failures
        pending = GaugeMetricFamily(
            "kestrel_metrics_pending",
            "Counters this process holds that Redis does not have yet.",
        )
        pending.add_metric([], shared.pending())
        yield pending

        tenants: list[tuple[str, str]] | None
        try:
            tenants = organisations()
        except Exception:  # the database being down must not hide the rest
            logger.warning("metrics: could not list organisations", exc_info=True)
            tenants = None

        if tenants is not None:
            by_status = GaugeMetricFamily(
                "kestrel_tenants", "Organisations by status.", labels=["status"]
            )
            from tenants.models import TenantStatus

            counts = {status.value: 0 for status in TenantStatus}
            for _, status in tenants:
                counts[status] = counts.get(status, 0) + 1
            for status, count in sorted(counts.items()):
                by_status.add_metric([status], count)
            yield by_status
            yield from self._queues([schema for schema, _ in tenants])

        try:
            hashes = shared.read()
            if tenants is not None:
                known = {schema for schema, _ in tenants} | {PUBLIC_TENANT, UNKNOWN_TENANT}
                hashes = shared.forget_tenants_except(hashes, known)
        except Exception:
            logger.warning("metrics: could not read the shared metrics from Redis", exc_info=True)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from self._from_hashes(hashes)

    def _queues(self, schemas: list[str]) -> Iterator[Metric]:
        try:
            depths = queue_depths(schemas)
        except Exception:
            logger.warning("metrics: could not read queue depths from the broker", exc_info=True)
            return
        family = GaugeMetricFamily(
            "kestrel_queue_depth",
            "Messages waiting in each organisation's Celery queue (and the default queue).",
            labels=["tenant", "kind", "queue"],
        )
        for tenant, kind, queue, depth in depths:
            family.add_metric([tenant, kind, queue], depth)
        yield family

    def _from_hashes(self, hashes: dict[str, dict[str, str]]) -> Iterator[Metric]:
        yield _counter(
            "kestrel_http_requests",
            "HTTP requests served, by organisation (schema; public; unknown host).",
            ["tenant", "method", "status_class"],
            hashes[HTTP_REQUESTS],
        )
        yield _histogram(
            "kestrel_http_request_duration_seconds",
            "Time to build each HTTP response, by organisation.",
            ["tenant"],
            HTTP_BUCKETS,
            hashes[HTTP_DURATION],
        )
        yield _counter(
            "kestrel_http_view_requests",
            "HTTP requests by URL name (all organisations together).",
            ["view", "status_class"],
            hashes[HTTP_VIEWS],
        )
        view_counts: dict[str, int] = defaultdict(int)
        for field, value in hashes[HTTP_VIEWS].items():
            view_counts[field.rsplit("|", 1)[0]] += int(value)
        summary = SummaryMetricFamily(
            "kestrel_http_view_duration_seconds",
            "Time to build each HTTP response, by URL name (all organisations together).",
            labels=["view"],
        )
        for field, value in sorted(hashes[HTTP_VIEW_SECONDS].items()):
            view = field.rsplit("|", 1)[0]
            summary.add_metric([view], view_counts.get(view, 0), float(value))
        yield summary
        yield _counter(
            "kestrel_tasks",
            "Celery task runs by organisation, task and outcome (succeeded, failed, retried).",
            ["tenant", "task", "state"],
            hashes[TASKS],
        )
        yield _histogram(
            "kestrel_task_duration_seconds",
            "Celery task run time, by organisation and task.",
            ["tenant", "task"],
            TASK_BUCKETS,
            hashes[TASK_DURATION],
        )


def task_state(state: str | None) -> str:
    """Celery's state after a run as our label. None: the run's exception escaped the tracer
    (an eager run that propagates errors), i.e. it failed."""
    if state is None:
        return "failed"
    return TASK_STATES.get(state, state.lower())
