"""The dashboard and the six reports at scale: uncached, cached, and against the naive ORM.

    .venv/bin/python bench/sales_data.py     # once: 500,000 deals, 5,000,000 activities,
                                             # 200,000 leads
    .venv/bin/python bench/reports.py [--requests 10] [--blocks 2] [--naive-requests 1]
                                      [--naive-blocks 1] [--naive-budget 20] [--only NAME]
                                      [--users admin,rep,manager]
                                      [--periods this_month,this_year] [--slug bench-sales]
                                      [--explain]

Every product request is `GET /api/v1/reports/<name>/?period=...` through Django's WSGI
handler, in-process, to the organisation `bench-sales` on its own host, signed in by a
session cookie (one made for the run and deleted after it): middleware, tenant routing,
session and user loading, DRF, the report's filters, its selectors (the visibility rule), the
report cache, the JSON. Cases: the dashboard and each report (pipeline-by-stage, won-lost,
lead-sources, activities, funnel, forecast), as an Admin (sees every record), as a manager
(their own, their team's and shared records) and as a rep (their own and shared records), for
the periods this_month and this_year (the pipeline and the forecast are not bound to a
period: one case each, with their default filters).

Per case, in interleaved blocks:

- **uncached**: the organisation's report generation is advanced before every request
  (`apps.reports.cache.reports_changed()` in its schema, outside the timed part), so every
  request builds the report from the database, as the first load after any change does;
- **cached**: the same request again without a change in between (served from the cache);
- **naive**: what a straightforward Django developer writes for the same figures, called
  in-process (no request stack, which favours it by the ~15-20 ms of middleware, session
  and DRF): a queryset per figure through `visible(Model.objects.all(), user)` and the same
  period, values summed in Python over model instances, per-stage and per-reason loops,
  the stage history read deal by deal for the funnel, a converted lead's deal read lead by
  lead. Naive runs stop after `--naive-budget` seconds per case (at least one run).

The naive dashboard's figures are compared with the API's (open and weighted pipeline, won
value, win rate, average deal size, sales cycle, new leads, lead conversion, activities done
and overdue), and the naive pipeline's stage rows with the report's table: a mismatch is
printed loudly and fails the run's exit code.

Reports p50 and p95 per variant, the ratio naive / product (uncached), queries per request
and their time in SQL, the CPU time of a request in this process, and the load average: other
work on the machine inflates wall times (p95 most), not the SQL and CPU columns. With
--explain, prints EXPLAIN (ANALYZE, BUFFERS) of the slowest queries of each report's uncached
build. Results: a markdown table on stdout and bench/results/reports.json.
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
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
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
from django.utils import timezone  # noqa: E402
from django_tenants.utils import schema_context  # noqa: E402

from apps.accounts.models import User  # noqa: E402
from apps.accounts.roles import Role, group_name  # noqa: E402
from apps.activities.models import Activity, ActivityType  # noqa: E402
from apps.core.visibility import visible  # noqa: E402
from apps.deals.models import Deal, DealStageChange, LostReason, Pipeline, Stage  # noqa: E402
from apps.leads.models import Lead, LeadSource  # noqa: E402
from apps.reports import periods  # noqa: E402
from tenants.db import connection  # noqa: E402
from tenants.models import Tenant  # noqa: E402

SLUG = "bench-sales"
REPORTS = (
    "dashboard",
    "pipeline-by-stage",
    "won-lost",
    "lead-sources",
    "activities",
    "funnel",
    "forecast",
)
UNBOUND = ("pipeline-by-stage", "forecast")  # measured with their default filters only
VARIANTS = ("uncached", "cached", "naive")
USERS = ("admin", "manager", "rep")
UNCACHED_TARGET_MS = 300
CACHED_TARGET_MS = 50
CENT = Decimal("0.01")


@dataclass
class Case:
    report: str
    user: str  # admin, manager, rep
    period: str  # "" for the report's default
    samples: dict[str, list[float]] = field(default_factory=lambda: {v: [] for v in VARIANTS})
    cpu: dict[str, list[float]] = field(default_factory=lambda: {v: [] for v in VARIANTS})
    queries: dict[str, list[int]] = field(default_factory=lambda: {v: [] for v in VARIANTS})
    sql_ms: dict[str, list[float]] = field(default_factory=lambda: {v: [] for v in VARIANTS})
    size: int = 0
    slowest: list[tuple[float, str]] = field(default_factory=list)
    body: dict[str, Any] = field(default_factory=dict)
    naive_result: dict[str, Any] = field(default_factory=dict)
    mismatches: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return f"{self.report}, {self.user}, {self.period or 'default'}"

    @property
    def url(self) -> str:
        query = f"?period={self.period}" if self.period else ""
        return f"/api/v1/reports/{self.report}/{query}"


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
            HTTP_ACCEPT="application/json",
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


def session_for(user: User) -> str:
    client = TestClient()
    client.force_login(user)
    return client.cookies[settings.SESSION_COOKIE_NAME].value


# -- the naive ORM versions -------------------------------------------------------------------


@dataclass
class Naive:
    """What the naive versions need: the viewer, the period, and money conversion."""

    user: User
    period: periods.Period
    now: datetime
    base: str
    rates: dict[str, Decimal]

    def money(self, deal: Deal) -> Decimal | None:
        if deal.currency == self.base:
            return deal.value
        rate = self.rates.get(deal.currency)
        return deal.value * rate if rate is not None else None

    def total(self, deals: list[Deal]) -> Decimal:
        return sum((v for v in map(self.money, deals) if v is not None), Decimal(0))

    def deals(self) -> Any:
        return visible(Deal.objects.all(), self.user)

    def leads(self) -> Any:
        return visible(Lead.objects.all(), self.user)

    def activities(self) -> Any:
        return visible(Activity.objects.all(), self.user)

    def within(self, field_name: str, period: periods.Period | None = None) -> dict[str, Any]:
        p = period or self.period
        return {f"{field_name}__gte": p.start, f"{field_name}__lt": p.end}


def _cents(value: Any) -> Decimal:
    return (Decimal(value) if value is not None else Decimal(0)).quantize(CENT)


def _ratio(part: int, whole: int) -> float | None:
    return round(part * 100 / whole, 1) if whole else None


def naive_dashboard(n: Naive) -> dict[str, Any]:
    previous = n.period.previous()
    open_deals = list(n.deals().filter(status="open").select_related("stage"))
    weighted = Decimal(0)
    for deal in open_deals:
        value = n.money(deal)
        if value is not None:
            probability = (
                deal.probability if deal.probability is not None else deal.stage.probability
            )
            weighted += value * probability / 100
    figures: dict[str, Any] = {
        "open_pipeline": _cents(n.total(open_deals)),
        "weighted_pipeline": _cents(weighted),
    }
    for suffix, period in (("", n.period), ("_before", previous)):
        won = list(n.deals().filter(status="won", **n.within("won_at", period)))
        lost = n.deals().filter(status="lost", **n.within("lost_at", period)).count()
        won_value = n.total(won)
        cycle = sum((d.won_at - d.created_at for d in won), timedelta())
        leads = n.leads().filter(**n.within("created_at", period))
        new = leads.count()
        converted = leads.filter(converted_deal__isnull=False).count()
        done = n.activities().filter(done=True, **n.within("done_at", period)).count()
        figures[f"won_value{suffix}"] = _cents(won_value)
        figures[f"win_rate{suffix}"] = _ratio(len(won), len(won) + lost)
        # Over the deals that have a value in the reporting currency, as the product does.
        priced = [d for d in won if n.money(d) is not None]
        figures[f"average_deal{suffix}"] = _cents(won_value / len(priced)) if priced else None
        figures[f"sales_cycle{suffix}"] = (
            round(cycle.total_seconds() / len(won) / 86400, 1) if won else None
        )
        figures[f"new_leads{suffix}"] = new
        figures[f"lead_conversion{suffix}"] = _ratio(converted, new)
        figures[f"activities_done{suffix}"] = done
    figures["activities_overdue"] = (
        n.activities().filter(done=False, scheduled_at__lt=n.now).count()
    )
    return figures


def _default_pipeline() -> Pipeline:
    pipeline = (
        Pipeline.objects.filter(archived=False).order_by("-is_default", "order", "id").first()
    )
    assert pipeline is not None
    return pipeline


def naive_pipeline(n: Naive) -> dict[str, Any]:
    rows = {}
    for stage in Stage.objects.filter(pipeline=_default_pipeline(), kind="open").order_by("order"):
        deals = list(n.deals().filter(stage=stage, status="open"))
        weighted = Decimal(0)
        for deal in deals:
            value = n.money(deal)
            if value is not None:
                probability = (
                    deal.probability if deal.probability is not None else stage.probability
                )
                weighted += value * probability / 100
        rows[stage.name] = {
            "deals": len(deals),
            "value": _cents(n.total(deals)),
            "weighted": _cents(weighted),
        }
    return rows


def naive_won_lost(n: Naive) -> dict[str, Any]:
    won = list(n.deals().filter(status="won", **n.within("won_at")))
    rows: dict[str, Any] = {"won": {"deals": len(won), "value": _cents(n.total(won))}}
    for reason in [*LostReason.objects.all(), None]:
        lost = list(n.deals().filter(status="lost", lost_reason=reason, **n.within("lost_at")))
        rows[reason.name if reason else "(no reason)"] = {
            "deals": len(lost),
            "value": _cents(n.total(lost)),
        }
    return rows


def naive_lead_sources(n: Naive) -> dict[str, Any]:
    rows = {}
    for source in [*LeadSource.objects.all(), None]:
        leads = list(n.leads().filter(source=source, **n.within("created_at")))
        qualified = [
            lead
            for lead in leads
            if lead.status in ("qualified", "converted") or lead.converted_at is not None
        ]
        converted = [lead for lead in leads if lead.converted_deal_id is not None]
        won = [lead.converted_deal for lead in converted if lead.converted_deal.status == "won"]
        rows[source.name if source else "(no source)"] = {
            "leads": len(leads),
            "qualified": len(qualified),
            "converted": len(converted),
            "won": len(won),
            "won_value": _cents(n.total(won)),
        }
    return rows


def naive_activities(n: Naive) -> dict[str, Any]:
    rows: dict[str, Any] = {}
    scheduled = n.activities().filter(**n.within("scheduled_at"))
    for kind in ActivityType.values:
        of_kind = scheduled.filter(type=kind)
        outcomes = {}
        for outcome in of_kind.order_by().values_list("outcome", flat=True).distinct():
            outcomes[outcome] = of_kind.filter(done=True, outcome=outcome).count()
        rows[kind] = {
            "all": of_kind.count(),
            "done": of_kind.filter(done=True).count(),
            "overdue": of_kind.filter(done=False, scheduled_at__lt=n.now).count(),
            "outcomes": outcomes,
        }
    owners = {}
    for owner in User.objects.filter(is_active=True):
        mine = scheduled.filter(owner=owner)
        done = mine.filter(done=True).count()
        overdue = mine.filter(done=False, scheduled_at__lt=n.now).count()
        if done or overdue:
            owners[owner.pk] = {"done": done, "overdue": overdue}
    rows["owners"] = owners
    return rows


def naive_funnel(n: Naive) -> dict[str, Any]:
    pipeline = _default_pipeline()
    stages = list(Stage.objects.filter(pipeline=pipeline).order_by("order"))
    reached = {stage.pk: 0 for stage in stages}
    seconds = {stage.pk: 0 for stage in stages}
    moves_out = {stage.pk: 0 for stage in stages}
    for deal in n.deals().filter(pipeline=pipeline, **n.within("created_at")):
        seen = set()
        for change in deal.stage_changes.all().order_by("changed_at"):
            if change.to_stage_id in reached and change.to_stage_id not in seen:
                seen.add(change.to_stage_id)
                reached[change.to_stage_id] += 1
            if change.from_stage_id in seconds and change.seconds_in_previous is not None:
                seconds[change.from_stage_id] += change.seconds_in_previous
                moves_out[change.from_stage_id] += 1
    rows = {}
    previous = None
    for stage in stages:
        rows[stage.name] = {
            "reached": reached[stage.pk],
            "from_previous": _ratio(reached[stage.pk], previous) if previous is not None else None,
            "average_days": round(seconds[stage.pk] / moves_out[stage.pk] / 86400, 1)
            if moves_out[stage.pk]
            else None,
        }
        previous = reached[stage.pk]
    return rows


def naive_forecast(n: Naive) -> dict[str, Any]:
    today = n.now.date()
    month = today.replace(day=1)
    months = []
    for step in range(-6, 7):
        year, index = divmod(month.month - 1 + step, 12)
        months.append(date(month.year + year, index + 1, 1))
    rows = {}
    for first in months:
        following = (first + timedelta(days=32)).replace(day=1)
        expected = list(
            n.deals()
            .filter(status="open", expected_close__gte=first, expected_close__lt=following)
            .select_related("stage")
        )
        weighted = Decimal(0)
        for deal in expected:
            value = n.money(deal)
            if value is not None:
                probability = (
                    deal.probability if deal.probability is not None else deal.stage.probability
                )
                weighted += value * probability / 100
        start = datetime.combine(first, datetime.min.time(), tzinfo=n.period.tz)
        end = datetime.combine(following, datetime.min.time(), tzinfo=n.period.tz)
        won = list(n.deals().filter(status="won", won_at__gte=start, won_at__lt=end))
        rows[first.isoformat()] = {
            "weighted": _cents(weighted),
            "best_case": _cents(n.total(expected)),
            "won": _cents(n.total(won)),
        }
    return rows


NAIVE: dict[str, Callable[[Naive], dict[str, Any]]] = {
    "dashboard": naive_dashboard,
    "pipeline-by-stage": naive_pipeline,
    "won-lost": naive_won_lost,
    "lead-sources": naive_lead_sources,
    "activities": naive_activities,
    "funnel": naive_funnel,
    "forecast": naive_forecast,
}


def run_naive(tenant: Tenant, case: Case, users: dict[str, User]) -> tuple[float, float, int]:
    """One naive run of `case`: wall time, CPU time, queries."""
    from apps.reports.queries import common

    with schema_context(tenant.schema_name):
        user = users[case.user]
        now = timezone.now()
        tz = periods.zone(getattr(user, "time_zone", "UTC"))
        period = periods.resolve(case.period or "this_month", tz=tz, now=now)
        started, cpu_started = time.perf_counter(), time.thread_time()
        with CaptureQueriesContext(connection) as captured:
            m = common.money()
            n = Naive(user, period, now, m.base, dict(m.rates))
            result = NAIVE[case.report](n)
            json.dumps(result, default=str)
        elapsed, cpu = time.perf_counter() - started, time.thread_time() - cpu_started
    case.naive_result = result
    return elapsed, cpu, len(captured.captured_queries)


# -- comparing ----------------------------------------------------------------------------------


def _same(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return abs(Decimal(str(a)) - Decimal(str(b))) <= Decimal("0.011")


def compare(case: Case) -> None:
    """The naive figures against the API's, where both compute the same thing."""
    if case.report == "dashboard":
        for figure in case.body.get("figures", []):
            key = figure["key"]
            for name, value in ((key, figure["value"]), (f"{key}_before", figure["previous"])):
                if name not in case.naive_result:
                    continue
                if name == "activities_overdue":
                    # Counted "now" by each, moments apart: a slot may pass in between.
                    if abs(int(case.naive_result[name]) - int(value or 0)) > 50:
                        case.mismatches.append(
                            f"{name}: API {value}, naive {case.naive_result[name]}"
                        )
                    continue
                if not _same(value, case.naive_result[name]):
                    case.mismatches.append(f"{name}: API {value}, naive {case.naive_result[name]}")
    elif case.report == "pipeline-by-stage":
        table = case.body.get("table") or {}
        for row in table.get("rows", []):
            naive = case.naive_result.get(row.get("stage"))
            if naive is None:
                case.mismatches.append(f"stage {row.get('stage')}: not in the naive result")
                continue
            for column in ("deals", "value", "weighted"):
                if not _same(row.get(column), naive[column]):
                    case.mismatches.append(
                        f"{row['stage']} {column}: API {row.get(column)}, naive {naive[column]}"
                    )


