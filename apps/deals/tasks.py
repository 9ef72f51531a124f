"""Deals' background work, on each organisation's reports queue."""

from __future__ import annotations

from typing import Any

from django.core.cache import cache
from django.utils import timezone

from tenants.queues import tenant_task

SNAPSHOT_KEY = "reports:pipeline-snapshot"
SNAPSHOT_SECONDS = 2 * 60 * 60


@tenant_task("reports", name="deals.tasks.pipeline_snapshot")
def pipeline_snapshot() -> dict[str, Any]:
    """Open pipeline by stage (count, value and weighted value per currency) of every
    pipeline, over all of the organisation's open deals, kept in the organisation's own cache
    (keys are prefixed with its schema) for the reports built on it. Sent hourly to every
    organisation by beat's fan-out."""
    from .models import Deal, DealStatus, Pipeline
    from .selectors import board_totals

    pipelines = {}
    for pipeline in Pipeline.objects.order_by("pk"):
        open_deals = Deal.objects.filter(pipeline=pipeline, status=DealStatus.OPEN)
        totals = board_totals(open_deals)
        pipelines[str(pipeline.pk)] = {
            str(stage): {
                "count": entry["count"],
                "money": [
                    {
                        "currency": m["currency"],
                        "value": str(m["value"]),
                        "weighted": str(m["weighted"]),
                    }
                    for m in entry["money"]
                ],
            }
            for stage, entry in totals.items()
        }
    snapshot = {"built_at": timezone.now().isoformat(), "pipelines": pipelines}
    cache.set(SNAPSHOT_KEY, snapshot, SNAPSHOT_SECONDS)
    return snapshot
