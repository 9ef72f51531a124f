"""List exports: rows a second and memory of CSV, JSON and XLSX exports of contacts, through
the API, against django-import-export's stock export of the same queryset.

    .venv/bin/python bench/exports.py [--rows 100000] [--blocks 3] [--formats csv,json,xlsx]
                                      [--rss-rows 100000,300000] [--no-rss] [--drop]

Data: an organisation of its own per size (`bench-exports-<rows>`, provisioned through the
provisioning service, kept for the next run unless --drop), with 10 members owning the
records, 5 custom fields on contacts (tier: select, score: number, renewal: date, revenue:
currency, segments: multi select), 20 tags, 2,000 companies and `--rows` contacts, written
with COPY (a few seconds for 100,000): 85% of the contacts carry custom field values, 40%
one to three tags, 85% a link to a company, 1% a job title that starts like a formula.

Measurement, in interleaved blocks whose order alternates:
- **product**: `GET /api/v1/contacts/export/?format=<csv|json|xlsx>` through Django's WSGI
  handler in-process (tenant routing, API key authentication as an Admin, scopes, rate limit
  counters, the view, the selector, the exporter), the whole streamed body consumed block by
  block as a server sends it;
- **baseline**: django-import-export's stock `ModelResource.export(queryset)` over the same
  selector's queryset (`contact_list`, the API's list), then `dataset.csv` (tablib), with the
  same chunk size as the product (2,000; its default of 100 pages with OFFSET, slower still).
  Its columns are the contact's own, owner as an id, tags as ids, custom fields as one JSON
  cell: about the same work per row, without the company names.
Rows a second = contacts / wall time of the whole request (or of export + csv). The CPU
time of this process and of the database's backend (read from /proc when PostgreSQL runs on
this machine) is reported too: unlike wall time, it does not grow when other work shares
the machine.

Memory: each format (and the baseline) runs again in a fresh subprocess per size in
`--rss-rows`, which reports its peak RSS (`resource.getrusage`) before and after the export:
a streamed export's peak should not grow with the number of rows.

Results: markdown tables on stdout and bench/results/exports.json. Needs a database of its
own (`DATABASE_URL`), like the other benchmarks (bench/README.md).
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import io
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.development")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402

# Organisations made and deleted by a benchmark need no final backup.
settings.KESTREL_BACKUP_ON_DELETE = False

from django.core.handlers.wsgi import WSGIHandler  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import models, transaction  # noqa: E402
from django.test import override_settings  # noqa: E402
from django.test.client import RequestFactory  # noqa: E402
from django_tenants.utils import schema_context  # noqa: E402
from import_export import resources  # noqa: E402

from apps.accounts.models import User  # noqa: E402
from apps.accounts.roles import Role  # noqa: E402
from apps.accounts.services import user_create, user_set_role  # noqa: E402
from apps.apikeys.services import api_key_create, api_key_revoke  # noqa: E402
from apps.companies.models import Company  # noqa: E402
from apps.contacts.models import Contact, ContactCompany  # noqa: E402
from apps.contacts.selectors import contact_list  # noqa: E402
from apps.records import services as record_services  # noqa: E402
from apps.records.models import CustomField, FieldType, Tag  # noqa: E402
from tenants import provisioning, services  # noqa: E402
from tenants.db import connection  # noqa: E402
from tenants.models import Tenant  # noqa: E402

FORMATS = ("csv", "json", "xlsx")
NO_LIMITS = {
    plan: {"key": (10**9, 10), "organisation": (10**9, 10)} for plan in settings.API_RATE_LIMITS
}
FIELDS: tuple[tuple[str, str, str, list[str]], ...] = (  # key, label, type, options
    ("tier", "Tier", FieldType.SELECT, ["bronze", "silver", "gold", "platinum"]),
    ("score", "Score", FieldType.NUMBER, []),
    ("renewal", "Renewal", FieldType.DATE, []),
    ("revenue", "Revenue", FieldType.CURRENCY, []),
    ("segments", "Segments", FieldType.MULTI_SELECT, ["smb", "mid-market", "enterprise", "emea"]),
)
TAGS = [
    "customer", "prospect", "vip", "partner", "webinar", "trade-show", "churn-risk", "upsell",
    "beta", "referral", "enterprise", "smb", "decision-maker", "champion", "billing",
    "technical", "do-not-call", "inbound", "outbound", "cold",
]  # fmt: skip
FIRST = ["Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Frances", "Ken", "Radia", "Tim"]
LAST = ["Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth", "Allen", "Thompson"]
TITLES = ["CEO", "CTO", "VP Sales", "Buyer", "Engineer", "Office Manager", "Founder", ""]
PLACES = [
    ("London", "England", "United Kingdom"),
    ("Berlin", "Berlin", "Germany"),
    ("Austin", "TX", "United States"),
    ("Lyon", "Auvergne-Rhone-Alpes", "France"),
]


# Data --------------------------------------------------------------------------------------


def copy_rows(model: type[models.Model], values: Iterable[dict[str, Any]]) -> None:
    """COPY rows into `model`'s table: every concrete column but the id, from `values` or the
    field's default (so columns added by later migrations get theirs)."""
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    columns = ", ".join(f'"{f.column}"' for f in fields)
    defaults = {f.attname: f.get_default() for f in fields}
    with connection.cursor() as cursor:
        raw = cursor.cursor
        with raw.copy(f"COPY {model._meta.db_table} ({columns}) FROM STDIN") as copy:
            for row in values:
                merged = {**defaults, **row}
                copy.write_row(
                    [
                        json.dumps(merged[f.attname])
                        if isinstance(f, models.JSONField)
                        else merged[f.attname]
                        for f in fields
                    ]
                )


