"""The contacts API on 1,000,000 contacts: list, detail, typo search, custom-field filter.

    .venv/bin/python bench/contacts_data.py        # once: the data (about 7 minutes)
    .venv/bin/python bench/contacts.py [--requests 20] [--blocks 5] [--seed 7]
                                       [--slug bench-contacts]

Every request goes through Django's WSGI handler, in-process, to the organisation
`bench-contacts` on its own host, authenticated by an API key (role Admin, created for the run
and revoked after it): the full stack of middleware, tenant routing, key authentication,
scope check, rate limit counters (limits raised so that they never refuse), the view, the
serializer and the database. Each request is measured against a baseline, the API's own
viewset with one optimisation taken away (bench/contacts_urls.py), in interleaved blocks
whose order alternates, so that both see the same machine and the same caches:

- list:        GET /api/v1/contacts/?page_size=50 (cursor pagination, no count)
               vs page-number pagination with an exact COUNT(*), page 1;
- list, deep:  the same with a cursor at a random position in the list
               vs a random page of the 20,000 (OFFSET);
- detail:      GET /api/v1/contacts/<random id>/ vs the record read without
               select_related/prefetch_related;
- search:      GET /api/v1/contacts/?search=<an existing surname with two letters swapped>
               vs `icontains` over first name, last name and email (which cannot find a typo:
               hits are reported too);
- cf filter:   GET /api/v1/contacts/?cf_tier=gold&page_size=50 (JSON containment, which the
               GIN index can answer) vs `custom_fields -> 'tier' = '"gold"'` (which it cannot);
               and the same with a rare value, cf_renewal=<a date> (about 560 contacts each).

Reports p50 and p95 per request, queries per request, the time they spend in SQL and the CPU
time of the request in this process (Python: Django, DRF, the ORM), and the machine's load
average during the run: other work on the machine inflates wall times (p95 most), not the SQL
and CPU times. Results: a markdown table on stdout and bench/results/contacts.json.
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import os
import random
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.development")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.handlers.wsgi import WSGIHandler  # noqa: E402
from django.test import override_settings  # noqa: E402
from django.test.client import RequestFactory  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django_tenants.utils import schema_context  # noqa: E402

from apps.accounts.roles import Role  # noqa: E402
from apps.apikeys.services import api_key_create, api_key_revoke  # noqa: E402
from apps.contacts.models import Contact  # noqa: E402
from tenants.db import connection  # noqa: E402
from tenants.models import Tenant  # noqa: E402

SLUG = "bench-contacts"
PAGES = 20_000  # 1,000,000 contacts by 50
# The rate limits stay in the stack (two counter increments in Redis per request) but are
# raised so that they never refuse a benchmark request.
NO_LIMITS = {
    plan: {"key": (10**9, 10), "organisation": (10**9, 10)} for plan in settings.API_RATE_LIMITS
}


@dataclass
class Case:
    name: str
    product: Callable[[random.Random], str]  # path?query of the product's request
    baseline: Callable[[random.Random], str]
    baseline_label: str
    target_ms: float | None
    samples: dict[str, list[float]] = field(default_factory=lambda: {"product": [], "baseline": []})
    cpu: dict[str, list[float]] = field(default_factory=lambda: {"product": [], "baseline": []})
    queries: dict[str, list[int]] = field(default_factory=lambda: {"product": [], "baseline": []})
    sql_ms: dict[str, list[float]] = field(default_factory=lambda: {"product": [], "baseline": []})
    bodies: dict[str, list[tuple[str, dict[str, Any]]]] = field(
        default_factory=lambda: {"product": [], "baseline": []}
    )


def make_handler(urlconf: str | None) -> WSGIHandler:
    overrides: dict[str, Any] = {"DEBUG": False}
    if urlconf:
        overrides["ROOT_URLCONF"] = urlconf
    with override_settings(**overrides):
        return WSGIHandler()


class Client:
    def __init__(self, host: str, secret: str) -> None:
        self.host = host
        self.secret = secret
        self.status = ""

    def _start_response(self, status: str, headers: list[tuple[str, str]], exc: Any = None) -> Any:
        self.status = status
        return None

    def get(self, handler: WSGIHandler, url: str) -> tuple[float, float, bytes]:
        """Wall time and this thread's CPU time of one request, and the response body."""
        path, _, query = url.partition("?")
        environ: dict[str, Any] = RequestFactory()._base_environ(  # type: ignore[attr-defined]
            PATH_INFO=path,
            QUERY_STRING=query,
            HTTP_HOST=self.host,
            HTTP_AUTHORIZATION=f"Bearer {self.secret}",
            HTTP_ACCEPT="application/json",
        )
        environ["wsgi.input"] = io.BytesIO(b"")
        started, cpu_started = time.perf_counter(), time.thread_time()
        response = handler(environ, self._start_response)
        body = b"".join(response)
        response.close()
        elapsed, cpu = time.perf_counter() - started, time.thread_time() - cpu_started
        if not self.status.startswith("200"):
            raise SystemExit(f"GET {url}: {self.status}\n{body[:500]!r}")
        return elapsed, cpu, body