# -- running --------------------------------------------------------------------------------


def prepare(tenant: Tenant) -> tuple[dict[str, Any], dict[str, User]]:
    with schema_context(tenant.schema_name):
        admin = User.objects.filter(groups__name=group_name(Role.ADMIN)).order_by("email").first()
        manager = (
            User.objects.filter(groups__name=group_name(Role.MANAGER)).order_by("email").first()
        )
        rep = User.objects.filter(groups__name=group_name(Role.REP)).order_by("email").first()
        assert admin is not None and manager is not None and rep is not None
        users = {"admin": admin, "manager": manager, "rep": rep}
        info: dict[str, Any] = {
            "deals": Deal.objects.count(),
            "open_deals": Deal.objects.filter(status="open").count(),
            "stage_changes": DealStageChange.objects.count(),
            "activities": Activity.objects.count(),
            "leads": Lead.objects.count(),
            "users": {
                name: {
                    "email": u.email,
                    "deals": visible(Deal.objects.all(), u).count(),
                    "activities": visible(Activity.objects.all(), u).count(),
                    "leads": visible(Lead.objects.all(), u).count(),
                }
                for name, u in users.items()
            },
            "cookies": {name: session_for(u) for name, u in users.items()},
        }
    return info, users


def bump(tenant: Tenant) -> None:
    from apps.reports.cache import reports_changed

    with schema_context(tenant.schema_name):
        reports_changed()


