"""Load: the API of 20 organisations under a mixed read/write load, through a real Gunicorn.

    .venv/bin/python bench/load.py [--seconds 60] [--rate 100] [--max-users 32] [--tenants 20]

Gunicorn runs the image's web command (deploy/gunicorn.conf.py, its default size for this
machine's CPUs) with the production settings on a loopback port, against the database of
DATABASE_URL. The organisations (`load-00` .. `load-19`, plan Business) are provisioned
through the product's provisioning service and filled through the API on the first run
(50 contacts, 10 companies, 20 deals, 20 activities, 5 leads each), then kept for the next
runs; each run issues fresh API keys (two per organisation) and revokes the previous run's.

Locust (bench/load_locustfile.py) drives it as a separate process, one organisation and key
per simulated user, with 80 % reads (list, detail and search of contacts and deals, lists of
companies and activities) and 20 % writes (create a contact, update a deal's value, create
an activity). Two stages, each `--seconds` long after the users have started:

- fixed offered load: `--rate` requests/s in all (100 users, each at rate/100 task runs per
  second: Locust's constant throughput, so a slow answer does not lower what is offered
  unless a user falls a whole second behind);
- maximum throughput: `--max-users` users, each sending its next request as soon as the last
  one is answered.

The baseline runs the same two stages against a second Gunicorn of the same configuration
serving a bare DRF view (bench/load_baseline_urls.py: no tenancy, no authentication, a small
constant JSON answer). Reported: requests/s, p50/p95/p99, error rate, the ratio to the
baseline, and per endpoint p50/p99 for the product (which one makes the tail). The load
generator runs on the same machine and shares its cores with the server, PostgreSQL and
Redis. Results: a markdown table on stdout and bench/results/load.json.
"""

from __future__ import annotations

import argparse
import csv
import http.client
import json
import os
import platform
import runpy
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.development")

import django  # noqa: E402

django.setup()

from django_tenants.utils import schema_context  # noqa: E402

from apps.apikeys.models import ApiKey  # noqa: E402
from apps.apikeys.services import api_key_create, api_key_revoke  # noqa: E402
from apps.contacts.models import Contact  # noqa: E402
from apps.deals.models import Deal  # noqa: E402
from tenants.db import connection  # noqa: E402
from tenants.models import Plan, Tenant  # noqa: E402
from tenants.provisioning import tenant_provision  # noqa: E402
from tests.reliability.live import (  # noqa: E402
    GUNICORN_CONF,
    LiveServer,
    database_url,
    redis_url,
    start_gunicorn,
)

PREFIX = "load-"
KEY_NAME = "load-bench"
KEYS_PER_TENANT = 2
CONTACTS, COMPANIES, DEALS, ACTIVITIES, LEADS = 50, 10, 20, 20, 5
LOCUST = str(Path(sys.executable).parent / "locust")
RESULTS = ROOT / "bench" / "results"
SURNAMES = ["Okafor", "Lindqvist", "Moreau", "Tanaka", "Castillo", "Novak", "Brennan", "Haddad"]
SECRET = "load-bench-secret-key-not-for-production"  # noqa: S105 - the bench's own server


# --- organisations and their data ---------------------------------------------------------


def ensure_tenants(count: int) -> list[Tenant]:
    connection.set_schema_to_public()
    tenants = []
    for index in range(count):
        slug = f"{PREFIX}{index:02d}"
        tenant = Tenant.objects.filter(slug=slug).first()
        if tenant is None:
            tenant = tenant_provision(
                slug=slug,
                name=f"Load {index:02d}",
                owner_email=f"owner@{slug}.test",
                plan=Plan.BUSINESS,
                use_pool=False,
            ).tenant
        tenants.append(tenant)
    return tenants


def issue_keys(tenant: Tenant) -> list[str]:
    """Fresh keys for this run; the previous run's (whose secrets are gone) are revoked."""
    with schema_context(tenant.schema_name):
        for old in ApiKey.objects.filter(name=KEY_NAME, revoked_at__isnull=True):
            api_key_revoke(key=old, actor=None)
        return [api_key_create(name=KEY_NAME, role="admin").secret for _ in range(KEYS_PER_TENANT)]


def _post(server: LiveServer, host: str, key: str, path: str, body: dict[str, Any]) -> int:
    status, _, answer = server.request(
        "POST",
        path,
        host=host,
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
        body=json.dumps(body),
    )
    if status != 201:
        raise RuntimeError(f"{host} POST {path}: {status} {answer[:300]!r}")
    return int(json.loads(answer)["id"])


