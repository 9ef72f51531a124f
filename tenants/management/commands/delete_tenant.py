"""`delete_tenant <slug> --confirm <slug>`: delete an organisation, after a final backup."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from tenants import services
from tenants.db import connection
from tenants.models import Tenant


class Command(BaseCommand):
    help = (
        "Delete an organisation with its schema, files, queues and cached keys, after writing "
        "its final backup to KESTREL_BACKUP_DIR (nothing is deleted if that fails). Prints "
        "the final backup's path on the last line."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug", help="The organisation's address")
        parser.add_argument(
            "--confirm", required=True, metavar="SLUG", help="The same address, typed again"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        connection.set_schema_to_public()
        slug = options["slug"].strip()
        tenant = Tenant.objects.filter(slug=slug).first()
        if tenant is None:
            raise CommandError(f'There is no organisation with the address "{slug}".')
        self.stdout.write(f"Deleting {tenant.name} ({slug}); writing its final backup first")
        try:
            final = services.tenant_delete(
                tenant=tenant, confirmation=options["confirm"], actor="cli"
            )
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from exc
        if final is not None:
            self.stdout.write(f"Deleted {slug}; its final backup is:")
            self.stdout.write(str(final))
        else:
            self.stdout.write(f"Deleted {slug} (no final backup: KESTREL_BACKUP_ON_DELETE is off)")