def run_product(
    tenant: Tenant, case: Case, handler: WSGIHandler, client: Client, cached: bool, count: int
) -> None:
    variant = "cached" if cached else "uncached"
    if cached:
        client.get(handler, case.user, case.url)  # stored for the timed requests
    for _ in range(count):
        if not cached:
            bump(tenant)
        elapsed, cpu, body = client.get(handler, case.user, case.url)
        case.samples[variant].append(elapsed)
        case.cpu[variant].append(cpu)
        case.size = len(body)


def count_queries(tenant: Tenant, case: Case, handler: WSGIHandler, client: Client) -> None:
    for variant in ("uncached", "cached"):
        for _ in range(2):
            if variant == "uncached":
                bump(tenant)
            with CaptureQueriesContext(connection) as captured:
                _, _, body = client.get(handler, case.user, case.url)
            case.queries[variant].append(len(captured.captured_queries))
            case.sql_ms[variant].append(
                1000 * sum(float(query["time"]) for query in captured.captured_queries)
            )
            if variant == "uncached":
                case.body = json.loads(body)
                case.slowest = sorted(
                    (
                        (float(q["time"]) * 1000, q["sql"])
                        for q in captured.captured_queries
                        if q["sql"].lstrip("( \n").upper().startswith(("SELECT", "WITH"))
                    ),
                    reverse=True,
                )[:3]


