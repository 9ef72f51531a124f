"""`backup_tenant <slug>`: one organisation's archive (schema dump, files, manifest)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from tenants.backup import BackupError, backup_tenant
from tenants.db import connection
from tenants.models import Tenant


class Command(BaseCommand):
    help = (
        "Write one organisation's backup archive (pg_dump of its schema, its uploaded files "
        "and a manifest) to KESTREL_BACKUP_DIR, or to --output. Prints its progress, and the "
        "archive's path on the last line."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug", help="The organisation's address, e.g. acme")
        parser.add_argument(
            "--output", default=None, help="Archive path, or a folder to write it in."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        connection.set_schema_to_public()
        slug = options["slug"].strip()
        tenant = Tenant.objects.filter(slug=slug).first()
        if tenant is None:
            raise CommandError(f'There is no organisation with the address "{slug}".')
        output = Path(options["output"]) if options["output"] else None
        try:
            result = backup_tenant(tenant, output=output, progress=self.stdout.write)
        except BackupError as exc:
            raise CommandError(f"Backup of {slug} failed: {exc}") from exc
        self.stdout.write(str(result.path))
