from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from tenants.models import Plan
from tenants.provisioning import tenant_provision


class Command(BaseCommand):
    help = "Create an organisation (schema, domain, owner) and print its URL on the last line."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug", help="Subdomain, e.g. acme for acme.<base domain>")
        parser.add_argument("--name", required=True, help="Organisation name")
        parser.add_argument("--owner-email", required=True)
        parser.add_argument(
            "--owner-password",
            default=None,
            help="Omit to leave the owner to set one through a reset link.",
        )
        parser.add_argument("--plan", default=Plan.FREE, choices=Plan.values)
        parser.add_argument(
            "--no-pool",
            action="store_true",
            help="Clone the template even if the warm pool has a spare schema.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            result = tenant_provision(
                slug=options["slug"],
                name=options["name"],
                owner_email=options["owner_email"],
                owner_password=options["owner_password"],
                plan=options["plan"],
                actor="cli",
                use_pool=not options["no_pool"],
            )
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from exc
        self.stderr.write(
            f"Created {result.tenant.name} ({result.source}, {result.seconds * 1000:.0f} ms); "
            f"owner {result.owner.email}"
        )
        self.stdout.write(result.url)
