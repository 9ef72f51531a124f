"""Operator actions on organisations. Each is atomic and audit-logged in the same transaction."""

from __future__ import annotations

import shutil
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction

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

    Then, in one transaction: its domains, its Tenant row, its schema and its scheduled jobs;
    once committed: its queued messages, its uploaded files and its keys in Redis."""
    if confirmation.strip() != tenant.slug:
        raise ValidationError(
            f'Type the organisation\'s address "{tenant.slug}" exactly to confirm deletion.',
            code="confirmation_mismatch",
        )
    schema_name, slug = tenant.schema_name, tenant.slug
    final_backup: Path | None = None
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
    with transaction.atomic():
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
