"""django-tenants' own `create_tenant` would save a tenant row without a schema here, because
schemas are created only by the provisioning service (pool or clone). Point people to it."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Not used in Kestrel: run `provision_tenant` instead."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("args", nargs="*")

    def handle(self, *args: Any, **options: Any) -> None:
        raise CommandError(
            "Organisations are created with `python manage.py provision_tenant <slug> "
            '--name "<Org name>" --owner-email <email>`, which clones the migrated template.'
        )
