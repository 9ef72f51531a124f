"""Demo data export for `make dev`: one finished export of the demo organisation, built by
the real builder, so Settings → Export all data shows a zip ready to download. Safe to run
again."""

from __future__ import annotations

from apps.accounts.models import User

from . import services
from .models import DataExport

DEMO_OWNER = "owner@demo.kestrel.test"


def seed_data_export() -> DataExport | None:
    owner = User.objects.filter(email=DEMO_OWNER, is_active=True).first()
    if owner is None or DataExport.objects.exists():
        return None
    export = DataExport.objects.create(requested_by=owner)
    # Built in this process (no worker needed while seeding), and nobody is emailed.
    return services.build_archive(export, notify=False)
