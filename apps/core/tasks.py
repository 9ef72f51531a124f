"""Housekeeping across organisations."""

from __future__ import annotations

from datetime import timedelta

from celery import shared_task
from django.utils import timezone
from django_tenants.utils import schema_context

IDEMPOTENCY_KEEP = timedelta(hours=24)
HANDOFF_KEEP = timedelta(days=1)


@shared_task(name="core.tasks.prune_expired", ignore_result=True)
def prune_expired() -> dict[str, int]:
    """Forget idempotency answers after 24 h, used or expired sign-in hand-offs after a day,
    records merged away once their merge can no longer be undone (30 days), and data
    exports past their expiry (file and row), in every organisation's schema.
    Returns how many rows went, per kind."""
    from apps.accounts.models import LoginHandoff
    from apps.core.models import IdempotencyRecord
    from tenants.models import Tenant

    now = timezone.now()
    from apps.dataexport.services import delete_expired as delete_expired_exports
    from apps.records.merging import purge_expired_merges

    removed = {"idempotency": 0, "handoffs": 0, "merged_records": 0, "data_exports": 0}
    for schema in Tenant.objects.exclude(schema_name="public").values_list(
        "schema_name", flat=True
    ):
        with schema_context(schema):
            removed["idempotency"] += IdempotencyRecord.objects.filter(
                created_at__lt=now - IDEMPOTENCY_KEEP
            ).delete()[0]
            removed["handoffs"] += LoginHandoff.objects.filter(
                expires_at__lt=now - HANDOFF_KEEP
            ).delete()[0]
            removed["merged_records"] += purge_expired_merges(now=now)
            removed["data_exports"] += delete_expired_exports(now=now)
    return removed
