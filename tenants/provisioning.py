"""Creating organisations fast: never by running migrations.

A new organisation's schema comes from the warm pool (a spare, already-migrated schema,
renamed in the same transaction that records the tenant) or, when the pool is empty, from a
clone of the migrated template schema. Both keep provisioning time flat however many
migrations the product accumulates.
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import DatabaseError, connection, transaction
from django_tenants.utils import schema_context

from apps.accounts.models import User
from apps.accounts.roles import Role
from apps.accounts.services import user_create, user_set_role
from apps.core.urls_util import host_url, tenant_host

from . import schemas
from .audit import audit_record
from .models import Domain, Plan, SpareSchema, Tenant
from .validators import schema_name_for_slug, validate_slug

logger = logging.getLogger("kestrel.tenants")

SPARE_PREFIX = "spare_"
# Serialises pool refills across processes (beat, post-sign-up refill, console).
_POOL_LOCK_ID = 0x4B455354  # "KEST"


@dataclass(frozen=True)
class ProvisionedTenant:
    tenant: Tenant
    owner: User
    url: str
    source: str  # "pool" or "clone"
    seconds: float  # provisioning time, without hashing the owner's password


def template_schema() -> str:
    return str(settings.TENANT_BASE_SCHEMA)


def slug_check_available(slug: str) -> None:
    """Raise ValidationError if `slug` is malformed, reserved or taken."""
    validate_slug(slug)
    if Tenant.objects.filter(slug=slug).exists() or schemas.exists(schema_name_for_slug(slug)):
        raise ValidationError(
            f'The address "{slug}" is already taken; please choose another.', code="slug_taken"
        )


def tenant_provision(
    *,
    slug: str,
    name: str,
    owner_email: str,
    owner_password: str | None = None,
    owner_name: str = "",
    plan: str = Plan.FREE,
    actor: str = "system",
    ip_address: str | None = None,
    use_pool: bool = True,
) -> ProvisionedTenant:
    """Create an organisation with its schema, domain and owner, atomically.

    Either everything exists afterwards (tenant row, domain, schema, owner, audit event) or
    nothing does. Raises ValidationError with a code for bad or taken input. Schedules a
    pool refill after commit.
    """
    started = time.perf_counter()
    slug = slug.strip()
    name = name.strip()
    owner_email = owner_email.strip().lower()
    slug_check_available(slug)
    if not name:
        raise ValidationError("The organisation needs a name.", code="name_required")
    validate_email(owner_email)
    if plan not in Plan.values:
        raise ValidationError(f'Unknown plan "{plan}".', code="plan_unknown")

    # Hashing is deliberately slow (Argon2); do it before the transaction so the pool row
    # and the new schema are locked only for the fast part.
    hash_started = time.perf_counter()
    password_hash = make_password(owner_password)
    hashing = time.perf_counter() - hash_started

    schema_name = schema_name_for_slug(slug)
    if not schemas.exists(template_schema()):
        raise ValidationError(
            "The template schema is missing; run `python manage.py migrate_schemas` first.",
            code="template_missing",
        )
    try:
        with transaction.atomic():
            source = "clone"
            if use_pool:
                spare = (
                    SpareSchema.objects.select_for_update(skip_locked=True)
                    .order_by("created_at")
                    .first()
                )
                if spare is not None:
                    schemas.rename_schema(spare.schema_name, schema_name)
                    spare.delete()
                    source = "pool"
            if source == "clone":
                schemas.clone_schema(template_schema(), schema_name)
            tenant = Tenant.objects.create(schema_name=schema_name, slug=slug, name=name, plan=plan)
            Domain.objects.create(domain=tenant_host(slug), tenant=tenant, is_primary=True)
            with schema_context(schema_name):
                owner = user_create(
                    email=owner_email,
                    password_hash=password_hash,
                    full_name=owner_name,
                    is_superuser=True,
                )
                user_set_role(user=owner, role=Role.OWNER)
            seconds = time.perf_counter() - started - hashing
            audit_record(
                actor=actor,
                action="tenant.created",
                tenant_slug=slug,
                ip_address=ip_address,
                detail={
                    "source": source,
                    "ms": round(seconds * 1000, 1),
                    "plan": plan,
                    "owner_email": owner_email,
                },
            )
    except (DatabaseError, ValidationError) as exc:
        # Two sign-ups raced for the same address: the loser fails on the unique slug, the
        # schema name or the schema itself. Its transaction left nothing behind; say why.
        if Tenant.objects.filter(slug=slug).exists() or schemas.exists(schema_name):
            raise ValidationError(
                f'The address "{slug}" is already taken; please choose another.',
                code="slug_taken",
            ) from exc
        raise

    if settings.TENANT_WARM_POOL_REFILL_ON_PROVISION and source == "pool":
        from .tasks import warm_pool_refill

        transaction.on_commit(lambda: warm_pool_refill.delay())
    logger.info("provisioned %s from %s in %.0f ms", slug, source, seconds * 1000)
    return ProvisionedTenant(
        tenant=tenant,
        owner=owner,
        url=host_url(tenant_host(slug)),
        source=source,
        seconds=seconds,
    )


def warm_pool_refill(*, target: int | None = None) -> int:
    """Clone the template into spare schemas until the pool holds `target` of them.

    Returns how many were added. Safe to call from several processes at once: one refills,
    the others return 0 straight away.
    """
    target = settings.TENANT_WARM_POOL_SIZE if target is None else target
    template = template_schema()
    if not schemas.exists(template):
        return 0
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [_POOL_LOCK_ID])
        row = cursor.fetchone()
        if not (row and row[0]):
            return 0
    created = 0
    try:
        while SpareSchema.objects.count() < target:
            spare_name = f"{SPARE_PREFIX}{uuid.uuid4().hex[:16]}"
            with transaction.atomic():
                schemas.clone_schema(template, spare_name)
                SpareSchema.objects.create(schema_name=spare_name)
            created += 1
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [_POOL_LOCK_ID])
    return created


def warm_pool_discard_stale() -> int:
    """Drop spare schemas that no longer match the template's migrations (after a deploy),
    and any spare schema the pool table has forgotten. Returns how many were dropped."""
    template_state = schemas.applied_migrations(template_schema())
    dropped = 0
    known = set(SpareSchema.objects.values_list("schema_name", flat=True))
    for spare in SpareSchema.objects.all():
        if schemas.applied_migrations(spare.schema_name) != template_state:
            with transaction.atomic():
                schemas.drop_schema(spare.schema_name)
                spare.delete()
            dropped += 1
    for name in schemas.schema_names_with_prefix(SPARE_PREFIX):
        if name not in known:
            schemas.drop_schema(name)
            dropped += 1
    return dropped


def warm_pool_size() -> int:
    return SpareSchema.objects.count()
