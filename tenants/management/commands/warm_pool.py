from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from tenants import provisioning


class Command(BaseCommand):
    help = "Top the warm pool of ready-made schemas up now (beat does this every 30 s)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--size", type=int, default=None)

    def handle(self, *args: Any, **options: Any) -> None:
        added = provisioning.warm_pool_refill(target=options["size"])
        self.stdout.write(f"added {added}; pool size {provisioning.warm_pool_size()}")