def explain(tenant: Tenant, cases: list[Case]) -> None:
    with schema_context(tenant.schema_name), connection.cursor() as cursor:
        for case in cases:
            print(f"\n## {case.name}: the slowest queries of an uncached build\n")
            for ms, sql in case.slowest:
                print(f"-- {ms:.1f} ms\n{sql}\n")
                cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}")
                print("\n".join(row[0] for row in cursor.fetchall()) + "\n")


def build_cases(reports: list[str], users: list[str], period_keys: list[str]) -> list[Case]:
    cases = []
    for report in reports:
        for user in users:
            for period in [""] if report in UNBOUND else period_keys:
                cases.append(Case(report, user, period))
    return cases


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=10, help="per variant, case and block")
    parser.add_argument("--blocks", type=int, default=2)
    parser.add_argument("--naive-requests", type=int, default=1, help="per case and block")
    parser.add_argument(
        "--naive-blocks", type=int, default=1, help="blocks that also run the naive versions"
    )
    parser.add_argument(
        "--naive-budget", type=float, default=20, help="seconds of naive runs per case and block"
    )
    parser.add_argument("--only", default="", help="only these reports (comma separated)")
    parser.add_argument("--users", default=",".join(USERS))
    parser.add_argument("--periods", default="this_month,this_year")
    parser.add_argument("--no-naive", action="store_true")
    parser.add_argument("--slug", default=SLUG, help="the organisation sales_data.py filled")
    parser.add_argument("--explain", action="store_true", help="EXPLAIN the slowest queries")
    args = parser.parse_args()

    # The code measured may carry migrations the data has not seen yet (new indexes).
    call_command("migrate_schemas", interactive=False, verbosity=0)
    tenant = Tenant.objects.filter(slug=args.slug).first()
    if tenant is None:
        raise SystemExit(f"No organisation {args.slug}: run bench/sales_data.py first.")
    info, users = prepare(tenant)
    connection.set_schema_to_public()
    reports = [r for r in REPORTS if not args.only or r in args.only.split(",")]
    cases = build_cases(reports, args.users.split(","), args.periods.split(","))
    client = Client(f"{args.slug}.{settings.KESTREL_BASE_DOMAIN}", info["cookies"])
    code = code_state()
    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    try:
        with override_settings(DEBUG=False):
            handler = WSGIHandler()
            for case in cases:  # warm up: imports, connection, plans
                run_product(tenant, case, handler, client, False, 1)
                case.samples["uncached"].clear()
                case.cpu["uncached"].clear()
            for block in range(args.blocks):
                for case in cases:
                    order = [False, True] if block % 2 == 0 else [True, False]
                    for cached in order:
                        run_product(tenant, case, handler, client, cached, args.requests)
                    if args.no_naive or block >= args.naive_blocks:
                        continue
                    spent = 0.0
                    for _ in range(args.naive_requests):
                        elapsed, cpu, queries = run_naive(tenant, case, users)
                        case.samples["naive"].append(elapsed)
                        case.cpu["naive"].append(cpu)
                        case.queries["naive"].append(queries)
                        spent += elapsed
                        if spent > args.naive_budget:
                            break
                    print(
                        f"  {case.name}: uncached p50 "
                        f"{statistics.median(case.samples['uncached']) * 1000:.0f} ms, naive "
                        f"{statistics.median(case.samples['naive']) * 1000:.0f} ms",
                        file=sys.stderr,
                        flush=True,
                    )
                print(f"block {block + 1}/{args.blocks} done", file=sys.stderr, flush=True)
            for case in cases:
                count_queries(tenant, case, handler, client)
                if case.naive_result:
                    compare(case)
    finally:
        with schema_context(tenant.schema_name):
            Session.objects.filter(session_key__in=info["cookies"].values()).delete()

    load_after = os.getloadavg()[0]
    minutes = (time.perf_counter() - started) / 60
    stats: dict[str, Any] = {}
    for case in cases:
        row: dict[str, Any] = {"url": case.url, "user": info["users"][case.user]["email"]}
        for variant in VARIANTS:
            values = case.samples[variant]
            if not values:
                continue
            row[variant] = {
                "p50_ms": statistics.median(values) * 1000,
                "p95_ms": percentile(values, 0.95) * 1000,
                "max_ms": max(values) * 1000,
                "n": len(values),
                "queries": statistics.median(case.queries[variant] or [0]),
                "sql_ms": statistics.median(case.sql_ms[variant] or [0]),
                "python_cpu_ms": statistics.median(case.cpu[variant]) * 1000,
            }
        row["bytes"] = case.size
        row["mismatches"] = case.mismatches
        row["slowest_queries"] = [{"ms": ms, "sql": sql} for ms, sql in case.slowest]
        stats[case.name] = row

    print(
        f"\nReports on {info['deals']:,} deals ({info['open_deals']:,} open), "
        f"{info['stage_changes']:,} stage changes, {info['activities']:,} activities, "
        f"{info['leads']:,} leads; "
        + "; ".join(
            f"{name} sees {u['deals']:,} deals, {u['activities']:,} activities, "
            f"{u['leads']:,} leads"
            for name, u in info["users"].items()
        )
        + f". {args.blocks} blocks of {args.requests} requests per variant and case; "
        f"{minutes:.1f} min; load average {load_before:.2f} at the start, {load_after:.2f} at "
        f"the end ({os.cpu_count()} cores); code {code}\n"
    )
    print(
        "| case | uncached p50 / p95 | cached p50 / p95 | naive p50 / p95 | naive / uncached "
        "(p50) | queries uncached / naive | SQL uncached | CPU uncached | target uncached "
        "< 300 ms p95 / cached < 50 ms p95 |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    failed = False
    for name, row in stats.items():
        unc, cac, nai = row["uncached"], row["cached"], row.get("naive")

        def pair(v: dict[str, Any] | None) -> str:
            return f"{v['p50_ms']:.1f} / {v['p95_ms']:.1f} ms" if v else "—"

        ratio = f"{nai['p50_ms'] / unc['p50_ms']:.1f}" if nai else "—"
        verdict = (
            ("met" if unc["p95_ms"] < UNCACHED_TARGET_MS else "**missed**")
            + " / "
            + ("met" if cac["p95_ms"] < CACHED_TARGET_MS else "**missed**")
        )
        print(
            f"| {name} | {pair(unc)} | {pair(cac)} | {pair(nai)} | {ratio} | "
            f"{unc['queries']:g} / {nai['queries'] if nai else 0:g} | {unc['sql_ms']:.0f} ms | "
            f"{unc['python_cpu_ms']:.0f} ms | {verdict} |"
        )
    for name, row in stats.items():
        if row["mismatches"]:
            failed = True
            print(f"\n!!! MISMATCH {name}: the naive figures differ from the API's:")
            for line in row["mismatches"]:
                print(f"!!!   {line}")
    compared = [
        c.name for c in cases if c.report in ("dashboard", "pipeline-by-stage") and c.naive_result
    ]
    if compared and not failed:
        print(f"\nNaive figures equal the API's for: {', '.join(compared)}")
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    info.pop("cookies")
    (out / "reports.json").write_text(
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
            default=str,
        )
    )
    if args.explain:
        explain(tenant, cases)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
