"""How long a new organisation takes: migrate vs clone vs warm pool, side by side.

    .venv/bin/python bench/provisioning.py [--tenants 200] [--rounds 15]

With `--tenants N` organisations already present (made once and reused), each round creates
three more, interleaved so that all three methods see the same database:

- migrate: CREATE SCHEMA and run every tenant migration into it (what provisioning would cost
  without a template), then the tenant rows and owner;
- clone:   tenant_provision(use_pool=False), a copy of the migrated template;
- clone-general: the same, through the general-purpose clone function shipped with
           django-tenants instead of Kestrel's catalog-replay clone (the fallback it keeps);
- pool:    tenant_provision(use_pool=True), a spare schema renamed (the pool is refilled
           between rounds, untimed, as beat does in production).

The measured organisations are deleted after each round, so the background count stays at N.
Results: a markdown table on stdout and bench/results/provisioning.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.development")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402

# Organisations made and deleted by a benchmark need no final backup.
settings.KESTREL_BACKUP_ON_DELETE = False

from django.core.management import call_command  # noqa: E402
from django.db import transaction  # noqa: E402
from django_tenants.utils import schema_context  # noqa: E402

from apps.accounts.services import user_create  # noqa: E402
from apps.core.urls_util import tenant_host  # noqa: E402
from tenants import provisioning, schemas, services  # noqa: E402
from tenants.db import connection  # noqa: E402
from tenants.models import Domain, Tenant  # noqa: E402
from tenants.validators import schema_name_for_slug  # noqa: E402

BACKGROUND_PREFIX = "bg-"


def ensure_background(count: int) -> None:
    present = Tenant.objects.filter(slug__startswith=BACKGROUND_PREFIX).count()
    if present >= count:
        return
    print(f"creating {count - present} background organisations...", file=sys.stderr)
    for index in range(present, count):
        provisioning.tenant_provision(
            slug=f"{BACKGROUND_PREFIX}{index:05d}",
            name=f"Background {index}",
            owner_email=f"owner{index}@bg.test",
            use_pool=False,
        )


def provision_by_migrating(slug: str) -> float:
    """The slow way: a fresh schema migrated from scratch."""
    started = time.perf_counter()
    schema_name = schema_name_for_slug(slug)
    schemas.create_schema(schema_name)
    call_command(
        "migrate_schemas",
        schema_name=schema_name,
        tenant=True,
        interactive=False,
        verbosity=0,
    )
    connection.set_schema_to_public()
    with transaction.atomic():
        tenant = Tenant.objects.create(schema_name=schema_name, slug=slug, name=slug)
        Domain.objects.create(domain=tenant_host(slug), tenant=tenant, is_primary=True)
        with schema_context(schema_name):
            user_create(email=f"owner@{slug}.test", password=None, is_superuser=True)
    return time.perf_counter() - started


def remove(slug: str) -> None:
    tenant = Tenant.objects.get(slug=slug)
    services.tenant_delete(tenant=tenant, confirmation=slug, actor="bench")


def summary(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    p90 = ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]
    return {
        "median_ms": statistics.median(ordered) * 1000,
        "p90_ms": p90 * 1000,
        "min_ms": ordered[0] * 1000,
        "n": len(ordered),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenants", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()

    connection.set_schema_to_public()
    call_command("migrate_schemas", interactive=False, verbosity=0)
    ensure_background(args.tenants)
    methods = ("migrate", "clone-general", "clone", "pool")
    samples: dict[str, list[float]] = {method: [] for method in methods}
    run = uuid.uuid4().hex[:6]
    for round_no in range(args.rounds):
        provisioning.warm_pool_refill(target=1)
        slugs = {method: f"bench-{method}-{run}-{round_no}" for method in methods}
        # Rotate the order so no method always runs first (warm caches) or last.
        shift = round_no % len(methods)
        order = list(methods[shift:] + methods[:shift])
        for method in order:
            slug = slugs[method]
            if method == "migrate":
                samples["migrate"].append(provision_by_migrating(slug))
            elif method == "clone-general":
                fast_clone = schemas.clone_schema
                schemas.clone_schema = schemas.clone_schema_general
                try:
                    result = provisioning.tenant_provision(
                        slug=slug, name=slug, owner_email=f"owner@{slug}.test", use_pool=False
                    )
                finally:
                    schemas.clone_schema = fast_clone
                samples[method].append(result.seconds)
            else:
                result = provisioning.tenant_provision(
                    slug=slug,
                    name=slug,
                    owner_email=f"owner@{slug}.test",
                    use_pool=(method == "pool"),
                )
                assert result.source == method, (method, result.source)
                samples[method].append(result.seconds)
        for slug in slugs.values():
            remove(slug)
        print(
            f"round {round_no + 1}/{args.rounds}: "
            + ", ".join(f"{m} {samples[m][-1] * 1000:.0f} ms" for m in samples),
            file=sys.stderr,
        )

    stats = {method: summary(values) for method, values in samples.items()}
    base = stats["migrate"]["median_ms"]
    present = Tenant.objects.exclude(schema_name="public").count()
    print(f"\nProvisioning with {present} organisations present, {args.rounds} rounds\n")
    print("| method | median | p90 | min | ratio to migrate (median) |")
    print("|---|---|---|---|---|")
    for method, row in stats.items():
        print(
            f"| {method} | {row['median_ms']:.1f} ms | {row['p90_ms']:.1f} ms | "
            f"{row['min_ms']:.1f} ms | {row['median_ms'] / base:.3f} |"
        )
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "provisioning.json").write_text(
        json.dumps(
            {"organisations_present": present, "rounds": args.rounds, "stats": stats},
            indent=2,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