def seed(server: LiveServer, tenant: Tenant, key: str) -> None:
    """The organisation's data through the API, once (kept for the next runs)."""
    with schema_context(tenant.schema_name):
        if Contact.objects.count() >= CONTACTS:
            return
    host, n = server.host(tenant.slug), tenant.slug[len(PREFIX) :]
    companies = [
        _post(
            server,
            host,
            key,
            "/api/v1/companies/?allow_duplicate=true",
            {"name": f"Company {n}-{i}", "domain": f"c{i}-{tenant.slug}.example"},
        )
        for i in range(COMPANIES)
    ]
    contacts = [
        _post(
            server,
            host,
            key,
            "/api/v1/contacts/?allow_duplicate=true",
            {
                "first_name": f"Person{i}",
                "last_name": f"{SURNAMES[i % len(SURNAMES)]}{i}",
                "email": f"p{i}@{tenant.slug}.test",
                "companies": [companies[i % COMPANIES]],
            },
        )
        for i in range(CONTACTS)
    ]
    for i in range(DEALS):
        _post(
            server,
            host,
            key,
            "/api/v1/deals/",
            {"title": f"Deal {SURNAMES[i % 8]} {i}", "value": str(1000 + 10 * i)},
        )
    for i in range(ACTIVITIES):
        _post(
            server,
            host,
            key,
            "/api/v1/activities/",
            {
                "type": "task",
                "subject": f"Follow up {i}",
                "due_at": f"2031-01-{1 + i % 28:02d}T09:00:00Z",
                "contacts": [contacts[i]],
            },
        )
    for i in range(LEADS):
        _post(
            server,
            host,
            key,
            "/api/v1/leads/?allow_duplicate=true",
            {"first_name": f"Lead{i}", "last_name": "Prospect", "email": f"l{i}@{n}.test"},
        )


def describe(server: LiveServer, tenant: Tenant, keys: list[str]) -> dict[str, Any]:
    """What the Locust users need of one organisation: host, keys, ids and search terms."""
    with schema_context(tenant.schema_name):
        contacts = list(Contact.objects.order_by("id").values_list("id", flat=True)[:CONTACTS])
        deals = list(Deal.objects.order_by("id").values_list("id", flat=True)[:DEALS])
        surnames = list(
            Contact.objects.filter(id__in=contacts).values_list("last_name", flat=True)[:10]
        )
    return {
        "slug": tenant.slug,
        "host": server.host(tenant.slug),
        "keys": keys,
        "contacts": contacts,
        "deals": deals,
        # An exact surname, and one with a typo (the search is typo tolerant).
        "contact_terms": surnames[:5] + [s[:2] + s[3] + s[2] + s[4:] for s in surnames[5:]],
        "deal_terms": SURNAMES[:4],
    }


# --- servers and the load generator -------------------------------------------------------


def default_size() -> tuple[int, int]:
    """Workers and threads deploy/gunicorn.conf.py chooses on this machine by default."""
    conf = runpy.run_path(str(GUNICORN_CONF))
    return int(conf["default_workers"](conf["available_cpus"]())), 4


def start(settings_module: str, log: Path, workers: int, threads: int) -> LiveServer:
    return start_gunicorn(
        database_url=database_url(),
        redis_url=redis_url(),
        log=log,
        settings_module=settings_module,
        workers=workers,
        threads=threads,
        pythonpath=[ROOT / "bench"],
        env={"DJANGO_SECRET_KEY": SECRET, "KESTREL_LOG_FORMAT": "json"},
    )


def warm(server: LiveServer, paths: list[tuple[str, dict[str, str]]]) -> None:
    """Every worker imports and connects on its first requests: not part of any stage."""

    def one(item: tuple[str, dict[str, str]]) -> None:
        path, headers = item
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        try:
            connection.request("GET", path, headers=headers)
            connection.getresponse().read()
        finally:
            connection.close()

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(one, paths))


def stage(
    server: LiveServer, user: str, spec: Path, users: int, rate: float, seconds: int, out: Path
) -> dict[str, Any]:
    """One stage, with the server's CPU time per request and the workers it replaced."""
    cpu, (boots, served) = group_cpu_seconds(server.process.pid), log_counts(server.log)
    figures = run_locust(user, server.port, spec, users, rate, seconds, out)
    cpu = group_cpu_seconds(server.process.pid) - cpu
    boots_after, served_after = log_counts(server.log)
    # Over the whole stage, the users' start included (the percentiles are not).
    figures["server_cpu_s"] = round(cpu, 1)
    figures["served"] = served_after - served
    figures["server_cpu_ms_per_request"] = round(1000 * cpu / max(served_after - served, 1), 1)
    figures["worker_restarts"] = boots_after - boots
    figures["load_after"] = round(load_average(), 2)
    return figures


