"""What setting the schema per transaction costs, and what PgBouncer adds on top.

    .venv/bin/python bench/pooling.py [--reads 300] [--blocks 5] [--requests 100]

One organisation ("pool-bench", provisioned on first run, with 200 contacts) is read by the
ORM as a request does: `--reads` single-row reads by primary key, in autocommit, and the same
reads in transactions of 10 (`atomic()`), over three connections, interleaved in blocks so
that all see the same machine state:

- direct:        django-tenants' backend straight to PostgreSQL (session-level SET once per
                 connection: the baseline, what runs without DATABASE_TRANSACTION_POOLING);
- per-tx direct: the pooling backend (tenants.pooling) straight to PostgreSQL: the cost of
                 setting the schema in every transaction, without a pooler;
- pgbouncer:     the pooling backend through a real PgBouncer in transaction pooling mode
                 (Debian's /usr/sbin/pgbouncer, started on a free loopback port), as deployed;
- pgbouncer, separate set_config: the same, but with the schema set by a statement of its
                 own (in autocommit BEGIN / set_config / statement / COMMIT, four round trips
                 instead of one query string), as the backend does only where it must.

Then `--requests` signed-in requests of its contact list (full middleware stack, Django's
test client) per block, in a fresh process per block and stack configured as an operator
would: DATABASE_URL straight to PostgreSQL (plain backend), or at the bouncer with
DATABASE_TRANSACTION_POOLING=true.

Results: markdown tables on stdout (median µs per read, ratio to direct) and
bench/results/pooling.json.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.development")

import django  # noqa: E402

django.setup()

from django.db import connections, transaction  # noqa: E402
from django_tenants.utils import schema_context  # noqa: E402

from apps.accounts.models import User  # noqa: E402
from apps.contacts.models import Contact  # noqa: E402
from config.settings.base import database_config  # noqa: E402
from tenants import provisioning  # noqa: E402
from tenants.db import connection  # noqa: E402
from tenants.models import Tenant  # noqa: E402
from tenants.pooling.base import ScopedCursor  # noqa: E402
from tests.tenants.pgbouncer import PgBouncer, available  # noqa: E402


class SeparateStatementCursor(ScopedCursor):
    """The backend's fallback path, for comparison: set_config as a statement of its own."""

    _kestrel_can_prefix = False


SLUG = "pool-bench"
OWNER_EMAIL = "owner@pool-bench.test"
CONTACTS = 200
PER_TRANSACTION = 10


def ensure_tenant() -> Tenant:
    connection.set_schema_to_public()
    tenant = Tenant.objects.filter(slug=SLUG).first()
    if tenant is None:
        print("provisioning the benchmark organisation...", file=sys.stderr)
        tenant = provisioning.tenant_provision(
            slug=SLUG, name="Pool bench", owner_email=OWNER_EMAIL, use_pool=False
        ).tenant
    with schema_context(tenant.schema_name):
        missing = CONTACTS - Contact.objects.count()
        if missing > 0:
            owner = User.objects.order_by("pk").first()
            Contact.objects.bulk_create(
                [
                    Contact(first_name=f"Bench{i}", last_name="Pool", owner=owner)
                    for i in range(missing)
                ]
            )
    return tenant


def add_alias(name: str, url: str, *, pooling: bool) -> Any:
    settings_dict = copy.deepcopy(connections["default"].settings_dict)
    settings_dict.update(database_config(url, transaction_pooling=pooling))
    connections.settings[name] = settings_dict
    return connections[name]


def reads(alias: str, ids: list[int], atomic: bool) -> tuple[float, float]:
    """Seconds per read: wall clock, and this process's CPU (what the backend itself adds,
    whatever else the machine is doing)."""
    manager = Contact.objects.using(alias)
    started, cpu_started = time.perf_counter(), time.process_time()
    if atomic:
        for start in range(0, len(ids), PER_TRANSACTION):
            with transaction.atomic(using=alias):
                for pk in ids[start : start + PER_TRANSACTION]:
                    manager.filter(pk=pk).values_list("first_name", flat=True).first()
    else:
        for pk in ids:
            manager.filter(pk=pk).values_list("first_name", flat=True).first()
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    return wall / len(ids), cpu / len(ids)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reads", type=int, default=300)
    parser.add_argument("--blocks", type=int, default=5)
    parser.add_argument("--requests", type=int, default=100, help="per block and stack; 0: none")
    args = parser.parse_args()
    if not available():
        sys.exit("pgbouncer is not installed (apt-get install pgbouncer)")

    tenant = ensure_tenant()
    with schema_context(tenant.schema_name):
        ids = list(Contact.objects.values_list("pk", flat=True)[:CONTACTS])
    settings_dict = connections["default"].settings_dict
    login = quote(settings_dict["USER"], safe="")
    if settings_dict["PASSWORD"]:
        login += ":" + quote(settings_dict["PASSWORD"], safe="")
    direct_url = (
        f"postgresql://{login}@{settings_dict['HOST'] or '127.0.0.1'}:"
        f"{settings_dict['PORT'] or 5432}/{settings_dict['NAME']}"
    )
    bouncer = PgBouncer(
        settings_dict["NAME"],
        server_host=settings_dict["HOST"] or "127.0.0.1",
        server_port=int(settings_dict["PORT"] or 5432),
        user=settings_dict["USER"],
        password=settings_dict["PASSWORD"] or "",
        pool_size=2,
    ).start()
    try:
        stacks = {
            "direct": add_alias("bench_direct", direct_url, pooling=False),
            "per-tx direct": add_alias("bench_per_tx", direct_url, pooling=True),
            "pgbouncer": add_alias("bench_bouncer", bouncer.url(), pooling=True),
            "pgbouncer, separate set_config": add_alias(
                "bench_separate", bouncer.url(), pooling=True
            ),
        }
        for wrapper in stacks.values():
            wrapper.set_tenant(tenant)
            wrapper.ensure_connection()
        stacks["pgbouncer, separate set_config"].connection.cursor_factory = SeparateStatementCursor
        runs: dict[str, list[float]] = {
            f"{name} {mode}{cpu}": []
            for name in stacks
            for mode in ("autocommit", "atomic")
            for cpu in ("", " cpu")
        }
        rng = random.Random(7)
        for block in range(args.blocks + 1):  # the first block warms up and is dropped
            for name, wrapper in stacks.items():
                for mode in ("autocommit", "atomic"):
                    sample = [rng.choice(ids) for _ in range(args.reads)]
                    wall, cpu = reads(wrapper.alias, sample, atomic=mode == "atomic")
                    if block:
                        runs[f"{name} {mode}"].append(wall)
                        runs[f"{name} {mode} cpu"].append(cpu)
        if args.requests:
            runs.update(
                {f"requests {k}": v for k, v in requests(bouncer, direct_url, args).items()}
            )
    finally:
        for name in ("bench_direct", "bench_per_tx", "bench_bouncer", "bench_separate"):
            if name in connections.settings:
                connections[name].close()
        bouncer.stop()

    report(runs, args)


