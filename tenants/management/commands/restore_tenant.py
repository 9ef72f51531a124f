"""`restore_tenant <archive> <new-slug>`: a backup archive becomes a new organisation."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.core.urls_util import host_url, tenant_host
from tenants.backup import BackupError, restore_tenant


class Command(BaseCommand):
    help = (
        "Restore a backup archive (a path, or a name in KESTREL_BACKUP_DIR) as a NEW "
        "organisation with its own address; never over an existing one. Prints its URL on "
        "the last line."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("archive", help="The .tar.gz written by backup_tenant")
        parser.add_argument("slug", help="The new organisation's address, e.g. acme-restored")
        parser.add_argument("--name", default=None, help="Its name (default: the archive's)")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            result = restore_tenant(
                options["archive"],
                options["slug"],
                name=options["name"],
                actor="cli",
                progress=self.stdout.write,
            )
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from exc
        except BackupError as exc:
            raise CommandError(f"Restore failed: {exc}") from exc
        self.stdout.write(host_url(tenant_host(result.tenant.slug)))
