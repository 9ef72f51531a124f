"""The deals board and the activities calendar at scale, each against a naive baseline.

    .venv/bin/python bench/sales_data.py     # once: 500,000 deals, 5,000,000 activities
    .venv/bin/python bench/sales.py [--requests 10] [--blocks 5] [--month 2026-11]
                                    [--slug bench-sales] [--explain]

Every request goes through Django's WSGI handler, in-process, to the organisation
`bench-sales` on its own host, signed in by a session cookie (a session made for the run and
deleted after it): the whole stack of middleware, tenant routing, session and user loading,
the view, its permission selector, the template or JSON, and the database. Each request is
measured against a baseline (bench/sales_urls.py) in interleaved blocks whose order
alternates, so that both see the same machine and caches:

- board:     GET /deals/board/<Sales pipeline>/ (`deals:board_pipeline`): the whole first
             paint of the board of the pipeline with about 10,000 open deals (every column's
             first cards and its totals over all its deals), as the organisation's owner
             (sees every deal) and as a rep (sees their own and shared ones: the visibility
             rule's subqueries), vs loading every open deal of the pipeline through the same
             selector and summing and rendering them all in Python;
- calendar:  GET /activities/calendar/events/?start=&end=&scope=mine
             (`activities:calendar_events`): the month view's range (the whole weeks around
             the month, as the calendar asks for it) of the rep whose activities in that range
             are closest to 2,000, vs the same events found by comparing dates (no range on
             the index) with the assignee read per event.

Reports p50 and p95 per request, queries per request and their time in SQL, the CPU time
of the request in this process (Python), response sizes, and the load average during the
run: other work on the machine inflates wall times (p95 most), not the SQL and CPU times.
With --explain, prints EXPLAIN (ANALYZE, BUFFERS) of the product's slowest queries of each
request. Results: a markdown table on stdout and bench/results/sales.json.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.development")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.contrib.sessions.models import Session  # noqa: E402
from django.core.handlers.wsgi import WSGIHandler  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.test import Client as TestClient  # noqa: E402
from django.test import override_settings  # noqa: E402
from django.test.client import RequestFactory  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.urls import reverse  # noqa: E402
from django.utils import timezone  # noqa: E402
from django_tenants.utils import schema_context  # noqa: E402

from apps.accounts.models import User  # noqa: E402
from apps.accounts.roles import Role, group_name  # noqa: E402
from apps.activities.models import Activity  # noqa: E402
from apps.deals.models import Deal, Pipeline  # noqa: E402
from tenants.db import connection  # noqa: E402
from tenants.models import Tenant  # noqa: E402

SLUG = "bench-sales"
VARIANTS = ("product", "baseline", "proposed")


@dataclass
class Case:
    name: str
    user: str  # key of the session cookie to send
    product: str  # path?query
    baseline: str
    baseline_label: str
    target_ms: float
    proposed: str = ""  # a what-if variant of the product (bench/sales_urls.py), if any
    proposed_label: str = ""
    samples: dict[str, list[float]] = field(default_factory=lambda: {v: [] for v in VARIANTS})
    cpu: dict[str, list[float]] = field(default_factory=lambda: {v: [] for v in VARIANTS})
    queries: dict[str, list[int]] = field(default_factory=lambda: {v: [] for v in VARIANTS})
    sql_ms: dict[str, list[float]] = field(default_factory=lambda: {v: [] for v in VARIANTS})
    size: dict[str, int] = field(default_factory=lambda: {v: 0 for v in VARIANTS})
    items: dict[str, int] = field(default_factory=lambda: {v: 0 for v in VARIANTS})
    slowest: list[tuple[float, str]] = field(default_factory=list)


def make_handler(urlconf: str | None) -> WSGIHandler:
    # The tenant middleware reads ROOT_URLCONF when the handler loads it.
    with override_settings(ROOT_URLCONF=urlconf or settings.ROOT_URLCONF):
        handler = WSGIHandler()
    return handler


class Client:
    def __init__(self, host: str, cookies: dict[str, str]) -> None:
        self.host = host
        self.cookies = cookies
        self.status = ""

    def _start_response(self, status: str, headers: list[tuple[str, str]], exc: Any = None) -> Any:
        self.status = status
        return None

    def get(self, handler: WSGIHandler, user: str, url: str) -> tuple[float, float, bytes]:
        """Wall time and this thread's CPU time of one request, and the response body."""
        path, _, query = url.partition("?")
        environ: dict[str, Any] = RequestFactory()._base_environ(  # type: ignore[attr-defined]
            PATH_INFO=path,
            QUERY_STRING=query,
            HTTP_HOST=self.host,
            HTTP_COOKIE=f"{settings.SESSION_COOKIE_NAME}={self.cookies[user]}",
            HTTP_ACCEPT="text/html,application/json",
        )
        environ["wsgi.input"] = io.BytesIO(b"")
        started, cpu_started = time.perf_counter(), time.thread_time()
        response = handler(environ, self._start_response)
        body = b"".join(response)
        response.close()
        elapsed, cpu = time.perf_counter() - started, time.thread_time() - cpu_started
        if not self.status.startswith("200"):
            raise SystemExit(f"GET {url} as {user}: {self.status}\n{body[:800]!r}")
        return elapsed, cpu, body


