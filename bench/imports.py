"""Contact import speed: Kestrel's importer against stock django-import-export on the same file.

    .venv/bin/python bench/imports.py [--rows 100000] [--existing 5000] [--stock-rows 5000]
                                      [--blocks 3] [--million] [--slug bench-imports] [--seed 7]

The organisation `bench-imports` (provisioned on first use) has 10 members besides its owner,
20 tags, 2,000 companies and five custom fields for contacts: `tier` (select), `score`
(number), `renewal` (date), `referred_by` (text) and `newsletter` (yes/no). Each run starts
from the same state: every contact of the organisation is removed (TRUNCATE, with their
emails, links, tags and history) and `--existing` contacts are put back, each with its
primary email, company link and tags, as an earlier import would have left them.

The file (`--rows` rows, seed 7) has the columns a CRM export has: First Name, Last Name,
Email, Job Title, Company Name, City, Tags, Owner Email, Tier, Score, Renewal, Referred By,
Newsletter; and is messy as exports are: emails in mixed case, some with spaces around them,
names in capitals, blank cells everywhere but the email, yes/no as Y/TRUE/1, dates ISO or
MM/DD/YYYY, about 1 in 1,000 emails invalid ("x at y.com"). About 10% of its rows repeat a
person by email: one row for each existing contact (updates: 60% of them bring a new job
title or city) and the rest repeat a row earlier in the file (in other letter case).

Measured, end to end (reading and checking the file, cleaning every cell, matching on email,
writing, commit):

- **Kestrel**: `engine.Importer` as the import task runs it (`open_table`, `spec_for`, the
  suggested mapping, mode upsert, match on email, a real run), on the whole file and on its
  first `--stock-rows` rows;
- **stock django-import-export**: a plain `resources.ModelResource` for Contact with the same
  columns (owner by email through ForeignKeyWidget, falling back to the importing person as
  the importer does; company and tags through ManyToManyWidget on existing names; the five
  custom fields as one JSON dict in `custom_fields`, built from the five cells), email as the
  import id (lower-cased and stripped by its widget), `import_data(dataset, dry_run=False)`
  on a tablib Dataset loaded from the CSV: the row-by-row path. It takes about 2 ms a row, so
  it runs on the first `--stock-rows` rows of the same file only.

`--blocks` blocks, alternating which importer goes first; the organisation is reset before
every run. `--million` then runs the Kestrel import of a 1,000,000-row file (same recipe) in
a subprocess of its own and reports its peak resident memory (VmHWM; ru_maxrss too). Results: a
markdown table on stdout and bench/results/imports.json.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.development")
# The 1,000,000-row import's process must reach the same servers as this one: resolve the
# embedded development servers here (as deploy/dev.py does) when no URLs are given.
if not os.environ.get("DATABASE_URL") or not os.environ.get("REDIS_URL"):
    from deploy import devservices

    if not os.environ.get("DATABASE_URL"):
        os.environ["DATABASE_URL"] = devservices.ensure_postgres()
    if not os.environ.get("REDIS_URL"):
        os.environ["REDIS_URL"] = devservices.ensure_redis()

import django  # noqa: E402

django.setup()

import contacts_data  # noqa: E402
import tablib  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import transaction  # noqa: E402
from django_tenants.utils import schema_context  # noqa: E402
from import_export import fields as ie_fields  # noqa: E402
from import_export import resources, widgets  # noqa: E402

from apps.accounts.models import User  # noqa: E402
from apps.accounts.roles import Role  # noqa: E402
from apps.accounts.services import user_create, user_set_role  # noqa: E402
from apps.companies.models import Company  # noqa: E402
from apps.contacts.models import Contact, ContactCompany, ContactEmail  # noqa: E402
from apps.imports import engine  # noqa: E402
from apps.imports import fields as import_fields  # noqa: E402
from apps.imports.engine import _jsonable  # noqa: E402
from apps.imports.reading import open_table  # noqa: E402
from apps.records import search  # noqa: E402
from apps.records import services as record_services  # noqa: E402
from apps.records.models import CustomField, FieldType, SearchWord, Tag  # noqa: E402
from tenants import provisioning  # noqa: E402
from tenants.db import connection  # noqa: E402
from tenants.models import Tenant  # noqa: E402

SLUG = "bench-imports"
MEMBERS = 10
COMPANIES = 2000
TAGS = [
    "newsletter",
    "customer",
    "prospect",
    "vip",
    "partner",
    "webinar",
    "trade-show",
    "churn-risk",
    "upsell",
    "beta",
    "referral",
    "enterprise",
    "smb",
    "mid-market",
    "decision-maker",
    "champion",
    "inbound",
    "outbound",
    "cold",
    "event-2026",
]
TIERS = ["bronze", "silver", "gold", "platinum"]
CUSTOM = [  # key, label, type, options
    ("tier", "Tier", FieldType.SELECT, TIERS),
    ("score", "Score", FieldType.NUMBER, []),
    ("renewal", "Renewal", FieldType.DATE, []),
    ("referred_by", "Referred by", FieldType.TEXT, []),
    ("newsletter", "Newsletter", FieldType.BOOLEAN, []),
]
HEADERS = [
    "First Name",
    "Last Name",
    "Email",
    "Job Title",
    "Company Name",
    "City",
    "Tags",
    "Owner Email",
    "Tier",
    "Score",
    "Renewal",
    "Referred By",
    "Newsletter",
]
CUSTOM_HEADERS = {
    "Tier": "tier",
    "Score": "score",
    "Renewal": "renewal",
    "Referred By": "referred_by",
    "Newsletter": "newsletter",
}
TRUE_CELLS = ["yes", "Yes", "Y", "TRUE", "true", "1"]
FALSE_CELLS = ["no", "No", "N", "FALSE", "false", "0"]
CITIES = [place[0] for place in contacts_data.PLACES]


def member_emails(slug: str) -> list[str]:
    return [f"rep{i:02d}@{slug}.test" for i in range(1, MEMBERS + 1)]


def company_names() -> list[str]:
    rng = random.Random(11)
    names: dict[str, None] = {}
    while len(names) < COMPANIES:
        names[
            f"{rng.choice(contacts_data.COMPANY_HEADS)} {rng.choice(contacts_data.COMPANY_ROOTS)} "
            f"{rng.choice(contacts_data.COMPANY_KINDS)}"
        ] = None
    return list(names)


# --- the file ------------------------------------------------------------------------------


class People:
    """Person n (a stable identity: name, email, company) and the cells a row about them has."""

    def __init__(self, slug: str, seed: int) -> None:
        self.seed = seed
        self.companies = company_names()
        self.owners = member_emails(slug)

    def person(self, n: int) -> dict[str, str]:
        rng = random.Random(self.seed * 1_000_003 + n)
        first = rng.choice(contacts_data.FIRST_NAMES)
        last = (
            rng.choice(contacts_data.SURNAMES)
            if rng.random() < 0.7
            else rng.choice(contacts_data.SURNAME_HEADS) + rng.choice(contacts_data.SURNAME_TAILS)
        )
        company = rng.choice(self.companies) if rng.random() < 0.88 else ""
        if company and rng.random() < 0.7:
            domain = "".join(ch for ch in company.split()[1].lower() if ch.isalpha()) + ".com"
        else:
            domain = rng.choice(contacts_data.FREE_MAIL)
        local = "".join(ch for ch in f"{first}.{last}".lower() if ch.isalpha() or ch == ".")
        return {
            "first": first,
            "last": last,
            "email": f"{local}{n}@{domain}",
            "company": company,
            "title": rng.choice(contacts_data.TITLES) if rng.random() < 0.85 else "",
            "city": rng.choice(CITIES) if rng.random() < 0.9 else "",
        }

    def cells(self, n: int, rng: random.Random, *, variant: int = 0) -> list[str]:
        """A row about person n; `variant` > 0 changes the letter case of its email and,
        for half the variants, its job title or city (a later, edited copy)."""
        p = self.person(n)
        first, last, email = p["first"], p["last"], p["email"]
        draw = rng.random()
        if draw < 0.02:
            first, last = first.upper(), last.upper()
        elif draw < 0.03:
            first, last = first.lower(), last.lower()
        if rng.random() < 0.03:
            last = ""
        local, domain = email.split("@")
        shape = rng.random() if not variant else 0.1 + 0.2 * (variant % 3)
        if shape < 0.25:
            email = (
                ".".join(part.capitalize() for part in local.split(".")) + "@" + domain.capitalize()
            )
        elif shape < 0.3:
            email = email.upper()
        if rng.random() < 0.03:
            email = f" {email} "
        if rng.random() < 0.001:
            email = email.replace("@", " at ")
        title, city = p["title"], p["city"]
        if variant and variant % 2:
            title = rng.choice(contacts_data.TITLES)
            city = rng.choice(CITIES)
        tags = ""
        if rng.random() < 0.35:
            chosen = rng.sample(TAGS, rng.choice((1, 1, 2, 3)))
            tags = rng.choice((",", ", ", " , ")).join(chosen)
        owner = rng.choice(self.owners) if rng.random() < 0.75 else ""
        tier = rng.choice(TIERS) if rng.random() < 0.7 else ""
        tier = (
            tier.capitalize()
            if rng.random() < 0.3
            else tier.upper()
            if rng.random() < 0.1
            else tier
        )
        score = str(rng.randint(0, 100)) if rng.random() < 0.7 else ""
        if score and rng.random() < 0.05:
            score = f" {score} "
        renewal = ""
        if rng.random() < 0.6:
            year, month, day = rng.randint(2025, 2028), rng.randint(1, 12), rng.randint(1, 28)
            renewal = (
                f"{year}-{month:02d}-{day:02d}"
                if rng.random() < 0.7
                else f"{month:02d}/{day:02d}/{year}"
            )
        referred = ""
        if rng.random() < 0.3:
            referred = (
                f"{rng.choice(contacts_data.FIRST_NAMES)} {rng.choice(contacts_data.SURNAMES)}"
            )
        newsletter = ""
        if rng.random() < 0.6:
            newsletter = rng.choice(TRUE_CELLS if rng.random() < 0.5 else FALSE_CELLS)
        return [
            first,
            last,
            email,
            title,
            p["company"],
            city,
            tags,
            owner,
            tier,
            score,
            renewal,
            referred,
            newsletter,
        ]


def write_file(path: Path, people: People, rows: int, existing: int, seed: int) -> dict[str, int]:
    """`rows` rows: one for each of the `existing` people (numbered 1..existing), 10% of rows
    minus those repeating an earlier row, the rest new people (numbered from 10,000,001)."""
    rng = random.Random(seed)
    repeats = max(0, rows // 10 - existing)
    existing_at = set(rng.sample(range(rows), min(existing, rows)))
    kinds = ["existing" if i in existing_at else "new" for i in range(rows)]
    new_positions = [i for i in range(rows) if kinds[i] == "new" and i >= 100]
    for i in rng.sample(new_positions, min(repeats, len(new_positions))):
        kinds[i] = "repeat"
    existing_people = list(range(1, existing + 1))
    rng.shuffle(existing_people)
    next_new = 10_000_001
    written: list[int] = []  # people with a row so far
    counts = {"existing": 0, "repeat": 0, "new": 0}
    with path.open("w", newline="", encoding="utf-8") as handle:
        out = csv.writer(handle)
        out.writerow(HEADERS)
        for kind in kinds:
            if kind == "existing":
                n = existing_people.pop()
                variant = 1 if n % 5 < 3 else 0  # 60% bring a change
            elif kind == "repeat":
                n = written[rng.randrange(len(written))]
                variant = rng.randint(1, 4)
            else:
                n, next_new = next_new, next_new + 1
                variant = 0
            counts[kind] += 1
            written.append(n)
            out.writerow(people.cells(n, rng, variant=variant))
    return counts


def head_file(source: Path, target: Path, rows: int) -> None:
    with (
        source.open(newline="", encoding="utf-8") as handle,
        target.open("w", newline="", encoding="utf-8") as out,
    ):
        reader, writer = csv.reader(handle), csv.writer(out)
        for i, cells in enumerate(reader):
            if i > rows:
                break
            writer.writerow(cells)


# --- the organisation ----------------------------------------------------------------------


def ensure_tenant(slug: str) -> Tenant:
    tenant = Tenant.objects.filter(slug=slug).first()
    if tenant is None:
        result = provisioning.tenant_provision(
            slug=slug, name="Bench Imports", owner_email=f"owner@{slug}.test", use_pool=False
        )
        tenant = result.tenant
        print(
            f"provisioned {slug} ({result.source}, {result.seconds * 1000:.0f} ms)", file=sys.stderr
        )
    return tenant


def the_owner() -> User:
    owner = User.objects.filter(is_superuser=True).order_by("pk").first()
    assert owner is not None, "the organisation has no owner"
    return owner


@transaction.atomic
def ensure_setup(slug: str) -> None:
    owner = the_owner()
    for email in member_emails(slug):
        if not User.objects.filter(email=email).exists():
            user = user_create(email=email, full_name=email.split("@")[0].title())
            user_set_role(user=user, role=Role.REP)
    for key, label, kind, options in CUSTOM:
        if not CustomField.objects.filter(entity="contact", key=key).exists():
            record_services.customfield_create(
                actor=owner, entity="contact", key=key, label=label, type=kind, options=options
            )
    record_services.tags_resolve(actor=owner, names=TAGS)
    names = company_names()
    have = set(Company.objects.values_list("name", flat=True))
    Company.objects.bulk_create(
        [
            Company(name=name, owner=owner, search_text=search.document(name))
            for name in names
            if name not in have
        ]
    )


def reset(people: People, existing: int) -> None:
    """Every contact removed; the `existing` people put back as an import would leave them."""
    owner = the_owner()
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE contacts_contact, contacts_historicalcontact CASCADE")
        cursor.execute("TRUNCATE records_searchword")
    spec = import_fields.spec_for("contact")
    widgets_by_key = {
        item.name[3:]: item.widget for item in spec.fields if item.name.startswith("cf_")
    }
    members = dict(User.objects.values_list("email", "pk"))
    companies = {name: pk for pk, name in Company.objects.values_list("pk", "name")}
    tags = {t.name: t.pk for t in Tag.objects.all()}
    rng = random.Random(people.seed + 1)
    contacts, links, labels = [], [], []
    words: set[str] = set()
    for n in range(1, existing + 1):
        p = people.person(n)
        cells = dict(zip(HEADERS, people.cells(n, rng), strict=True))
        custom: dict[str, Any] = {}
        for header, key in CUSTOM_HEADERS.items():
            if cells[header].strip():
                custom[key] = _jsonable(widgets_by_key[key].clean(cells[header]))
        text = search.document(
            p["first"], p["last"], p["email"], p["title"], p["company"], p["city"]
        )
        words.update(
            w
            for w in search.WORD.findall(
                search.document(p["first"], p["last"], p["title"], p["city"])
            )
            if len(w) >= 3
        )
        contacts.append(
            Contact(
                first_name=p["first"],
                last_name=p["last"],
                email=p["email"],
                title=p["title"],
                city=p["city"],
                owner_id=members.get(cells["Owner Email"], owner.pk),
                custom_fields=custom,
                search_text=text,
            )
        )
        links.append(p["company"])
        labels.append([t.strip() for t in cells["Tags"].split(",") if t.strip()])
    with transaction.atomic():
        made = Contact.objects.bulk_create(contacts, batch_size=2000)
        ContactEmail.objects.bulk_create(
            [ContactEmail(contact=c, email=c.email, is_primary=True) for c in made], batch_size=2000
        )
        ContactCompany.objects.bulk_create(
            [
                ContactCompany(contact=c, company_id=companies[name], is_primary=True)
                for c, name in zip(made, links, strict=True)
                if name
            ],
            batch_size=2000,
        )
        through = Contact.tags.through
        through.objects.bulk_create(
            [
                through(contact_id=c.pk, tag_id=tags[name])
                for c, names in zip(made, labels, strict=True)
                for name in names
            ],
            batch_size=2000,
        )
        SearchWord.objects.bulk_create([SearchWord(word=w) for w in words], ignore_conflicts=True)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE contacts_contact")
        cursor.execute("ANALYZE contacts_contactemail")


def counts() -> dict[str, int]:
    with connection.cursor() as cursor:
        found = {}
        for table in (
            "contacts_contact",
            "contacts_contactemail",
            "contacts_contactcompany",
            "contacts_contact_tags",
            "contacts_historicalcontact",
        ):
            cursor.execute(f"SELECT count(*) FROM {table}")
            found[table.removeprefix("contacts_")] = cursor.fetchone()[0]
    return found


# --- the two importers ---------------------------------------------------------------------


def kestrel_import(path: Path, actor: User) -> dict[str, Any]:
    """What the import task does for a real run (services.run without the job bookkeeping)."""
    rejected = io.StringIO()
    out = csv.writer(rejected)
    started = time.perf_counter()
    cpu = time.process_time()
    table = open_table(path, name=path.name)
    spec = import_fields.spec_for("contact")
    mapping = import_fields.suggest_mapping(spec, table.headers)
    assert all(mapping[h] for h in HEADERS), mapping
    summary = engine.Importer(
        spec=spec,
        table=table,
        mapping=mapping,
        mode="upsert",
        match_on="email",
        actor=actor,
        dry_run=False,
        progress=lambda done: None,
        cancelled=lambda: False,
        rejected=lambda cells, message: out.writerow([*cells, message]),
    ).run()
    seconds = time.perf_counter() - started
    return {
        "seconds": seconds,
        "python_cpu_seconds": time.process_time() - cpu,
        "rows": summary.rows_total,
        "summary": summary.as_dict(),
    }


class LowerCase(widgets.CharWidget):
    """Emails in the file come in any letter case, with spaces around some."""

    def clean(self, value: Any, row: Any = None, **kwargs: Any) -> Any:
        return str(value or "").strip().lower()


class OwnerOrActor(widgets.ForeignKeyWidget):
    """A blank owner cell falls back to the importing person, as Kestrel's importer does."""

    def __init__(self, default: int) -> None:
        super().__init__(User, field="email")
        self.default = User.objects.get(pk=default)

    def clean(self, value: Any, row: Any = None, **kwargs: Any) -> Any:
        if not str(value or "").strip():
            return self.default
        return super().clean(value, row, **kwargs)


