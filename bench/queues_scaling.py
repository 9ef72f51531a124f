"""How a worker's consume loop scales with the number of organisations' queues.

    .venv/bin/python bench/queues_scaling.py [--orgs 1,100,1000,5000] [--blocks 3]
                         [--rounds 40] [--messages 300] [--idle-brpops 200]

Nothing is provisioned in PostgreSQL: the queues are declared on kombu's Redis transport
directly, named as tenants/queues.py names them (`t.<schema>.reminders`, `t.<schema>.reports`
for N organisations, or `<kind>.s<k>` with KESTREL_QUEUE_SHARDS), with the product's broker
transport options. One kombu consumer then consumes all of them, as a worker's main process
does: one BRPOP naming every queue (times kombu's priority steps: 4 keys per queue by
default), re-issued after every message, rotating the queue just served to the end. Every
message is acknowledged after its callback (late acks), through kombu's unacked hash, as a
task would be.

Measured for each number of organisations and variant:

- pick-up, idle worker: the consumer is blocked in BRPOP; one message is published to the
  queue its BRPOP names last; time from publish to the consumer's callback (p50, p95);
- pick-up, busy worker: the message is already waiting in the queue named last when the
  consumer asks (a worker coming back from a task); time for one `drain_events` (p50, p95);
- drain: `--messages` messages waiting in random queues; messages a second for one consumer,
  and the consumer's own CPU per message (building and parsing the BRPOP);
- Redis's own time per BRPOP (INFO commandstats): while draining, and for the BRPOP an idle
  worker re-issues every second on its empty queues (measured as a loop of that same BRPOP
  with a 1 ms timeout, so that other clients of a shared Redis barely count; their BRPOPs
  in the intervals are reported);
- the size of one BRPOP command on the wire.

Variants: the product's settings (`priority_steps: [0]`, one Redis list per queue); kombu's
default priority steps (four lists per queue: the baseline); and KESTREL_QUEUE_SHARDS=16
(32 queues whatever the number of organisations).

Uses REDIS_URL (the embedded development Redis without it): give it a database no
deployment uses, since the shard queues it declares and deletes at the end (`reminders.s<k>`,
`reports.s<k>`) are the product's own names; the per-organisation ones are `t.t_qbench*`.
Results: a markdown table on stdout and bench/results/queues_scaling.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.development")

import django  # noqa: E402

django.setup()

import redis  # noqa: E402
from django.conf import settings  # noqa: E402
from django.test import override_settings  # noqa: E402
from kombu import Connection, Consumer, Exchange, Producer, Queue  # noqa: E402

from tenants.queues import KINDS, queue_name  # noqa: E402

SCHEMA = "t_qbench{:05d}"  # as schema_name_for_slug makes them: t_<slug>
SHARDS = 16
BINDING_PREFIXES = ("_kombu.binding.", "_kombu.binding_permanent.")


@dataclass
class Case:
    label: str
    organisations: int
    queues: list[str]
    transport_options: dict[str, Any]
    keys_per_brpop: int = 0
    brpop_bytes: int = 0
    idle_pickup_ms: list[float] = field(default_factory=list)
    busy_pickup_ms: list[float] = field(default_factory=list)
    # Sums over the blocks.
    drained: int = 0
    drain_seconds: float = 0.0
    drain_cpu_seconds: float = 0.0
    drain_redis_usec: int = 0
    idle_brpops: int = 0
    idle_seconds: float = 0.0
    idle_redis_usec: int = 0

    @property
    def drain_per_second(self) -> float:
        return self.drained / self.drain_seconds

    @property
    def drain_client_cpu_us(self) -> float:
        return self.drain_cpu_seconds / self.drained * 1e6

    @property
    def drain_redis_us_per_brpop(self) -> float:
        return self.drain_redis_usec / self.drained

    @property
    def idle_redis_us_per_brpop(self) -> float:
        return self.idle_redis_usec / self.idle_brpops

    @property
    def idle_brpop_round_trip_ms(self) -> float:
        return self.idle_seconds / self.idle_brpops * 1000

    def summary(self) -> dict[str, Any]:
        return asdict(self) | {
            "queues": len(self.queues),
            "sample_queue": self.queues[-1],
            "drain_per_second": self.drain_per_second,
            "drain_client_cpu_us": self.drain_client_cpu_us,
            "drain_redis_us_per_brpop": self.drain_redis_us_per_brpop,
            "idle_redis_us_per_brpop": self.idle_redis_us_per_brpop,
            "idle_brpop_round_trip_ms": self.idle_brpop_round_trip_ms,
        }

    foreign_brpops: int = 0


def names(organisations: int, shards: int = 0) -> list[str]:
    with override_settings(KESTREL_QUEUE_SHARDS=shards):
        found = {queue_name(SCHEMA.format(i), kind) for i in range(organisations) for kind in KINDS}
    return sorted(found)


def declare(conn: Connection, queues: list[str]) -> list[Queue]:
    # As Celery declares a queue it is told to consume: a direct exchange of the same name.
    declared = [Queue(name, Exchange(name, type="direct"), routing_key=name) for name in queues]
    channel = conn.default_channel
    for queue in declared:
        queue.bind(channel).declare()
    return declared


def cleanup(client: redis.Redis, queues: list[str]) -> None:
    steps = [0, 3, 6, 9]
    sep = "\x06\x16"
    keys = [q if p == 0 else f"{q}{sep}{p}" for q in queues for p in steps]
    keys += [f"{prefix}{q}" for q in queues for prefix in BINDING_PREFIXES]
    for start in range(0, len(keys), 1000):
        client.delete(*keys[start : start + 1000])


def brpop_stats(client: redis.Redis) -> tuple[int, int]:
    stats = client.info("commandstats").get("cmdstat_brpop", {})
    return int(stats.get("calls", 0)), int(stats.get("usec", 0))


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


class Receiver:
    """The consumer side: one connection, one kombu Consumer on every queue, late acks."""

    def __init__(self, url: str, declared: list[Queue], options: dict[str, Any]) -> None:
        self.conn = Connection(url, transport_options=options)
        self.conn.connect()
        self.received: list[tuple[float, Any]] = []
        self.consumer = Consumer(
            self.conn.default_channel,
            queues=declared,
            callbacks=[self.on_message],
            accept=["json"],
            prefetch_count=1,
        )
        self.consumer.consume()

    def on_message(self, body: Any, message: Any) -> None:
        self.received.append((time.monotonic(), body))
        message.ack()

    @property
    def channel(self) -> Any:
        return self.conn.default_channel

    def last_named_queue(self) -> str:
        return str(self.channel._queue_cycle.items[-1])

    def brpop_keys(self) -> list[str]:
        channel = self.channel
        queues = channel._queue_cycle.consume(len(channel.active_queues))
        return [channel._q_for_pri(q, p) for p in channel.priority_steps for q in queues]

    def drain_once(self, timeout: float = 10.0) -> None:
        self.conn.drain_events(timeout=timeout)

    def close(self) -> None:
        self.consumer.cancel()
        self.conn.release()


def command_bytes(keys: list[str]) -> int:
    # RESP: *<n>\r\n then $<len>\r\n<arg>\r\n per argument (BRPOP, the keys, the timeout).
    args = ["BRPOP", *keys, "1"]
    size = len(f"*{len(args)}\r\n")
    for arg in args:
        raw = arg.encode()
        size += len(f"${len(raw)}\r\n") + len(raw) + 2
    return size


def run_case(case: Case, url: str, client: redis.Redis, args: argparse.Namespace) -> None:
    sender = Connection(url, transport_options=case.transport_options)
    declared = declare(sender, case.queues)
    producer = Producer(sender.default_channel, serializer="json")
    receiver = Receiver(url, declared, case.transport_options)
    try:
        case.keys_per_brpop = len(receiver.brpop_keys())
        case.brpop_bytes = command_bytes(receiver.brpop_keys())

        def publish(name: str, body: Any) -> None:
            producer.publish(body, exchange=name, routing_key=name)

        # Warm up both connections.
        publish(case.queues[0], {"warm": True})
        receiver.drain_once()

        # Busy worker: the message waits in the queue named last when the consumer asks.
        for _ in range(args.rounds):
            publish(receiver.last_named_queue(), {"busy": True})
            started = time.perf_counter()
            receiver.drain_once()
            case.busy_pickup_ms.append((time.perf_counter() - started) * 1000)

        # Idle worker: blocked in BRPOP when the message arrives. Building the BRPOP takes
        # about as long as a busy pick-up, so wait well past that before publishing.
        settle = 0.05 + 3 * sorted(case.busy_pickup_ms)[len(case.busy_pickup_ms) // 2] / 1000
        for _ in range(args.rounds):
            target = receiver.last_named_queue()
            count = len(receiver.received)
            waiter = threading.Thread(target=receiver.drain_once)
            waiter.start()
            time.sleep(settle)
            sent = time.monotonic()
            publish(target, {"idle": True})
            waiter.join()
            assert len(receiver.received) == count + 1
            case.idle_pickup_ms.append((receiver.received[-1][0] - sent) * 1000)

        # Drain: messages already waiting in random queues.
        rng = random.Random(7)
        for n in range(args.messages):
            publish(rng.choice(case.queues), {"n": n})
        count = len(receiver.received)
        calls0, usec0 = brpop_stats(client)
        cpu0, started = time.process_time(), time.perf_counter()
        while len(receiver.received) < count + args.messages:
            receiver.drain_once()
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu0
        calls1, usec1 = brpop_stats(client)
        case.drained += args.messages
        case.drain_seconds += elapsed
        case.drain_cpu_seconds += cpu
        case.foreign_brpops += max(0, (calls1 - calls0) - args.messages)
        case.drain_redis_usec += usec1 - usec0

        # Idle: nothing waiting. A worker's BRPOP on its empty queues times out after a second
        # and is sent again; the same command in a loop with a 1 ms timeout.
        keys = receiver.brpop_keys()
        raw = redis.Redis.from_url(url)
        calls0, usec0 = brpop_stats(client)
        started = time.perf_counter()
        for _ in range(args.idle_brpops):
            assert raw.brpop(keys, timeout=0.001) is None
        elapsed = time.perf_counter() - started
        calls1, usec1 = brpop_stats(client)
        raw.close()
        case.foreign_brpops += max(0, (calls1 - calls0) - args.idle_brpops)
        case.idle_brpops += args.idle_brpops
        case.idle_seconds += elapsed
        case.idle_redis_usec += usec1 - usec0
    finally:
        receiver.close()
        sender.release()
        cleanup(client, case.queues)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orgs", default="1,100,1000,5000")
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--messages", type=int, default=300)
    parser.add_argument("--idle-brpops", type=int, default=200)
    parser.add_argument("--blocks", type=int, default=3)
    args = parser.parse_args()

    url = settings.CELERY_BROKER_URL
    product = dict(settings.CELERY_BROKER_TRANSPORT_OPTIONS)
    kombu_default = product | {"priority_steps": [0, 3, 6, 9]}
    counts = [int(x) for x in args.orgs.split(",")]
    steps = product.get("priority_steps", "kombu's default")
    cases = [Case(f"product (priority_steps {steps})", n, names(n), product) for n in counts]
    if kombu_default != product:
        label = "baseline: kombu's default priority_steps [0, 3, 6, 9]"
        cases += [Case(label, n, names(n), kombu_default) for n in counts]
    shards = Case(
        f"KESTREL_QUEUE_SHARDS={SHARDS}", max(counts), names(max(counts), SHARDS), product
    )
    cases.append(shards)

    client = redis.Redis.from_url(url)
    server = client.info("server")
    # Blocks in alternating order, so that a machine getting busier or quieter during the run
    # weighs on every case alike.
    for block in range(args.blocks):
        for case in cases if block % 2 == 0 else cases[::-1]:
            print(
                f"block {block + 1}: {case.label}, {case.organisations} organisations...",
                file=sys.stderr,
            )
            run_case(case, url, client, args)

    header = (
        "| organisations | variant | queues | keys per BRPOP | BRPOP size "
        "| pick-up, idle worker p50 / p95 | pick-up, busy worker p50 / p95 "
        "| drain, one consumer | consumer CPU per message "
        "| Redis per BRPOP: message waiting / queues empty |"
    )
    print(header)
    print("|---" * 10 + "|")
    for case in cases:
        idle, busy = case.idle_pickup_ms, case.busy_pickup_ms
        print(
            f"| {case.organisations:,} | {case.label} | {len(case.queues):,} "
            f"| {case.keys_per_brpop:,} | {case.brpop_bytes / 1024:,.1f} KiB "
            f"| {percentile(idle, 0.5):.1f} / {percentile(idle, 0.95):.1f} ms "
            f"| {percentile(busy, 0.5):.1f} / {percentile(busy, 0.95):.1f} ms "
            f"| {case.drain_per_second:,.0f} msg/s | {case.drain_client_cpu_us / 1000:,.2f} ms "
            f"| {case.drain_redis_us_per_brpop:,.0f} / {case.idle_redis_us_per_brpop:,.0f} µs |"
        )
    foreign = sum(c.foreign_brpops for c in cases)
    load = os.getloadavg()
    print(f"\nBRPOPs by other clients of this Redis during the measured intervals: {foreign}")
    print(f"Redis {server.get('redis_version')}, kombu {version('kombu')}, load {load[0]:.2f}")

    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "queues_scaling.json").write_text(
        json.dumps(
            {
                "measured_at": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
                "redis": server.get("redis_version"),
                "kombu": version("kombu"),
                "python": platform.python_version(),
                "cpus": os.cpu_count(),
                "load_average": os.getloadavg(),
                "args": vars(args),
                "cases": [c.summary() for c in cases],
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