def report(runs: dict[str, list[float]], args: argparse.Namespace) -> None:
    medians = {key: statistics.median(values) for key, values in runs.items()}
    print(f"\n{args.reads} reads x {args.blocks} blocks, median µs per read (ratio to direct)\n")
    print("| connection | autocommit | its CPU | atomic, 10 reads each | its CPU |")
    print("|---|---:|---:|---:|---:|")
    for name in ("direct", "per-tx direct", "pgbouncer", "pgbouncer, separate set_config"):
        cells = []
        for key in ("autocommit", "autocommit cpu", "atomic", "atomic cpu"):
            value, base = medians[f"{name} {key}"], medians[f"direct {key}"]
            cells.append(f"{value * 1e6:.0f} ({value / base:.2f})")
        print(f"| {name} | " + " | ".join(cells) + " |")
    if args.requests:
        print(
            f"\n{args.requests} contact-list requests x {args.blocks} blocks, median per request\n"
        )
        print("| connection | ms/request | ratio | its CPU, ms | ratio |")
        print("|---|---:|---:|---:|---:|")
        for name in ("direct", "pgbouncer"):
            cells = []
            for key in ("", " cpu"):
                value, base = medians[f"requests {name}{key}"], medians[f"requests direct{key}"]
                cells += [f"{value * 1e3:.1f}", f"{value / base:.2f}"]
            print(f"| {name} | " + " | ".join(cells) + " |")
    out = ROOT / "bench" / "results" / "pooling.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"args": vars(args), "runs": runs, "medians": medians}, indent=2))


def child_requests(count: int) -> None:
    """In a process of its own, configured by the environment: `count` signed-in requests of
    the organisation's contact list over the full middleware stack; prints seconds each."""
    from django.test import Client

    from tenants.models import Domain

    tenant = Tenant.objects.get(slug=SLUG)
    host = Domain.objects.filter(tenant=tenant, is_primary=True).values_list("domain", flat=True)
    client = Client(HTTP_HOST=host.first())
    with schema_context(tenant.schema_name):
        client.force_login(User.objects.get(email=OWNER_EMAIL))
    connection.set_schema_to_public()
    for _ in range(5):
        assert client.get("/contacts/").status_code == 200
    started, cpu_started = time.perf_counter(), time.process_time()
    for _ in range(count):
        client.get("/contacts/")
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    print(json.dumps({"wall": wall / count, "cpu": cpu / count, "engine": connection.vendor}))


def requests(
    bouncer: PgBouncer, direct_url: str, args: argparse.Namespace
) -> dict[str, list[float]]:
    """Contact-list requests, direct (the plain backend) and through the bouncer (pooling
    backend), each block in fresh processes, alternating."""
    import subprocess

    configs = {
        "direct": {"DATABASE_URL": direct_url, "DATABASE_TRANSACTION_POOLING": "false"},
        "pgbouncer": {"DATABASE_URL": bouncer.url(), "DATABASE_TRANSACTION_POOLING": "true"},
    }
    runs: dict[str, list[float]] = {f"{n}{c}": [] for n in configs for c in ("", " cpu")}
    for _block in range(args.blocks):
        for name, env in configs.items():
            done = subprocess.run(  # noqa: S603 - this script, with our own arguments
                [sys.executable, __file__, "--child-requests", str(args.requests)],
                env={**os.environ, **env},
                capture_output=True,
                text=True,
                check=True,
            )
            result = json.loads(done.stdout.strip().splitlines()[-1])
            runs[name].append(result["wall"])
            runs[f"{name} cpu"].append(result["cpu"])
    return runs


if __name__ == "__main__":
    if "--child-requests" in sys.argv:
        child_requests(int(sys.argv[sys.argv.index("--child-requests") + 1]))
    else:
        main()