def stock_resource(default_owner: int) -> resources.ModelResource:
    class ContactResource(resources.ModelResource):
        first_name = ie_fields.Field(attribute="first_name", column_name="First Name")
        last_name = ie_fields.Field(attribute="last_name", column_name="Last Name")
        email = ie_fields.Field(attribute="email", column_name="Email", widget=LowerCase())
        title = ie_fields.Field(attribute="title", column_name="Job Title")
        companies = ie_fields.Field(
            attribute="companies",
            column_name="Company Name",
            widget=widgets.ManyToManyWidget(Company, field="name", separator="|"),
        )
        city = ie_fields.Field(attribute="city", column_name="City")
        tags = ie_fields.Field(
            attribute="tags", column_name="Tags", widget=widgets.ManyToManyWidget(Tag, field="name")
        )
        owner = ie_fields.Field(
            attribute="owner", column_name="Owner Email", widget=OwnerOrActor(default_owner)
        )
        custom_fields = ie_fields.Field(
            attribute="custom_fields", column_name="custom_fields", widget=widgets.JSONWidget()
        )

        class Meta:
            model = Contact
            import_id_fields = ("email",)
            fields = (
                "first_name",
                "last_name",
                "email",
                "title",
                "companies",
                "city",
                "tags",
                "owner",
                "custom_fields",
            )

    return ContactResource()


