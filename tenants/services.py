"""Operator actions on organisations. Each is atomic and audit-logged in the same transaction."""

from __future__ import annotations

import shutil
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import OperationalError, connection, transaction

from . import cachekeys, jobs, queues, schemas
from .audit import audit_record
from .models import Tenant, TenantStatus


@transaction.atomic
def tenant_suspend(
    *, tenant: Tenant, actor: str, reason: str = "", ip_address: str | None = None
) -> Tenant:
    """Block every web and API request to the organisation; its data is kept untouched."""
    tenant.status = TenantStatus.SUSPENDED
    tenant.save(update_fields=["status", "updated_at"])
    audit_record(
        actor=actor,
        action="tenant.suspended",
        tenant_slug=tenant.slug,
        detail={"reason": reason},
        ip_address=ip_address,
    )
    return tenant


@transaction.atomic
def tenant_resume(*, tenant: Tenant, actor: str, ip_address: str | None = None) -> Tenant:
    tenant.status = TenantStatus.ACTIVE
    tenant.save(update_fields=["status", "updated_at"])
    audit_record(
        actor=actor, action="tenant.resumed", tenant_slug=tenant.slug, ip_address=ip_address
    )
    return tenant


@transaction.atomic
def remove_files(schema_name: str) -> None:
    """Delete the organisation's media folder (MEDIA_ROOT/<schema>/)."""
    root = Path(settings.MEDIA_ROOT).resolve()
    folder = (root / schema_name).resolve()
    if folder.parent == root and folder.is_dir():
        shutil.rmtree(folder, ignore_errors=True)


def tenant_delete(
    *, tenant: Tenant, confirmation: str, actor: str, ip_address: str | None = None
) -> Path | None:
    """Delete the organisation and everything of it, only if `confirmation` is its slug typed
    exactly. Irreversible, so a final backup is written to KESTREL_BACKUP_DIR first (unless
    KESTREL_BACKUP_ON_DELETE is off); if it cannot be written, nothing is deleted. Returns the
    final backup's path.

    All in one transaction that first blocks writes to its tables (EXCLUSIVE locks: pg_dump's
    reads still pass): the final backup, then its domains, its Tenant row, its schema and its
    scheduled jobs; once committed: its queued messages, its uploaded files and its keys in
    Redis."""
    if confirmation.strip() != tenant.slug:
        raise ValidationError(
            f'Type the organisation\'s address "{tenant.slug}" exactly to confirm deletion.',
            code="confirmation_mismatch",
        )
    schema_name, slug = tenant.schema_name, tenant.slug
    final_backup: Path | None = None
    with transaction.atomic():
        # From here on nobody writes to the organisation (reads go on), so the final backup
        # holds everything that is then removed.
        _block_writes(schema_name, tenant_name=tenant.name)
        if settings.KESTREL_BACKUP_ON_DELETE:
            from .backup import BackupError, backup_tenant

            try:
                final_backup = backup_tenant(tenant).path
            except BackupError as exc:
                raise ValidationError(
                    f"{tenant.name} was not deleted: its final backup could not be written "
                    f"({exc}). Nothing was removed.",
                    code="backup_failed",
                ) from exc
        tenant.domains.all().delete()
        Tenant.objects.filter(pk=tenant.pk).delete()
        schemas.drop_schema(schema_name)
        # Its scheduled work and queued messages go with it (workers drop its queues by
        # themselves once it is no longer an active organisation).
        jobs.forget_schema(schema_name)
        transaction.on_commit(lambda: queues.purge(schema_name), robust=True)
        # Its uploaded files (imports and their error files) and its cached keys go once the
        # deletion has committed.
        transaction.on_commit(lambda: remove_files(schema_name), robust=True)
        transaction.on_commit(lambda: cachekeys.purge(schema_name), robust=True)
        audit_record(
            actor=actor,
            action="tenant.deleted",
            tenant_slug=slug,
            detail={
                "schema": schema_name,
                "final_backup": str(final_backup) if final_backup else None,
            },
            ip_address=ip_address,
        )
    return final_backup


# How long deletion waits for transactions still writing to the organisation.
DELETE_LOCK_TIMEOUT = "60s"


def _block_writes(schema_name: str, *, tenant_name: str) -> None:
    """Lock every table of the schema against writes until the transaction ends."""
    from .backup import schema_tables

    with connection.cursor() as cursor:
        tables = schema_tables(cursor, schema_name)
        if not tables:
            return
        cursor.execute(f"SET LOCAL lock_timeout = '{DELETE_LOCK_TIMEOUT}'")
        names = ", ".join(f"{schemas.quote(schema_name)}.{schemas.quote(t)}" for t in tables)
        try:
            cursor.execute(f"LOCK TABLE {names} IN EXCLUSIVE MODE")
        except OperationalError as exc:
            raise ValidationError(
                f"{tenant_name} was not deleted: it is busy (a long transaction is writing to "
                f"it). Nothing was removed; try again.",
                code="busy",
            ) from exc