def swap_letters(word: str, rng: random.Random, existing: set[str]) -> str | None:
    """`word` with two neighbouring inner letters swapped (a typical typo), if that makes a
    different word that is not itself a surname in the data."""
    inner = [i for i in range(1, len(word) - 2) if word[i] != word[i + 1]]
    if not inner:
        return None
    i = rng.choice(inner)
    typo = word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    return None if typo.lower() in existing else typo


def cursor_at(position: str) -> str:
    """A cursor as DRF's CursorPagination encodes it: the next page after `position`."""
    return base64.b64encode(urlencode({"p": position}).encode()).decode()


def code_state() -> str:
    """The commit measured, and whether the application's code differed from it."""
    git = ["git", "-C", str(ROOT)]
    # Our own fixed git commands.
    head = subprocess.run(  # noqa: S603
        [*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    )
    changed = subprocess.run(  # noqa: S603
        [*git, "status", "--porcelain", "--", "apps", "config", "tenants", "templates"],
        capture_output=True,
        text=True,
    )
    state = head.stdout.strip() or "unknown commit"
    files = len(changed.stdout.splitlines())
    return f"{state} with {files} uncommitted application files" if files else state


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def prepare(rng: random.Random, count: int) -> dict[str, list[Any]]:
    """Random contact ids, list positions and misspelt surnames, drawn from the data."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT min(id), max(id) FROM contacts_contact")
        low, high = cursor.fetchone()
        cursor.execute("SELECT DISTINCT lower(last_name) FROM contacts_contact")
        surnames = {row[0] for row in cursor.fetchall()}
    ids = [
        pk
        for pk in Contact.objects.filter(pk__in=[rng.randint(low, high) for _ in range(count * 2)])
        .values_list("pk", flat=True)
        .order_by("?")
    ][:count]
    positions = [
        str(value)
        for value in Contact.objects.filter(pk__in=ids).values_list("created_at", flat=True)
    ]
    typos: list[tuple[str, str]] = []
    for name in Contact.objects.filter(pk__in=ids).values_list("last_name", flat=True):
        if len(name) >= 5 and (typo := swap_letters(name, rng, surnames)):
            typos.append((typo, name))
    renewals = sorted(
        {
            value
            for value in Contact.objects.filter(pk__in=ids).values_list(
                "custom_fields__renewal", flat=True
            )
            if value
        }
    )
    return {"ids": ids, "positions": positions, "typos": typos, "renewals": renewals}


def build_cases(data: dict[str, list[Any]]) -> list[Case]:
    def one(key: str) -> Callable[[random.Random], Any]:
        return lambda rng: rng.choice(data[key])

    def search(kind: str) -> Callable[[random.Random], str]:
        def url(rng: random.Random) -> str:
            typo, _ = rng.choice(data["typos"])
            if kind == "product":
                return f"/api/v1/contacts/?search={typo}"
            return f"/bench/contacts-icontains/?search={typo}"

        return url

    return [
        Case(
            "list, first page of 50",
            lambda rng: "/api/v1/contacts/?page_size=50",
            lambda rng: "/bench/contacts-offset/?page_size=50&page=1",
            "page number + exact COUNT(*)",
            50,
        ),
        Case(
            "list, page of 50 at a random depth",
            lambda rng: f"/api/v1/contacts/?page_size=50&cursor={cursor_at(one('positions')(rng))}",
            lambda rng: f"/bench/contacts-offset/?page_size=50&page={rng.randint(2, PAGES)}",
            "page number + COUNT(*) + OFFSET",
            50,
        ),
        Case(
            "detail",
            lambda rng: f"/api/v1/contacts/{one('ids')(rng)}/",
            lambda rng: f"/bench/contacts-naive/{one('ids')(rng)}/",
            "no select_related/prefetch",
            50,
        ),
        Case(
            "search, surname with a typo",
            search("product"),
            search("baseline"),
            "icontains first/last/email",
            150,
        ),
        Case(
            "custom field filter cf_tier=gold",
            lambda rng: "/api/v1/contacts/?cf_tier=gold&page_size=50",
            lambda rng: "/bench/contacts-keytext/?cf_tier=gold&page_size=50",
            "custom_fields->'tier' (no GIN)",
            150,
        ),
        Case(
            "custom field filter, rare value cf_renewal=<date>",
            lambda rng: f"/api/v1/contacts/?cf_renewal={one('renewals')(rng)}&page_size=50",
            lambda rng: f"/bench/contacts-keytext/?cf_renewal={one('renewals')(rng)}&page_size=50",
            "custom_fields->'renewal' (no GIN)",
            150,
        ),
    ]


def run_block(
    case: Case,
    variant: str,
    handler: WSGIHandler,
    client: Client,
    rng: random.Random,
    count: int,
) -> None:
    make = case.product if variant == "product" else case.baseline
    for _ in range(count):
        url = make(rng)
        elapsed, cpu, body = client.get(handler, url)
        case.samples[variant].append(elapsed)
        case.cpu[variant].append(cpu)
        if case.name.startswith("search"):
            case.bodies[variant].append((url, json.loads(body)))


def count_queries(case: Case, variant: str, handler: WSGIHandler, client: Client) -> None:
    make = case.product if variant == "product" else case.baseline
    rng = random.Random(1)
    for _ in range(5):
        with CaptureQueriesContext(connection) as captured:
            client.get(handler, make(rng))
        case.queries[variant].append(len(captured.captured_queries))
        case.sql_ms[variant].append(
            1000 * sum(float(query["time"]) for query in captured.captured_queries)
        )


def search_hits(case: Case, variant: str, typo_to_name: dict[str, str]) -> dict[str, Any]:
    pages = case.bodies[variant]
    found = 0
    results = 0
    with_results = 0
    for url, body in pages:
        typo = url.rsplit("=", 1)[1]
        rows = body.get("results", [])
        results += len(rows)
        with_results += bool(rows)
        found += any(r["last_name"] == typo_to_name[typo] for r in rows)
    n = len(pages)
    return {
        "searches": n,
        "with_results": with_results / n,
        "mean_results_on_page": results / n,
        "intended_surname_on_page": found / n,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20, help="per variant and block")
    parser.add_argument("--blocks", type=int, default=5)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--slug", default=SLUG, help="the organisation contacts_data.py filled")
    args = parser.parse_args()

    tenant = Tenant.objects.filter(slug=args.slug).first()
    if tenant is None:
        raise SystemExit(f"No organisation {args.slug}: run bench/contacts_data.py first.")
    rng = random.Random(args.seed)
    with schema_context(tenant.schema_name):
        contacts = Contact.objects.count()
        data = prepare(rng, 400)
        issued = api_key_create(name=f"bench contacts {uuid.uuid4().hex[:6]}", role=Role.ADMIN)
    connection.set_schema_to_public()
    cases = build_cases(data)
    typo_to_name = dict(data["typos"])
    client = Client(f"{args.slug}.{settings.KESTREL_BASE_DOMAIN}", issued.secret)
    code = code_state()
    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    try:
        with override_settings(API_RATE_LIMITS=NO_LIMITS):
            handlers = {"product": make_handler(None), "baseline": make_handler("contacts_urls")}
            for case in cases:  # warm up: imports, connection, caches, plans
                for variant, handler in handlers.items():
                    run_block(case, variant, handler, client, random.Random(0), 3)
                    case.samples[variant].clear()
                    case.cpu[variant].clear()
                    case.bodies[variant].clear()
            for block in range(args.blocks):
                order = ["product", "baseline"] if block % 2 == 0 else ["baseline", "product"]
                for case in cases:
                    for variant in order:
                        run_block(case, variant, handlers[variant], client, rng, args.requests)
                print(f"block {block + 1}/{args.blocks} done", file=sys.stderr)
            for case in cases:
                for variant, handler in handlers.items():
                    count_queries(case, variant, handler, client)
    finally:
        with schema_context(tenant.schema_name):
            api_key_revoke(key=issued.key, actor=None)

    load_after = os.getloadavg()[0]
    minutes = (time.perf_counter() - started) / 60
    stats: dict[str, Any] = {}
    for case in cases:
        row: dict[str, Any] = {
            "baseline_label": case.baseline_label,
            "target_p95_ms": case.target_ms,
        }
        for variant in ("product", "baseline"):
            values = case.samples[variant]
            row[variant] = {
                "p50_ms": statistics.median(values) * 1000,
                "p95_ms": percentile(values, 0.95) * 1000,
                "max_ms": max(values) * 1000,
                "n": len(values),
                "queries": statistics.median(case.queries[variant]),
                "sql_ms": statistics.median(case.sql_ms[variant]),
                "python_cpu_ms": statistics.median(case.cpu[variant]) * 1000,
            }
            if case.name.startswith("search"):
                row[variant]["hits"] = search_hits(case, variant, typo_to_name)
        stats[case.name] = row

    print(
        f"\nContacts API, {contacts:,} contacts; {args.blocks} interleaved blocks of "
        f"{args.requests} requests per variant; {minutes:.0f} min; load average "
        f"{load_before:.2f} at the start, {load_after:.2f} at the end ({os.cpu_count()} cores); "
        f"code {code}\n"
    )
    print(
        "| request | variant | p50 | p95 | ratio to baseline p50 / p95 | queries "
        "| SQL (median) | Python CPU (median) | target (p95) |"
    )
    print("|---|---|---|---|---|---|---|---|---|")

    def cells(row: dict[str, Any], base: dict[str, Any]) -> str:
        return (
            f"{row['p50_ms']:.1f} ms | {row['p95_ms']:.1f} ms | "
            f"{row['p50_ms'] / base['p50_ms']:.2f} / {row['p95_ms'] / base['p95_ms']:.2f} | "
            f"{row['queries']:g} | {row['sql_ms']:.0f} ms | {row['python_cpu_ms']:.0f} ms"
        )

    for name, row in stats.items():
        product, baseline = row["product"], row["baseline"]
        target = row["target_p95_ms"]
        verdict = "met" if product["p95_ms"] < target else "**missed**"
        print(f"| {name} | baseline: {row['baseline_label']} | {cells(baseline, baseline)} | — |")
        print(f"| | **API** | {cells(product, baseline)} | < {target:g} ms: {verdict} |")
    search_row = next(row for name, row in stats.items() if name.startswith("search"))
    print("\n| search | pages with results | results per page | intended surname on the page |")
    print("|---|---|---|---|")
    for variant, label in (("baseline", "icontains"), ("product", "API (typo tolerant)")):
        hits = search_row[variant]["hits"]
        print(
            f"| {label} | {hits['with_results']:.0%} | {hits['mean_results_on_page']:.1f} | "
            f"{hits['intended_surname_on_page']:.0%} |"
        )
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "contacts.json").write_text(
        json.dumps(
            {
                "contacts": contacts,
                "blocks": args.blocks,
                "requests_per_block": args.requests,
                "minutes": minutes,
                "code": code,
                "load_average": [load_before, load_after],
                "stats": stats,
            },
            indent=2,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
