"""`migrate_schemas`: public schema, the template new organisations are cloned from, the warm
pool, and every organisation, in one command.

Organisation schemas already up to date are skipped after one batched read of their
migration tables; the rest are migrated in parallel worker processes (`--processes`, setting
TENANT_MIGRATION_PROCESSES, default one per CPU, between 2 and 4), each schema in one
transaction. The first failure stops the run: nothing new starts, what is in flight finishes,
and the command fails naming the organisation and the error; running it again finishes the
rest (tenants/migrating.py).

`--executor standard|multiprocessing` runs django-tenants' own executors instead (every
schema migrated, none skipped), as does `--plan`.
"""

from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import CommandError, CommandParser
from django_tenants.management.commands import SyncCommon
from django_tenants.management.commands.migrate_schemas import MigrateSchemasCommand
from django_tenants.migration_executors import get_executor
from django_tenants.utils import get_public_schema_name

from tenants import migrating, provisioning, schemas
from tenants.db import connection
from tenants.models import Tenant


class Command(MigrateSchemasCommand):
    help = (
        "Brings the database fully up to date: the public schema, the template schema used "
        "for cloning, the warm pool and every organisation (in parallel, skipping the "
        "organisations already up to date)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        super().add_arguments(parser)
        parser.add_argument(
            "--processes",
            type=int,
            default=None,
            help="Worker processes migrating organisation schemas in parallel (default: "
            "setting TENANT_MIGRATION_PROCESSES, else one per CPU, between 2 and 4).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options.get("executor") or options.get("plan"):
            self.handle_with_library_executor(*args, **options)
            return
        SyncCommon.handle(self, *args, **options)
        self.verbosity = int(options.get("verbosity", 1))
        public = get_public_schema_name()
        if self.sync_public:
            executor = get_executor(codename="standard")(self.args, self.options)
            executor.run_migrations(tenants=[public])
        if not self.sync_tenant:
            return
        connection.set_schema_to_public()
        if self.schema_name and self.schema_name != public:
            if not schemas.exists(self.schema_name):
                raise CommandError(f'Schema "{self.schema_name}" does not exist.')
            slug = (
                Tenant.objects.filter(schema_name=self.schema_name)
                .values_list("slug", flat=True)
                .first()
            )
            label = (
                f"organisation {slug} (schema {self.schema_name})"
                if slug
                else f"schema {self.schema_name}"
            )
            self.migrate(migrating.Target(self.schema_name, label), targets=[], options=options)
            return
        template = provisioning.template_schema()
        if not schemas.exists(template):
            schemas.create_schema(template)
        rows = (
            Tenant.objects.exclude(schema_name=public)
            .order_by("id")
            .values_list("slug", "schema_name")
        )
        targets = migrating.targets_in_order(rows)
        self.migrate(
            migrating.Target(template, f"template schema {template}"),
            targets=targets,
            options=options,
        )
        if options.get("check_unapplied") or options.get("app_label"):
            return
        connection.set_schema_to_public()
        dropped = provisioning.warm_pool_discard_stale()
        if dropped and self.verbosity >= 1:
            self.stdout.write(f"Discarded {dropped} spare schema(s) built from an older template.")

    def migrate(
        self, first: migrating.Target, *, targets: list[migrating.Target], options: dict[str, Any]
    ) -> None:
        """`first` (the template, or the one schema asked for), then `targets`, in parallel."""
        all_targets = [first, *targets]
        if options.get("check_unapplied"):
            behind = migrating.pending(all_targets)
            for target, missing in behind:
                self.stdout.write(f"{target.label}: {len(missing)} unapplied migration(s)")
            if behind:
                sys.exit(1)
            return

        def progress(outcome: migrating.Outcome, done: int, total: int) -> None:
            if outcome.ok and self.verbosity >= 1:
                self.stdout.write(
                    f"[{done}/{total}] migrated {outcome.target.label} in {outcome.seconds:.1f} s"
                )
            if outcome.output and (self.verbosity >= 2 or not outcome.ok):
                for line in outcome.output.rstrip().splitlines():
                    self.stdout.write(f"  [{outcome.target.schema_name}] {line}")

        report = migrating.migrate_many(
            all_targets,
            args=self.args,
            options=options,
            processes=options.get("processes"),
            skip_up_to_date=not options.get("app_label"),
            on_outcome=progress,
        )
        if self.verbosity >= 1:
            self.stdout.write(
                f"Schemas: {len(report.up_to_date)} up to date, {len(report.migrated)} "
                f"migrated, {len(report.failed)} failed, {len(report.not_started)} not "
                f"started ({report.seconds:.1f} s)."
            )
        connection.set_schema_to_public()
        if report.failed:
            failures = "; ".join(
                f"{outcome.target.label}: {outcome.error.rstrip('.')}" for outcome in report.failed
            )
            raise CommandError(
                f"Migration failed in {failures}. {len(report.migrated)} schema(s) were "
                f"migrated and stay so; {len(report.not_started)} were not started. Fix the "
                "cause and run migrate_schemas again to finish them."
            )

    def handle_with_library_executor(self, *args: Any, **options: Any) -> None:
        """django-tenants' own path: every schema goes through `migrate`, none is skipped."""
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