def copy_pairs(table: str, columns: str, pairs: Iterable[tuple[Any, ...]]) -> None:
    with (
        connection.cursor() as cursor,
        cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy,
    ):
        for pair in pairs:
            copy.write_row(pair)


def ensure_organisation(rows: int) -> Tenant:
    """The organisation holding `rows` contacts, provisioned and filled on first use."""
    slug = f"bench-exports-{rows}"
    tenant = Tenant.objects.filter(slug=slug).first()
    if tenant is None:
        made = provisioning.tenant_provision(
            slug=slug, name=f"Bench exports {rows:,}", owner_email=f"owner@{slug}.test",
            use_pool=False,
        )  # fmt: skip
        tenant = made.tenant
    with schema_context(tenant.schema_name):
        if Contact.objects.count() != rows:
            started = time.perf_counter()
            fill(rows, random.Random(rows))
            print(f"{slug}: {rows:,} contacts in {time.perf_counter() - started:.1f} s")
    return tenant


@transaction.atomic
def fill(rows: int, rng: random.Random) -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {Contact._meta.db_table} CASCADE")
    owner = User.objects.filter(is_superuser=True).order_by("pk").first()
    for index in range(1, 10):
        email = f"rep{index}@bench.test"
        if not User.objects.filter(email=email).exists():
            user_set_role(user=user_create(email=email, full_name=f"Rep {index}"), role=Role.REP)
    owners = list(User.objects.values_list("pk", flat=True))
    for key, label, kind, options in FIELDS:
        if not CustomField.objects.filter(entity="contact", key=key).exists():
            record_services.customfield_create(
                actor=owner, entity="contact", key=key, label=label, type=kind, options=options
            )
    tag_ids = [Tag.objects.get_or_create(name=name)[0].pk for name in TAGS]
    now = dt.datetime.now(dt.UTC)
    if not Company.objects.exists():
        copy_rows(
            Company,
            (
                {
                    "name": f"Company {n}",
                    "domain": f"company{n}.example",
                    "owner_id": owners[0],
                    "created_at": now,
                    "updated_at": now,
                }
                for n in range(2000)
            ),
        )
    company_ids = list(Company.objects.values_list("pk", flat=True))

    start, span = now - dt.timedelta(days=3 * 365), 3 * 365 * 86400

    def contact(n: int) -> dict[str, Any]:
        first, last = rng.choice(FIRST), rng.choice(LAST)
        city, region, country = rng.choice(PLACES)
        title = rng.choice(TITLES) if rng.random() > 0.01 else '=HYPERLINK("x")'
        custom: dict[str, Any] = {}
        if rng.random() < 0.85:
            custom = {
                "tier": rng.choice(FIELDS[0][3]),
                "score": rng.randint(0, 100),
                "renewal": (
                    dt.date(2026, 1, 1) + dt.timedelta(days=rng.randint(0, 700))
                ).isoformat(),
                "revenue": f"{rng.randint(0, 10**7) / 100:.2f}",
                "segments": rng.sample(FIELDS[4][3], rng.randint(1, 2)),
            }
        # Created over three years, in the order they were saved (as records are).
        created = start + dt.timedelta(seconds=n * span // rows + rng.randint(0, 59))
        return {
            "first_name": first,
            "last_name": last,
            "email": f"{first}.{last}{n}@example.com".lower(),
            "phone": f"+1555{n:07d}",
            "title": title,
            "owner_id": rng.choice(owners),
            "city": city,
            "region": region,
            "country": country,
            "source": "import",
            "lifecycle_stage": "lead",
            "custom_fields": custom,
            "created_at": created,
            "updated_at": created,
        }

    copy_rows(Contact, (contact(n) for n in range(rows)))
    ids = list(Contact.objects.order_by("pk").values_list("pk", flat=True))

    def tags() -> Iterator[tuple[int, int]]:
        for pk in ids:
            if rng.random() < 0.4:
                for tag in rng.sample(tag_ids, rng.randint(1, 3)):
                    yield pk, tag

    copy_pairs(Contact.tags.through._meta.db_table, "contact_id, tag_id", tags())
    copy_pairs(
        ContactCompany._meta.db_table,
        "contact_id, company_id, role, is_primary, created_at",
        ((pk, rng.choice(company_ids), "", True, now) for pk in ids if rng.random() < 0.85),
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


# Measuring ---------------------------------------------------------------------------------


class ContactResource(resources.ModelResource):
    class Meta:
        model = Contact
        fields = (
            "id", "first_name", "last_name", "email", "phone", "title", "owner", "city",
            "region", "country", "source", "lifecycle_stage", "created_at", "updated_at",
            "tags", "custom_fields",
        )  # fmt: skip
        chunk_size = 2000


def export_baseline(tenant: Tenant) -> int:
    """Bytes of the stock export's CSV."""
    with schema_context(tenant.schema_name):
        owner = User.objects.filter(is_superuser=True).order_by("pk").first()
        dataset = ContactResource().export(queryset=contact_list(user=owner))
        return len(dataset.csv)


def export_product(session: Session, query: str, *, keep: bool = False) -> bytes | int:
    """One export through the WSGI handler: its body (`keep`) or its size in bytes, the
    streamed body consumed block by block as a server would send it."""
    environ: dict[str, Any] = RequestFactory()._base_environ(  # type: ignore[attr-defined]
        PATH_INFO="/api/v1/contacts/export/",
        QUERY_STRING=query,
        HTTP_HOST=session.host,
        HTTP_AUTHORIZATION=f"Bearer {session.issued.secret}",
    )
    environ["wsgi.input"] = io.BytesIO(b"")
    status: list[str] = []

    def start_response(line: str, headers: Any, exc_info: Any = None) -> Any:
        status.append(line)
        return None

    response = session.handler(environ, start_response)
    kept: list[bytes] = []
    size = 0
    try:
        for block in response:
            size += len(block)
            if keep:
                kept.append(block)
    finally:
        response.close()
    if not status[0].startswith("200"):
        raise SystemExit(f"export {query}: {status[0]}\n{b''.join(kept)[:500]!r}")
    return b"".join(kept) if keep else size


class Session:
    """The WSGI handler and an API key of the organisation's for the run (revoked at the
    end), with the rate limits raised so that they never refuse."""

    def __init__(self, tenant: Tenant) -> None:
        self.tenant = tenant
        with schema_context(tenant.schema_name):
            self.issued = api_key_create(name=f"bench exports {uuid.uuid4().hex[:6]}")
        connection.set_schema_to_public()
        self.host = f"{tenant.slug}.{settings.KESTREL_BASE_DOMAIN}"
        self.settings = override_settings(DEBUG=False, API_RATE_LIMITS=NO_LIMITS)
        self.settings.enable()
        self.handler = WSGIHandler()

    def close(self) -> None:
        self.settings.disable()
        with schema_context(self.tenant.schema_name):
            api_key_revoke(key=self.issued.key, actor=None)


TICK = os.sysconf("SC_CLK_TCK")


def database_cpu() -> float | None:
    """CPU seconds used so far by this connection's PostgreSQL backend, when the server runs
    on this machine (/proc); None otherwise."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    try:
        stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(stat[11]) + int(stat[12])) / TICK


def measure(session: Session, variant: str) -> tuple[float, float, float | None]:
    """Wall seconds, this process's CPU seconds and the database backend's CPU seconds of
    one export."""
    db_before = database_cpu()
    started, cpu_started = time.perf_counter(), time.process_time()
    if variant == "baseline":
        export_baseline(session.tenant)
    else:
        export_product(session, f"format={variant}")
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    db_after = database_cpu()
    db = db_after - db_before if db_before is not None and db_after is not None else None
    return wall, cpu, db


def check(body: bytes, fmt: str, rows: int) -> None:
    """The export holds every contact, once (not timed)."""
    if fmt == "csv":
        found = sum(1 for _ in csv.reader(io.StringIO(body.decode("utf-8-sig")))) - 1
    elif fmt == "json":
        found = len(json.loads(body))
    else:
        from openpyxl import load_workbook

        sheet = load_workbook(io.BytesIO(body), read_only=True).worksheets[0]
        found = sum(1 for _ in sheet.iter_rows(values_only=True)) - 1
    if found != rows:
        raise SystemExit(f"{fmt}: {found:,} rows exported, {rows:,} expected")


def memory_mib(field: str) -> float:
    """VmRSS (now) or VmHWM (peak) of this process, in MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    raise LookupError(field)


def child(variant: str, rows: int) -> None:
    """One export in this (fresh) process; prints its resident memory before it and its
    peak during it, in MiB. The peak is the kernel's own (VmHWM), reset before the export
    (/proc/self/clear_refs): `getrusage`'s ru_maxrss keeps the peak of the parent process
    this one was forked from, which holds a whole baseline export in memory."""
    session = Session(Tenant.objects.get(slug=f"bench-exports-{rows}"))
    try:
        # Warm up on an empty export: imports, connections, caches.
        export_product(session, "first_name=nobody")
        before = memory_mib("VmRSS")
        Path("/proc/self/clear_refs").write_text("5")  # peak RSS := current RSS
        wall = measure(session, variant)[0]
        peak = memory_mib("VmHWM")
        process_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    finally:
        session.close()
    print(
        json.dumps(
            {"before_mib": before, "peak_mib": peak, "seconds": wall, "maxrss_mib": process_peak}
        )
    )


def code_state() -> str:
    git = ["git", "-C", str(ROOT)]
    # Our own fixed git commands.
    head = subprocess.run([*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True)  # noqa: S603
    changed = subprocess.run(  # noqa: S603
        [*git, "status", "--porcelain", "--", "apps", "config", "tenants", "templates"],
        capture_output=True,
        text=True,
    )
    state = head.stdout.strip() or "unknown commit"
    files = len(changed.stdout.splitlines())
    return f"{state} with {files} uncommitted application files" if files else state


LABELS = {
    "baseline": "baseline: django-import-export ModelResource.export() + tablib CSV",
    "csv": "**CSV** (API, streamed)",
    "json": "**JSON** (API, streamed)",
    "xlsx": "**XLSX** (API, streamed workbook)",
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--blocks", type=int, default=3, help="0: measure memory only")
    parser.add_argument("--formats", default=",".join(FORMATS))
    parser.add_argument("--rss-rows", default="100000,300000")
    parser.add_argument("--no-rss", action="store_true")
    parser.add_argument("--drop", action="store_true", help="delete the organisations at the end")
    parser.add_argument("--child", nargs=2, metavar=("VARIANT", "ROWS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], int(args.child[1]))
        return 0

    formats = [f for f in args.formats.split(",") if f]
    connection.set_schema_to_public()
    call_command("migrate_schemas", interactive=False, verbosity=0)
    sizes = sorted({args.rows, *([] if args.no_rss else map(int, args.rss_rows.split(",")))})
    tenants = {size: ensure_organisation(size) for size in sizes}
    session = Session(tenants[args.rows])
    load_before = os.getloadavg()[0]
    variants = [*formats, "baseline"]
    samples: dict[str, list[tuple[float, float, float | None]]] = {v: [] for v in variants}
    sizes_out: dict[str, int] = {}
    try:
        for fmt in formats if args.blocks else []:  # warm up, and check every row is there
            body = export_product(session, f"format={fmt}", keep=True)
            assert isinstance(body, bytes)
            check(body, fmt, args.rows)
            sizes_out[fmt] = len(body)
        if args.blocks:
            sizes_out["baseline"] = export_baseline(session.tenant)
        for block in range(args.blocks):
            for variant in variants if block % 2 == 0 else variants[::-1]:
                samples[variant].append(measure(session, variant))
            print(f"block {block + 1}/{args.blocks} done", file=sys.stderr)
    finally:
        session.close()
    load_after = os.getloadavg()[0]

    memory: dict[str, dict[int, dict[str, float]]] = {}
    if not args.no_rss:
        for variant in variants:
            memory[variant] = {}
            for size in sizes:
                # This script again, with fixed arguments.
                out = subprocess.run(  # noqa: S603
                    [sys.executable, __file__, "--child", variant, str(size)],
                    capture_output=True,
                    text=True,
                    check=True,
                )
                memory[variant][size] = json.loads(out.stdout.strip().splitlines()[-1])
                print(f"memory: {variant}, {size:,} rows: {out.stdout.strip()}", file=sys.stderr)

    def median(variant: str, at: int) -> float | None:
        values = [s[at] for s in samples[variant]]
        return None if any(v is None for v in values) else statistics.median(values)  # type: ignore[type-var]

    baseline_rate = args.rows / (median("baseline", 0) or 1) if args.blocks else 0.0
    print(
        f"\nExports of {args.rows:,} contacts (5 custom fields, tags, companies); "
        f"{args.blocks} interleaved blocks; load average {load_before:.2f} at the start, "
        f"{load_after:.2f} at the end ({os.cpu_count()} cores); code {code_state()}\n"
    )
    print(
        "| variant | median time | rows/s | ratio to baseline | CPU per 1,000 rows: "
        "app + database | rows per CPU second | size | target |"
    )
    print("|---|---|---|---|---|---|---|---|")
    stats: dict[str, Any] = {}
    for variant in ["baseline", *formats] if args.blocks else []:
        wall, app, db = median(variant, 0), median(variant, 1), median(variant, 2)
        assert wall is not None and app is not None
        rate = args.rows / wall
        cpu = f"{app / args.rows * 1e6:.1f} + {db / args.rows * 1e6:.1f} ms" if db else "—"
        per_cpu = f"{args.rows / (app + db):,.0f}" if db else "—"
        target = "—"
        if variant == "csv":
            target = "≥ 50,000 rows/s: " + ("met" if rate >= 50_000 else "**missed**")
        stats[variant] = {"samples": samples[variant], "rows_per_second": rate}
        print(
            f"| {LABELS[variant]} | {wall:.2f} s | {rate:,.0f} | {rate / baseline_rate:.1f} | "
            f"{cpu} | {per_cpu} | {sizes_out[variant] / 2**20:.1f} MiB | {target} |"
        )
    if memory:
        print(
            "\n| variant | "
            + " | ".join(f"peak RSS during the export, {s:,} rows" for s in sizes)
            + " |"
        )
        print("|---|" + "---|" * len(sizes))
        for variant in ["baseline", *formats]:
            cells = [
                f"{m['peak_mib']:.0f} MiB (+{m['peak_mib'] - m['before_mib']:.0f})"
                for m in (memory[variant][s] for s in sizes)
            ]
            print(f"| {LABELS[variant]} | " + " | ".join(cells) + " |")
        print("\n(+N: growth over the process's resident memory before the export)")
    results = ROOT / "bench" / "results"
    results.mkdir(exist_ok=True)
    (results / "exports.json").write_text(
        json.dumps(
            {
                "rows": args.rows,
                "blocks": args.blocks,
                "code": code_state(),
                "load_average": [load_before, load_after],
                "stats": stats,
                "bytes": sizes_out,
                "memory": {v: {str(s): m for s, m in d.items()} for v, d in memory.items()},
            },
            indent=2,
        )
    )
    if args.drop:
        for made in tenants.values():
            services.tenant_delete(tenant=made, confirmation=made.slug, actor="bench")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