def code_state() -> str:
    """The commit measured, and how many application files differed from it."""
    git = ["git", "-C", str(ROOT)]
    head = subprocess.run(  # noqa: S603 - our own fixed git commands
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


def month_grid(month: date) -> tuple[date, date]:
    """The whole weeks (Monday first) around `month`, as a month calendar shows and asks
    for them: [first Monday, the Monday after the last week)."""
    first = month.replace(day=1)
    following = (first + timedelta(days=32)).replace(day=1)
    start = first - timedelta(days=first.weekday())
    end = following + timedelta(days=(7 - following.weekday()) % 7)
    return start, end


def session_for(user: User) -> str:
    client = TestClient()
    client.force_login(user)
    return client.cookies[settings.SESSION_COOKIE_NAME].value


def prepare(tenant: Tenant, month: date) -> dict[str, Any]:
    """The users, pipeline and range measured, with their sizes; session cookies for them."""
    with schema_context(tenant.schema_name):
        owner = User.objects.filter(is_superuser=True).order_by("pk").first()
        pipeline = Pipeline.objects.get(name="Sales")
        assert owner is not None
        reps = User.objects.filter(groups__name=group_name(Role.REP)).order_by("email")
        board_rep = reps.first()
        assert board_rep is not None
        start, end = month_grid(month)
        tz = timezone.get_current_timezone()
        start_at = timezone.make_aware(datetime.combine(start, datetime.min.time()), tz)
        end_at = timezone.make_aware(datetime.combine(end, datetime.min.time()), tz)
        per_rep = {
            row["owner_id"]: row["n"]
            for row in Activity.objects.filter(
                owner__in=reps, scheduled_at__gte=start_at, scheduled_at__lt=end_at
            )
            .values("owner_id")
            .annotate(n=django.db.models.Count("pk"))
        }
        if not per_rep:
            raise SystemExit(f"No activities between {start} and {end}: pick another --month.")
        calendar_rep_id = min(per_rep, key=lambda pk: abs(per_rep[pk] - 2000))
        calendar_rep = User.objects.get(pk=calendar_rep_id)
        open_deals = Deal.objects.filter(pipeline=pipeline, status="open")
        info = {
            "pipeline": pipeline.pk,
            "deals": Deal.objects.count(),
            "pipeline_deals": Deal.objects.filter(pipeline=pipeline).count(),
            "open_deals": open_deals.count(),
            "rep_open_deals": open_deals.filter(owner=board_rep).count(),
            "board_rep": board_rep.email,
            "activities": Activity.objects.count(),
            "calendar_rep": calendar_rep.email,
            "calendar_activities": per_rep[calendar_rep_id],
            "range": (start.isoformat(), end.isoformat()),
            "cookies": {
                "owner": session_for(owner),
                "rep": session_for(board_rep),
                "calendar": session_for(calendar_rep),
            },
        }
    return info


def build_cases(info: dict[str, Any]) -> list[Case]:
    pipeline = info["pipeline"]
    board = reverse("deals:board_pipeline", args=[pipeline], urlconf=settings.ROOT_URLCONF)
    events = reverse("activities:calendar_events", urlconf=settings.ROOT_URLCONF)
    start, end = info["range"]
    span = f"start={start}T00:00:00&end={end}T00:00:00"
    naive_board = f"/bench/deals-board-naive/{pipeline}/"
    return [
        Case(
            f"board, {info['open_deals']:,} open deals, as the owner",
            "owner",
            board,
            naive_board,
            "every open deal loaded, summed and rendered in Python",
            300,
        ),
        Case(
            f"board, as a rep ({info['rep_open_deals']:,} open deals of theirs)",
            "rep",
            board,
            naive_board,
            "every open deal loaded, summed and rendered in Python",
            300,
        ),
        Case(
            f"calendar month ({start} to {end}), a rep's {info['calendar_activities']:,} "
            "activities",
            "calendar",
            f"{events}?{span}&scope=mine",
            f"/bench/calendar-naive/?{span}",
            "dates compared (no index range), assignee per event",
            200,
        ),
    ]


def count_items(case: Case, variant: str, body: bytes) -> int:
    if case.name.startswith("calendar"):
        return len(json.loads(body))
    return body.count(b'data-deal="')  # one per card


def url_of(case: Case, variant: str) -> str:
    return {"product": case.product, "baseline": case.baseline, "proposed": case.proposed}[variant]


def variants(case: Case) -> list[str]:
    return [v for v in VARIANTS if url_of(case, v)]


def run_block(case: Case, variant: str, handler: WSGIHandler, client: Client, count: int) -> None:
    url = url_of(case, variant)
    for _ in range(count):
        elapsed, cpu, body = client.get(handler, case.user, url)
        case.samples[variant].append(elapsed)
        case.cpu[variant].append(cpu)
        case.size[variant] = len(body)


def count_queries(case: Case, variant: str, handler: WSGIHandler, client: Client) -> None:
    url = url_of(case, variant)
    for _ in range(3):
        with CaptureQueriesContext(connection) as captured:
            _, _, body = client.get(handler, case.user, url)
        case.queries[variant].append(len(captured.captured_queries))
        case.sql_ms[variant].append(
            1000 * sum(float(query["time"]) for query in captured.captured_queries)
        )
        case.items[variant] = count_items(case, variant, body)
        if variant == "product":
            case.slowest = sorted(
                (
                    (float(q["time"]) * 1000, q["sql"])
                    for q in captured.captured_queries
                    if q["sql"].lstrip("(").upper().startswith(("SELECT", "WITH"))
                ),
                reverse=True,
            )[:3]


def explain(tenant: Tenant, cases: list[Case]) -> None:
    with schema_context(tenant.schema_name), connection.cursor() as cursor:
        for case in cases:
            print(f"\n## {case.name}: the product's slowest queries\n")
            for ms, sql in case.slowest:  # SELECTs only (see count_queries)
                print(f"-- {ms:.1f} ms\n{sql}\n")
                cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}")
                print("\n".join(row[0] for row in cursor.fetchall()) + "\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=10, help="per variant and block")
    parser.add_argument("--blocks", type=int, default=5)
    parser.add_argument("--month", default="", help="YYYY-MM of the calendar (default: now)")
    parser.add_argument("--slug", default=SLUG, help="the organisation sales_data.py filled")
    parser.add_argument("--explain", action="store_true", help="EXPLAIN the slowest queries")
    parser.add_argument("--only", default="", help="run only the cases whose name has this")
    args = parser.parse_args()

    # The code measured may carry migrations the data has not seen yet (new indexes).
    call_command("migrate_schemas", interactive=False, verbosity=0)
    tenant = Tenant.objects.filter(slug=args.slug).first()
    if tenant is None:
        raise SystemExit(f"No organisation {args.slug}: run bench/sales_data.py first.")
    month = datetime.strptime(args.month, "%Y-%m").date() if args.month else timezone.now().date()
    info = prepare(tenant, month)
    connection.set_schema_to_public()
    cases = [c for c in build_cases(info) if args.only in c.name]
    client = Client(f"{args.slug}.{settings.KESTREL_BASE_DOMAIN}", info["cookies"])
    code = code_state()
    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    try:
        with override_settings(DEBUG=False):
            bench_urls = make_handler("sales_urls")
            handlers = {
                "product": make_handler(None),
                "baseline": bench_urls,
                "proposed": bench_urls,
            }
            for case in cases:  # warm up: imports, connection, caches, plans, templates
                for variant in variants(case):
                    run_block(case, variant, handlers[variant], client, 2)
                    case.samples[variant].clear()
                    case.cpu[variant].clear()
            for block in range(args.blocks):
                for case in cases:
                    order = variants(case)
                    # Each variant in turn goes first, so none always follows the same one.
                    shift = block % len(order)
                    for variant in order[shift:] + order[:shift]:
                        run_block(case, variant, handlers[variant], client, args.requests)
                print(f"block {block + 1}/{args.blocks} done", file=sys.stderr, flush=True)
            for case in cases:
                for variant in variants(case):
                    count_queries(case, variant, handlers[variant], client)
    finally:
        with schema_context(tenant.schema_name):
            Session.objects.filter(session_key__in=info["cookies"].values()).delete()

    load_after = os.getloadavg()[0]
    minutes = (time.perf_counter() - started) / 60
    stats: dict[str, Any] = {}
    for case in cases:
        row: dict[str, Any] = {
            "baseline_label": case.baseline_label,
            "proposed_label": case.proposed_label,
            "target_p95_ms": case.target_ms,
        }
        for variant in variants(case):
            values = case.samples[variant]
            row[variant] = {
                "p50_ms": statistics.median(values) * 1000,
                "p95_ms": percentile(values, 0.95) * 1000,
                "max_ms": max(values) * 1000,
                "n": len(values),
                "queries": statistics.median(case.queries[variant]),
                "sql_ms": statistics.median(case.sql_ms[variant]),
                "python_cpu_ms": statistics.median(case.cpu[variant]) * 1000,
                "bytes": case.size[variant],
                "items": case.items[variant],
            }
        row["slowest_queries"] = [{"ms": ms, "sql": sql} for ms, sql in case.slowest]
        row["product_url"] = case.product
        stats[case.name] = row

    print(
        f"\nBoard and calendar, {info['deals']:,} deals ({info['pipeline_deals']:,} in the "
        f"Sales pipeline, {info['open_deals']:,} of them open), {info['activities']:,} "
        f"activities; {args.blocks} interleaved blocks of {args.requests} requests per "
        f"variant; {minutes:.1f} min; load average {load_before:.2f} at the start, "
        f"{load_after:.2f} at the end ({os.cpu_count()} cores); code {code}\n"
    )
    print(
        "| request | variant | p50 | p95 | ratio to baseline p50 / p95 | queries "
        "| SQL (median) | Python CPU (median) | shown | size | target (p95) |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")

    def cells(row: dict[str, Any], base: dict[str, Any], unit: str) -> str:
        return (
            f"{row['p50_ms']:.1f} ms | {row['p95_ms']:.1f} ms | "
            f"{row['p50_ms'] / base['p50_ms']:.2f} / {row['p95_ms'] / base['p95_ms']:.2f} | "
            f"{row['queries']:g} | {row['sql_ms']:.0f} ms | {row['python_cpu_ms']:.0f} ms | "
            f"{row['items']:,} {unit} | {row['bytes'] / 1024:,.0f} KiB"
        )

    for name, row in stats.items():
        product, baseline = row["product"], row["baseline"]
        unit = "events" if name.startswith("calendar") else "cards"
        target = row["target_p95_ms"]
        verdict = "met" if product["p95_ms"] < target else "**missed**"
        print(
            f"| {name} | baseline: {row['baseline_label']} | "
            f"{cells(baseline, baseline, unit)} | — |"
        )
        print(f"| | **Kestrel** | {cells(product, baseline, unit)} | < {target:g} ms: {verdict} |")
        if "proposed" in row:
            proposed = row["proposed"]
            verdict = "met" if proposed["p95_ms"] < target else "**missed**"
            print(
                f"| | what-if: {row['proposed_label']} | {cells(proposed, baseline, unit)} "
                f"| < {target:g} ms: {verdict} |"
            )
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    info.pop("cookies")
    (out / "sales.json").write_text(
        json.dumps(
            {
                **info,
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
    if args.explain:
        explain(tenant, cases)
    return 0


if __name__ == "__main__":
    sys.exit(main())
