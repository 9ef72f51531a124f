from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone
from django_tenants.utils import schema_context

from apps.accounts.roles import Role
from tenants.models import Tenant

from ...services import api_key_create


class Command(BaseCommand):
    help = "Issue an API key for an organisation; the key is printed once, on the last line."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug", help="The organisation's address, e.g. acme")
        parser.add_argument("--name", required=True, help="What the key is for")
        parser.add_argument("--role", default=Role.ADMIN, choices=Role.values)
        parser.add_argument(
            "--scopes",
            default="",
            help="e.g. 'contacts:read deals:write' (comma or space separated); default: all",
        )
        parser.add_argument("--expires-in-days", type=int, default=None)

    def handle(self, *args: Any, **options: Any) -> None:
        tenant = Tenant.objects.filter(slug=options["slug"]).first()
        if tenant is None:
            raise CommandError(f'No organisation has the address "{options["slug"]}".')
        days = options["expires_in_days"]
        expires_at = timezone.now() + timedelta(days=days) if days else None
        try:
            with schema_context(tenant.schema_name):
                issued = api_key_create(
                    name=options["name"],
                    role=options["role"],
                    scopes=options["scopes"],
                    expires_at=expires_at,
                )
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from exc
        self.stderr.write(
            f"Created key {issued.key.name!r} (role {issued.key.role}, scopes "
            f"{' '.join(issued.key.scopes) or 'all'}) for {tenant.name}. It is shown only once:"
        )
        self.stdout.write(issued.secret)
