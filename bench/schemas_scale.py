"""What thousands of organisation schemas cost one PostgreSQL: catalog, memory, dumps.

    .venv/bin/python bench/schemas_scale.py grow --to 5000     # provision up to N organisations
    .venv/bin/python bench/schemas_scale.py measure [--touch 100,1000]

`grow` provisions organisations `scale-00000`, `scale-00001`, ... through the product's own
service (a clone of the migrated template, as a sign-up with an empty warm pool), resuming
where an earlier run stopped, and records the provisioning time of every organisation (in
blocks of 100) in bench/results/schemas_scale_grow.json.

`measure` reports, for the organisations present: the size of the system catalogs and of the
whole database, relations per tenant schema, the memory of one backend connection after it
queried one table in each of N schemas (pg_backend_memory_contexts and the backend's RSS from
/proc), the time of a tenant's first query on a fresh connection, the time to pg_dump one
schema, and the cost of ANALYZE across all schemas' tables. Results: a markdown summary on
stdout and bench/results/schemas_scale_<count>.json.

Run it against a database of its own (DATABASE_URL, REDIS_URL), on the same machine as the
PostgreSQL server (the RSS is read from /proc/<backend pid>).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.development")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402

from tenants import provisioning, schemas  # noqa: E402
from tenants.db import connection  # noqa: E402
from tenants.models import Tenant  # noqa: E402

PREFIX = "scale-"
RESULTS = ROOT / "bench" / "results"


def organisation_count() -> int:
    return Tenant.objects.exclude(schema_name="public").count()


def grow(target: int, *, prefix: str = PREFIX) -> list[dict[str, float]]:
    """Provision organisations until `target` exist; per block of 100, the median time."""
    connection.set_schema_to_public()
    if not schemas.exists(provisioning.template_schema()):
        call_command("migrate_schemas", interactive=False, verbosity=0)
    existing = set(Tenant.objects.filter(slug__startswith=prefix).values_list("slug", flat=True))
    blocks: list[dict[str, float]] = []
    samples: list[float] = []
    index = 0
    started = time.perf_counter()
    while organisation_count() < target:
        slug = f"{prefix}{index:05d}"
        index += 1
        if slug in existing:
            continue
        result = provisioning.tenant_provision(
            slug=slug,
            name=f"Scale {index}",
            owner_email=f"owner@{slug}.test",
            use_pool=False,
        )
        samples.append(result.seconds)
        if len(samples) == 100:
            present = organisation_count()
            block = {
                "present": present,
                "median_ms": statistics.median(samples) * 1000,
                "max_ms": max(samples) * 1000,
            }
            blocks.append(block)
            print(
                f"{present} organisations; last 100 provisioned in median "
                f"{block['median_ms']:.0f} ms (max {block['max_ms']:.0f} ms); "
                f"{time.perf_counter() - started:.0f} s so far",
                file=sys.stderr,
                flush=True,
            )
            samples = []
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / "schemas_scale_grow.json"
    history = json.loads(path.read_text()) if path.exists() else []
    history.extend(blocks)
    path.write_text(json.dumps(history, indent=2))
    return blocks


CATALOGS = (
    "pg_class",
    "pg_attribute",
    "pg_index",
    "pg_depend",
    "pg_constraint",
    "pg_type",
    "pg_attrdef",
    "pg_sequence",
    "pg_statistic",
    "pg_namespace",
)


def scalar(sql: str, params: list[Any] | None = None) -> Any:
    with connection.cursor() as cursor:
        cursor.execute(sql, params or [])
        row = cursor.fetchone()
        return row[0] if row else None


def rows(sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params or [])
        return list(cursor.fetchall())


def mib(size: float) -> float:
    return round(float(size or 0) / 2**20, 1)


def tenant_schemas() -> list[str]:
    return list(
        Tenant.objects.exclude(schema_name="public")
        .order_by("id")
        .values_list("schema_name", flat=True)
    )


def catalog_figures(sample_schema: str) -> dict[str, Any]:
    """Catalog and database sizes, relations per schema, files on disk."""
    figures: dict[str, Any] = {
        "catalog_mib": {
            name: mib(scalar("SELECT pg_total_relation_size(%s::regclass)", [f"pg_catalog.{name}"]))
            for name in CATALOGS
        },
        "all_catalogs_mib": mib(
            scalar(
                "SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c "
                "JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = 'pg_catalog' AND c.relkind IN ('r', 'm')"
            )
        ),
        "database_mib": mib(scalar("SELECT pg_database_size(current_database())")),
        "pg_class_rows": scalar("SELECT count(*) FROM pg_class"),
        "pg_attribute_rows": scalar("SELECT count(*) FROM pg_attribute"),
        "schemas": scalar("SELECT count(*) FROM pg_namespace"),
    }
    per_kind = rows(
        "SELECT c.relkind, count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = %s GROUP BY 1 ORDER BY 1",
        [sample_schema],
    )
    toast = scalar(
        "SELECT count(*) FROM pg_class c JOIN pg_class t ON t.oid = c.reltoastrelid "
        "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = %s",
        [sample_schema],
    )
    figures["relations_per_schema"] = {kind: count for kind, count in per_kind}
    figures["relations_per_schema"]["toast tables (+1 index each)"] = toast
    figures["schema_size_kib"] = round(
        float(
            scalar(
                "SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c "
                "JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = %s AND c.relkind IN ('r', 'S')",
                [sample_schema],
            )
        )
        / 1024
    )
    try:
        directory = scalar("SHOW data_directory")
        oid = scalar("SELECT oid FROM pg_database WHERE datname = current_database()")
        figures["files_in_database_directory"] = len(
            os.listdir(Path(directory) / "base" / str(oid))
        )
    except OSError:  # not on the server's machine, or no permission
        figures["files_in_database_directory"] = None
    return figures


def new_connection() -> Any:
    import psycopg

    settings = connection.settings_dict
    return psycopg.connect(
        host=settings["HOST"] or "127.0.0.1",
        port=settings["PORT"] or 5432,
        user=settings["USER"],
        password=settings["PASSWORD"] or None,
        dbname=settings["NAME"],
        autocommit=True,
    )


# What one request of a tenant typically reads: its users, contacts, deals and activities.
TOUCH_SQL = (
    "SELECT count(*) FROM accounts_user u "
    "LEFT JOIN contacts_contact c ON c.owner_id = u.id "
    "LEFT JOIN deals_deal d ON d.owner_id = u.id "
    "LEFT JOIN activities_activity a ON a.owner_id = u.id"
)


def backend_memory(cursor: Any) -> dict[str, float]:
    cursor.execute("SELECT pg_backend_pid()")
    pid = cursor.fetchone()[0]
    cursor.execute("SELECT sum(total_bytes) FROM pg_backend_memory_contexts")
    total = cursor.fetchone()[0]
    cursor.execute(
        "SELECT coalesce(sum(total_bytes), 0) FROM pg_backend_memory_contexts "
        "WHERE name IN ('CacheMemoryContext') OR parent = 'CacheMemoryContext'"
    )
    cache = cursor.fetchone()[0]
    status = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmRSS", "RssAnon"):
                status[key] = int(value.split()[0]) / 1024
    except OSError:
        pass
    return {
        "contexts_mib": mib(total),
        "cache_mib": mib(cache),
        "rss_mib": round(status.get("VmRSS", 0.0), 1),
        "rss_anon_mib": round(status.get("RssAnon", 0.0), 1),
    }


def memory_after_touching(schemas_list: list[str], counts: list[int]) -> list[dict[str, Any]]:
    """One fresh connection queries four tables in each of N tenants (as requests for N
    organisations would); its memory after each step."""
    out = []
    with new_connection() as conn, conn.cursor() as cursor:
        out.append({"tenants_touched": 0, **backend_memory(cursor)})
        touched = 0
        for count in sorted(counts):
            for schema in schemas_list[touched:count]:
                cursor.execute(f'SET search_path TO "{schema}", public')
                cursor.execute(TOUCH_SQL)
                cursor.fetchall()
            touched = min(count, len(schemas_list))
            out.append({"tenants_touched": touched, **backend_memory(cursor)})
    return out


def first_query_times(schemas_list: list[str], samples: int = 20) -> dict[str, float]:
    """A fresh connection, then a tenant's first query (catalog cache cold) and its second."""
    step = max(1, len(schemas_list) // samples)
    connect, first, second = [], [], []
    for schema in schemas_list[::step][:samples]:
        started = time.perf_counter()
        with new_connection() as conn, conn.cursor() as cursor:
            connected = time.perf_counter()
            cursor.execute(f'SET search_path TO "{schema}", public')
            cursor.execute(TOUCH_SQL)
            cursor.fetchall()
            first_done = time.perf_counter()
            cursor.execute(TOUCH_SQL)
            cursor.fetchall()
            second_done = time.perf_counter()
        connect.append(connected - started)
        first.append(first_done - connected)
        second.append(second_done - first_done)
    return {
        "connect_ms": round(statistics.median(connect) * 1000, 2),
        "first_query_ms": round(statistics.median(first) * 1000, 2),
        "second_query_ms": round(statistics.median(second) * 1000, 2),
    }


def pg_dump_one(schema: str) -> dict[str, float]:
    settings = connection.settings_dict
    env = {**os.environ, "PGPASSWORD": settings["PASSWORD"] or ""}
    target = Path(tempfile.mkdtemp()) / f"{schema}.dump"
    started = time.perf_counter()
    subprocess.run(  # noqa: S603
        [  # noqa: S607 - the server's own pg_dump, on PATH
            "pg_dump",
            "-h",
            settings["HOST"] or "127.0.0.1",
            "-p",
            str(settings["PORT"] or 5432),
            "-U",
            settings["USER"],
            "-n",
            schema,
            "-Fc",
            "-f",
            str(target),
            settings["NAME"],
        ],
        check=True,
        env=env,
    )
    seconds = time.perf_counter() - started
    size = target.stat().st_size
    shutil.rmtree(target.parent)
    return {"seconds": round(seconds, 2), "dump_kib": round(size / 1024)}


def timed(sql: str) -> float:
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(sql)
    return round(time.perf_counter() - started, 2)


def analyze_figures(schemas_list: list[str], sample: int = 20) -> dict[str, float]:
    """ANALYZE of the system catalogs, and of every table of `sample` tenants (extrapolated)."""
    catalogs = timed("ANALYZE " + ", ".join(f"pg_catalog.{name}" for name in CATALOGS))
    tables = rows(
        "SELECT format('%%I.%%I', n.nspname, c.relname) FROM pg_class c "
        "JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = ANY(%s) AND c.relkind = 'r'",
        [schemas_list[:sample]],
    )
    started = time.perf_counter()
    with connection.cursor() as cursor:
        for (table,) in tables:
            cursor.execute(f"ANALYZE {table}")
    per_tenant = (time.perf_counter() - started) / min(sample, len(schemas_list))
    return {
        "analyze_catalogs_s": catalogs,
        "analyze_one_tenant_s": round(per_tenant, 3),
        "analyze_all_tenants_extrapolated_s": round(per_tenant * len(schemas_list), 1),
    }


def introspection_ms(schema: str) -> float:
    """What Django's `table_names()` costs in one tenant (django-tenants lists the tables on
    the search path, reading all of pg_class): paid per schema by a stock migrate."""
    connection.set_schema(schema)
    started = time.perf_counter()
    with connection.cursor() as cursor:
        connection.introspection.table_names(cursor)
    connection.set_schema_to_public()
    return round((time.perf_counter() - started) * 1000, 1)


def provisioning_now(count: int = 5) -> dict[str, float]:
    """Provision `count` organisations now (nothing else of ours running) and delete them."""
    from django.test.utils import override_settings

    from tenants import services

    samples = []
    # The final backup a deletion writes first is measured separately (pg_dump_one_schema).
    with override_settings(KESTREL_BACKUP_ON_DELETE=False):
        for index in range(count):
            slug = f"probe-{uuid.uuid4().hex[:8]}-{index}"
            result = provisioning.tenant_provision(
                slug=slug, name=slug, owner_email=f"owner@{slug}.test", use_pool=False
            )
            samples.append(result.seconds)
            services.tenant_delete(tenant=result.tenant, confirmation=slug, actor="bench")
    return {
        "median_ms": round(statistics.median(samples) * 1000),
        "max_ms": round(max(samples) * 1000),
    }


def measure(args: Any) -> int:
    connection.set_schema_to_public()
    tenants_list = tenant_schemas()
    count = len(tenants_list)
    touch = [int(n) for n in args.touch.split(",") if n]
    sample = tenants_list[len(tenants_list) // 2]
    result: dict[str, Any] = {"organisations": count, "load_start": load()}
    steps = [
        ("catalog", lambda: catalog_figures(sample)),
        ("memory", lambda: memory_after_touching(tenants_list, touch)),
        ("first_query", lambda: first_query_times(tenants_list)),
        ("pg_dump_one_schema", lambda: pg_dump_one(sample)),
        ("table_names_ms", lambda: introspection_ms(sample)),
        ("analyze", lambda: analyze_figures(tenants_list)),
        ("provisioning", lambda: provisioning_now()),
    ]
    for name, step in steps:
        if args.skip and name in args.skip.split(","):
            continue
        started = time.perf_counter()
        result[name] = step()
        figures = json.dumps(result[name], default=float)
        print(
            f"{name} ({time.perf_counter() - started:.0f} s): {figures}",
            file=sys.stderr,
            flush=True,
        )
    result["load_end"] = load()
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"schemas_scale_{count}.json").write_text(
        json.dumps(result, indent=2, default=float)
    )
    print(json.dumps(result, indent=2, default=float))
    return 0


def load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    grow_parser = sub.add_parser("grow")
    grow_parser.add_argument("--to", type=int, required=True)
    grow_parser.add_argument("--prefix", default=PREFIX)
    measure_parser = sub.add_parser("measure")
    measure_parser.add_argument("--touch", default="100,1000")
    measure_parser.add_argument("--skip", default="", help="comma-separated steps to skip")
    args = parser.parse_args()
    if args.command == "grow":
        grow(args.to, prefix=args.prefix)
        return 0
    return measure(args)


if __name__ == "__main__":
    sys.exit(main())
