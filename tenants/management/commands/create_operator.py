from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from apps.accounts.models import User
from tenants.db import connection


class Command(BaseCommand):
    help = "Create or update a platform operator (public schema) who may use /console/."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--email", required=True)
        parser.add_argument("--password", required=True)

    def handle(self, *args: Any, **options: Any) -> None:
        connection.set_schema_to_public()
        email = options["email"].strip().lower()
        user, created = User.objects.get_or_create(email=email)
        user.is_staff = True
        user.is_active = True
        user.set_password(options["password"])
        user.save()
        self.stdout.write(f"{'created' if created else 'updated'} operator {email}")