def stock_import(path: Path, actor: User) -> dict[str, Any]:
    started = time.perf_counter()
    cpu = time.process_time()
    dataset = tablib.Dataset().load(path.read_text(encoding="utf-8"), format="csv")
    # The five custom-field cells become one JSON dict (raw cell text; stock has no custom
    # field validation).
    custom = [
        json.dumps(
            {
                key: row[dataset.headers.index(h)].strip()
                for h, key in CUSTOM_HEADERS.items()
                if row[dataset.headers.index(h)].strip()
            }
        )
        for row in dataset
    ]
    for header in CUSTOM_HEADERS:
        del dataset[header]
    dataset.append_col(custom, header="custom_fields")
    result = stock_resource(actor.pk).import_data(dataset, dry_run=False)
    seconds = time.perf_counter() - started
    if result.has_errors():
        first = result.row_errors()[0]
        raise RuntimeError(f"stock import failed on row {first[0]}: {first[1][0].error}")
    totals = {k: v for k, v in result.totals.items() if v}
    return {
        "seconds": seconds,
        "python_cpu_seconds": time.process_time() - cpu,
        "rows": result.total_rows,
        "summary": totals,
    }


# --- one million rows, in a process of its own ----------------------------------------------


def peak_rss_kib() -> int:
    """This process's own peak resident memory (VmHWM). ru_maxrss of a process started by
    subprocess also counts its parent's peak (Linux keeps the larger across vfork and exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def child(path: Path, slug: str) -> int:
    tenant = Tenant.objects.get(slug=slug)
    before = peak_rss_kib()
    with schema_context(tenant.schema_name):
        result = kestrel_import(path, the_owner())
        result["counts"] = counts()
    result["peak_rss_before_kib"] = before
    result["peak_rss_kib"] = peak_rss_kib()
    result["maxrss_kib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps(result))
    return 0


def million(
    people: People, args: argparse.Namespace, folder: Path, tenant: Tenant
) -> dict[str, Any]:
    path = folder / "contacts-1m.csv"
    started = time.perf_counter()
    made = write_file(path, people, 1_000_000, args.existing, args.seed)
    print(
        f"1,000,000-row file written in {time.perf_counter() - started:.0f} s "
        f"({path.stat().st_size / 1_048_576:.0f} MB): {made}",
        file=sys.stderr,
    )
    with schema_context(tenant.schema_name):
        reset(people, args.existing)
    proc = subprocess.run(  # noqa: S603 - this script, with its own arguments
        [sys.executable, __file__, "--child", str(path), "--slug", args.slug],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode:
        raise RuntimeError(f"the 1,000,000-row import failed:\n{proc.stderr[-4000:]}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    result["children_maxrss_kib"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    result["file_mb"] = path.stat().st_size / 1_048_576
    path.unlink()
    with schema_context(tenant.schema_name):
        reset(people, args.existing)
    return result


def code_state() -> str:
    """The commit measured, and whether the application's code differed from it."""
    git = ["git", "-C", str(ROOT)]
    head = subprocess.run([*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True)  # noqa: S603
    changed = subprocess.run(  # noqa: S603 - our own fixed git commands
        [*git, "status", "--porcelain", "--", "apps", "config", "tenants"],
        capture_output=True,
        text=True,
    )
    state = head.stdout.strip() or "unknown commit"
    files = len(changed.stdout.splitlines())
    return f"{state} with {files} uncommitted application files" if files else state


# --- main -------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--existing", type=int, default=5_000, help="contacts the file updates")
    parser.add_argument("--stock-rows", type=int, default=5_000, help="rows stock imports")
    parser.add_argument("--blocks", type=int, default=3)
    parser.add_argument("--million", action="store_true", help="also 1,000,000 rows: peak memory")
    parser.add_argument("--slug", default=SLUG)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args.child, args.slug)

    connection.set_schema_to_public()
    call_command("migrate_schemas", interactive=False, verbosity=0)
    tenant = ensure_tenant(args.slug)
    people = People(args.slug, args.seed)
    folder = Path(tempfile.mkdtemp(prefix="kestrel-bench-imports-"))
    full, head = folder / "contacts.csv", folder / "contacts-head.csv"
    started = time.perf_counter()
    made = write_file(full, people, args.rows, args.existing, args.seed)
    head_file(full, head, args.stock_rows)
    print(
        f"{args.rows:,}-row file written in {time.perf_counter() - started:.1f} s "
        f"({full.stat().st_size / 1_048_576:.1f} MB): {made}",
        file=sys.stderr,
    )
    code = code_state()
    load_before = os.getloadavg()[0]
    runs: dict[str, list[dict[str, Any]]] = {"kestrel": [], "kestrel_head": [], "stock_head": []}
    cases = {
        "kestrel": (kestrel_import, full),
        "kestrel_head": (kestrel_import, head),
        "stock_head": (stock_import, head),
    }
    with schema_context(tenant.schema_name):
        ensure_setup(args.slug)
        actor = the_owner()
        for block in range(args.blocks):
            order = list(cases) if block % 2 == 0 else list(reversed(cases))
            for name in order:
                function, path = cases[name]
                reset(people, args.existing)
                result = function(path, actor)
                result["counts"] = counts()
                runs[name].append(result)
                print(
                    f"block {block + 1}/{args.blocks} {name}: {result['rows']:,} rows in "
                    f"{result['seconds']:.2f} s ({result['rows'] / result['seconds']:,.0f} rows/s) "
                    f"{result['summary']} {result['counts']}",
                    file=sys.stderr,
                )
        reset(people, args.existing)
    load_after = os.getloadavg()[0]
    big = million(people, args, folder, tenant) if args.million else None
    for path in (full, head):
        path.unlink()
    folder.rmdir()

    def rate(name: str) -> float:
        return statistics.median(r["rows"] / r["seconds"] for r in runs[name])

    kestrel, kestrel_head, stock = rate("kestrel"), rate("kestrel_head"), rate("stock_head")
    print(
        f"\nContact import, {args.rows:,}-row CSV ({made['existing']:,} rows update existing "
        f"contacts, {made['repeat']:,} repeat an earlier row); {args.blocks} blocks; load average "
        f"{load_before:.2f} at the start, {load_after:.2f} at the end ({os.cpu_count()} cores); "
        f"code {code}\n"
    )
    print(
        "| importer | rows | median time | rows/s (median) | Python CPU | ratio to stock | target |"
    )
    print("|---|---|---|---|---|---|---|")
    for name, label, target in (
        ("stock_head", f"stock django-import-export, first {args.stock_rows:,} rows", "—"),
        ("kestrel_head", f"**Kestrel**, first {args.stock_rows:,} rows", "—"),
        (
            "kestrel",
            f"**Kestrel**, whole file ({args.rows:,} rows)",
            ">= 20,000 rows/s, >= 40x stock",
        ),
    ):
        rows = runs[name][0]["rows"]
        seconds = statistics.median(r["seconds"] for r in runs[name])
        cpu = statistics.median(r["python_cpu_seconds"] for r in runs[name])
        if name == "kestrel":
            met = kestrel >= 20_000 and kestrel / stock >= 40
            target += ": met" if met else ": **missed**"
        print(
            f"| {label} | {rows:,} | {seconds:.2f} s | {rate(name):,.0f} | {cpu:.2f} s | "
            f"{rate(name) / stock:.1f} | {target} |"
        )
    print(
        "\nStock django-import-export runs on the first rows only (row by row it takes "
        f"{args.rows / stock / 60:.0f} min for the whole file); its rate is what it would keep."
    )
    for name in runs:
        print(f"{name}: {runs[name][-1]['summary']}; tables after: {runs[name][-1]['counts']}")
    if big:
        rss = big["peak_rss_kib"] / 1024
        speed = big["rows"] / big["seconds"]
        print(
            f"\n| 1,000,000 rows ({big['file_mb']:.0f} MB CSV) | time | rows/s | peak RSS "
            "| peak RSS before the import | ru_maxrss (self / children) | target |\n"
            "|---|---|---|---|---|---|---|\n"
            f"| **Kestrel**, subprocess | {big['seconds']:.1f} s | {speed:,.0f} | {rss:.0f} MB | "
            f"{big['peak_rss_before_kib'] / 1024:.0f} MB | {big['maxrss_kib'] / 1024:.0f} / "
            f"{big['children_maxrss_kib'] / 1024:.0f} MB | < 500 MB: "
            f"{'met' if rss < 500 else '**missed**'} |"
        )
        print(f"1,000,000 rows: {big['summary']}; tables after: {big['counts']}")
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "imports.json").write_text(
        json.dumps(
            {
                "rows": args.rows,
                "stock_rows": args.stock_rows,
                "blocks": args.blocks,
                "file": made,
                "code": code,
                "load_average": [load_before, load_after],
                "runs": runs,
                "rows_per_second": {
                    "kestrel": kestrel,
                    "kestrel_head": kestrel_head,
                    "stock_head": stock,
                },
                "ratio": kestrel / stock,
                "million": big,
            },
            indent=2,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
