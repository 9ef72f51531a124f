"""`migrate_schemas`: public schema, the template new organisations are cloned from, the warm
pool, and every organisation, in one command."""

from __future__ import annotations

from typing import Any

from django_tenants.management.commands.migrate_schemas import MigrateSchemasCommand
from django_tenants.migration_executors import get_executor
from django_tenants.utils import get_public_schema_name

from tenants import provisioning, schemas
from tenants.db import connection


class Command(MigrateSchemasCommand):
    help = (
        "Brings the database fully up to date: the public schema, the template schema used "
        "for cloning, the warm pool and every organisation."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        targeted = bool(options.get("schema_name")) or options.get("app_label")
        super().handle(*args, **options)
        if (
            targeted
            or not self.sync_tenant
            or options.get("plan")
            or options.get("check_unapplied")
        ):
            return
        connection.set_schema_to_public()
        template = provisioning.template_schema()
        if not schemas.exists(template):
            schemas.create_schema(template)
        executor = get_executor(codename=self.executor)(self.args, self.options)
        executor.run_migrations(tenants=[template])
        connection.set_schema_to_public()
        dropped = provisioning.warm_pool_discard_stale()
        if dropped and int(options.get("verbosity", 1)) >= 1:
            self.stdout.write(f"Discarded {dropped} spare schema(s) built from an older template.")
        assert connection.schema_name == get_public_schema_name()
