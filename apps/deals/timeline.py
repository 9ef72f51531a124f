"""A deal's stage moves on its timeline: "Moved to Proposal made" with the time spent in the
stage it left (from `DealStageChange`)."""

from __future__ import annotations

from typing import Any

from apps.records.models import TimelineKind
from apps.records.timeline import Item


def duration(seconds: int | None) -> str:
    """A short human duration: "3 days", "5 hours", "12 minutes"."""
    if seconds is None:
        return ""
    for size, unit in ((86400, "day"), (3600, "hour"), (60, "minute")):
        if seconds >= size:
            count = seconds // size
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return "under a minute"


def stage_items(record: Any, entity: str, kind: str, limit: int, user: Any = None) -> list[Item]:
    if entity != "deal" or kind not in ("", TimelineKind.CHANGE):
        return []
    from .models import DealStageChange

    changes = (
        DealStageChange.objects.filter(deal_id=record.pk)
        # The first row is the deal's creation (no stage before it), already on the timeline.
        .exclude(from_stage__isnull=True, seconds_in_previous__isnull=True)
        .select_related("from_stage", "to_stage", "changed_by")
        .order_by("-changed_at", "-id")[:limit]
    )
    return [
        Item(
            kind=TimelineKind.CHANGE,
            at=change.changed_at,
            author=change.changed_by,
            title=f"Moved to {change.to_stage.name if change.to_stage else 'a deleted stage'}",
            body=(
                f"From {change.from_stage.name} after {duration(change.seconds_in_previous)}."
                if change.from_stage is not None and change.seconds_in_previous is not None
                else f"After {duration(change.seconds_in_previous)} in a deleted stage."
                if change.seconds_in_previous is not None
                else ""
            ),
            detail={"from": change.from_stage_id, "to": change.to_stage_id},
        )
        for change in changes
    ]