def run_locust(
    user: str, port: int, spec: Path, users: int, rate: float, seconds: int, out: Path
) -> dict[str, Any]:
    """One stage: Locust headless for `seconds` after all `users` started (statistics are
    reset once they have). Returns the aggregated and per-endpoint figures."""
    prefix = out / f"{user}-{users}-{rate:g}"
    command = [
        LOCUST,
        "-f",
        str(ROOT / "bench" / "load_locustfile.py"),
        "--headless",
        "--users",
        str(users),
        "--spawn-rate",
        str(max(users // 2, 1)),
        "--run-time",
        f"{seconds + 3}s",  # + the spawn (about 2 s), whose requests are not counted
        "--reset-stats",
        "--stop-timeout",
        "10",
        "--host",
        f"http://127.0.0.1:{port}",
        "--csv",
        str(prefix),
        "--only-summary",
        "--loglevel",
        "WARNING",
        user,
    ]
    env = {**os.environ, "LOAD_SPEC": str(spec), "LOAD_RATE": str(rate)}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    started = time.monotonic()
    finished = subprocess.run(  # noqa: S603 - our own command line
        command,
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=seconds + 120,
        check=False,
    )
    if finished.returncode not in (0, 1):  # 1: some requests failed (reported, not fatal)
        raise RuntimeError(f"locust failed ({finished.returncode}):\n{finished.stderr[-3000:]}")
    rows = list(csv.DictReader(Path(f"{prefix}_stats.csv").read_text().splitlines()))
    endpoints = {}
    for row in rows:
        count = int(row["Request Count"])
        figures = {
            "requests": count,
            "failures": int(row["Failure Count"]),
            "rps": float(row["Requests/s"]),
            "p50_ms": float(row["50%"] or 0),
            "p95_ms": float(row["95%"] or 0),
            "p99_ms": float(row["99%"] or 0),
            "max_ms": float(row["Max Response Time"] or 0),
            "mean_ms": float(row["Average Response Time"] or 0),
        }
        figures["error_rate"] = figures["failures"] / count if count else 0.0
        endpoints[row["Name"]] = figures
    failures = []
    failures_csv = Path(f"{prefix}_failures.csv")
    if failures_csv.exists():
        failures = list(csv.DictReader(failures_csv.read_text().splitlines()))[:10]
    return {
        "users": users,
        "rate_per_user": rate,
        "wall_s": round(time.monotonic() - started, 1),
        "all": endpoints.pop("Aggregated"),
        "endpoints": endpoints,
        "failures": failures,
    }


def load_average() -> float:
    return os.getloadavg()[0]


def group_cpu_seconds(leader: int) -> float:
    """CPU seconds (user + system) of a process group so far: its live members, plus the
    children its leader has reaped (workers Gunicorn replaced after max_requests)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == leader:  # the process group
            total += int(fields[11]) + int(fields[12])  # utime, stime
            if int(entry) == leader:
                total += int(fields[13]) + int(fields[14])  # cutime, cstime
    return total / tick


def log_counts(log: Path) -> tuple[int, int]:
    """Workers booted and requests served so far, from the server's log (Kestrel writes one
    access line per request)."""
    text = log.read_text(errors="replace")
    return text.count("Booting worker"), text.count('"logger": "kestrel.access"')


# --- the run ------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=60, help="length of each stage")
    parser.add_argument("--rate", type=float, default=100.0, help="fixed offered load, req/s")
    parser.add_argument("--max-users", type=int, default=32, help="users of the max stage")
    parser.add_argument("--tenants", type=int, default=20)
    parser.add_argument("--workers", type=int, default=0, help="default: the config's")
    parser.add_argument("--threads", type=int, default=0, help="default: the config's")
    parser.add_argument("--only", choices=["product", "baseline"], default=None)
    args = parser.parse_args()

    workers, threads = default_size()
    workers, threads = args.workers or workers, args.threads or threads
    fixed_users = 100
    scratch = Path(tempfile.mkdtemp(prefix="kestrel-load-"))
    results: dict[str, Any] = {
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "load_before": round(load_average(), 2),
        },
        "gunicorn": {"workers": workers, "threads": threads},
        "seconds": args.seconds,
        "rate": args.rate,
        "tenants": args.tenants,
    }
    stages: dict[str, Any] = {}

    tenants = ensure_tenants(args.tenants)
    connection.set_schema_to_public()
    print(f"gunicorn {workers} workers x {threads} threads; logs in {scratch}", file=sys.stderr)

    if args.only in (None, "product"):
        server = start("config.settings.production", scratch / "product.log", workers, threads)
        try:
            keys = {tenant.slug: issue_keys(tenant) for tenant in tenants}
            with ThreadPoolExecutor(4) as pool:
                list(pool.map(lambda t: seed(server, t, keys[t.slug][0]), tenants))
            described = [describe(server, t, keys[t.slug]) for t in tenants]
            spec_data = {"tenants": described, "baseline_host": server.host()}
            spec = scratch / "spec.json"
            spec.write_text(json.dumps(spec_data))
            warm(
                server,
                [
                    (path, {"Host": t["host"], "Authorization": f"Bearer {t['keys'][0]}"})
                    for t in described
                    for path in ("/api/v1/contacts/", "/api/v1/deals/") * 2
                ],
            )
            print("product: fixed rate...", file=sys.stderr)
            stages["product_fixed"] = stage(
                server,
                "ProductUser",
                spec,
                fixed_users,
                args.rate / fixed_users,
                args.seconds,
                scratch,
            )
            print("product: max throughput...", file=sys.stderr)
            stages["product_max"] = stage(
                server, "ProductUser", spec, args.max_users, 0, args.seconds, scratch
            )
        finally:
            server.stop()
            for tenant in tenants:
                with schema_context(tenant.schema_name):
                    for key in ApiKey.objects.filter(name=KEY_NAME, revoked_at__isnull=True):
                        api_key_revoke(key=key, actor=None)

    if args.only in (None, "baseline"):
        server = start("load_baseline_settings", scratch / "baseline.log", workers, threads)
        try:
            spec = scratch / "spec-baseline.json"
            spec.write_text(json.dumps({"tenants": [], "baseline_host": server.host()}))
            warm(server, [("/bench/trivial/", {"Host": server.host()})] * 40)
            print("baseline: fixed rate...", file=sys.stderr)
            stages["baseline_fixed"] = stage(
                server,
                "BaselineUser",
                spec,
                fixed_users,
                args.rate / fixed_users,
                args.seconds,
                scratch,
            )
            print("baseline: max throughput...", file=sys.stderr)
            stages["baseline_max"] = stage(
                server, "BaselineUser", spec, args.max_users, 0, args.seconds, scratch
            )
        finally:
            server.stop()

    results["stages"] = stages
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "load.json").write_text(json.dumps(results, indent=2))
    report(results)


def report(results: dict[str, Any]) -> None:
    stages = results["stages"]
    print(
        f"\n{results['tenants']} organisations; Gunicorn {results['gunicorn']['workers']} "
        f"workers x {results['gunicorn']['threads']} threads; {results['seconds']} s per stage; "
        f"load average before {results['machine']['load_before']}\n"
    )
    print(
        "| stage | users | requests | req/s | p50 | p95 | p99 | errors | server CPU per "
        "request | workers replaced | load average after |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for name, figures in stages.items():
        a = figures["all"]
        print(
            f"| {name} | {figures['users']} | {a['requests']} | {a['rps']:.1f} | "
            f"{a['p50_ms']:.0f} ms | {a['p95_ms']:.0f} ms | {a['p99_ms']:.0f} ms | "
            f"{100 * a['error_rate']:.2f} % | {figures['server_cpu_ms_per_request']} ms | "
            f"{figures['worker_restarts']} | {figures['load_after']} |"
        )
    for kind in ("fixed", "max"):
        product, baseline = stages.get(f"product_{kind}"), stages.get(f"baseline_{kind}")
        if product and baseline:
            p, b = product["all"], baseline["all"]
            print(
                f"\n{kind}: product/baseline ratio: req/s {p['rps'] / b['rps']:.3f}, "
                f"p50 {p['p50_ms'] / max(b['p50_ms'], 1):.1f}x, "
                f"p99 {p['p99_ms'] / max(b['p99_ms'], 1):.1f}x"
            )
    for name in ("product_fixed", "product_max"):
        if name in stages:
            print(f"\n{name}, per endpoint:\n")
            print("| endpoint | requests | p50 | p95 | p99 | max | errors |")
            print("|---|---|---|---|---|---|---|")
            for endpoint, e in sorted(
                stages[name]["endpoints"].items(), key=lambda item: -item[1]["p99_ms"]
            ):
                print(
                    f"| {endpoint} | {e['requests']} | {e['p50_ms']:.0f} ms | "
                    f"{e['p95_ms']:.0f} ms | {e['p99_ms']:.0f} ms | {e['max_ms']:.0f} ms | "
                    f"{e['failures']} |"
                )
            for failure in stages[name]["failures"]:
                print(f"  failure: {failure}")
    fixed = stages.get("product_fixed")
    if fixed:
        a = fixed["all"]
        met = a["p99_ms"] < 200 and a["failures"] == 0
        print(
            f"\ntarget (p99 < 200 ms, no errors at {results['rate']:g} req/s): "
            f"{'met' if met else 'missed'} (p99 {a['p99_ms']:.0f} ms, "
            f"{a['failures']} errors)"
        )


if __name__ == "__main__":
    main()
