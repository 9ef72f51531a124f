"""Prometheus metrics shared by every process through Redis.

Web runs several gunicorn processes and workers run elsewhere, so counters and histogram
buckets live in Redis hashes under `platform:metrics:` (platform keys, not a tenant's cache
keys), one hash per metric, one field per label set (and bucket). A request adds to five
fields and a task to three, in one pipelined round trip. A failing Redis never fails the
request or the task: the write is dropped and counted, and writes pause for a few seconds so
an unreachable Redis costs one timeout per process, not one per request.

`/metrics` (views.py) renders the hashes through `RedisCollector`, with what is read at
scrape time: each organisation's queue depth (one pipelined LLEN round trip to the broker)
and the number of organisations per status.

Label values are joined with "|" in a field; no label value we write contains one (schema
names, HTTP methods, status classes, URL names and task names).
"""

from __future__ import annotations

import bisect
import logging
import threading
import time
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

# After a failed write, writes are skipped for this long (seconds).
BACKOFF_SECONDS = 5.0


def _bucket(buckets: tuple[float, ...], seconds: float) -> str:
    index = bisect.bisect_left(buckets, seconds)
    return repr(buckets[index]) if index < len(buckets) else "+Inf"


def _label(value: str) -> str:
    return value.replace("|", "_")


class MetricsStore:
    """The Redis hashes behind the metrics, for one Redis URL."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._writer: redis.Redis | None = None
        self._reader: redis.Redis | None = None
        self._paused_until = 0.0
        self._lock = threading.Lock()
        # This process's writes that were not recorded (Redis failed or writes were paused).
        self.dropped = 0

    def writer(self) -> redis.Redis:
        if self._writer is None:
            # Short timeouts: a write sits on the request's path.
            self._writer = redis.Redis.from_url(
                self.url, socket_connect_timeout=0.25, socket_timeout=0.25
            )
        return self._writer

    def reader(self) -> redis.Redis:
        if self._reader is None:
            self._reader = redis.Redis.from_url(
                self.url, socket_connect_timeout=2, socket_timeout=5, decode_responses=True
            )
        return self._reader

    def _write(self, increments: Iterable[tuple[str, str, int | float]]) -> bool:
        if time.monotonic() < self._paused_until:
            with self._lock:
                self.dropped += 1
            return False
        try:
            pipe = self.writer().pipeline(transaction=False)
            for key, field, amount in increments:
                if isinstance(amount, float):
                    pipe.hincrbyfloat(key, field, amount)
                else:
                    pipe.hincrby(key, field, amount)
            pipe.execute()
            return True
        except Exception:  # any failure of the metrics store must stay out of the request
            with self._lock:
                self.dropped += 1
                self._paused_until = time.monotonic() + BACKOFF_SECONDS
            logger.warning("metrics not recorded: Redis at the metrics URL failed", exc_info=True)
            return False

    def record_request(
        self, *, tenant: str, method: str, status: int, seconds: float, view: str
    ) -> bool:
        tenant = _label(tenant)
        view = _label(view)
        method = method if method in METHODS else "other"
        status_class = f"{status // 100}xx"
        return self._write(
            (
                (HTTP_REQUESTS, f"{tenant}|{method}|{status_class}", 1),
                (HTTP_DURATION, f"{tenant}|{_bucket(HTTP_BUCKETS, seconds)}", 1),
                (HTTP_DURATION, f"{tenant}|sum", float(seconds)),
                (HTTP_VIEWS, f"{view}|{status_class}", 1),
                (HTTP_VIEW_SECONDS, f"{view}|sum", float(seconds)),
            )
        )

    def record_task(self, *, tenant: str, task: str, state: str, seconds: float) -> bool:
        tenant = _label(tenant)
        task = _label(task)
        return self._write(
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
        found = _stores.setdefault(url, MetricsStore(url))
    return found


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
        up = GaugeMetricFamily(
            "kestrel_metrics_store_up", "1 if the shared metrics (Redis) could be read."
        )
        dropped = CounterMetricFamily(
            "kestrel_metrics_dropped",
            "Metric writes this process could not record (Redis failing or paused).",
        )
        dropped.add_metric([], float(shared.dropped))
        yield dropped

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
