"""The conversion funnel of a pipeline: of the deals created in the period, how many reached
each open stage and won (a deal that moved backwards still counts once, at the furthest stage
it reached; a deal created in a later stage has reached the earlier ones), the conversion
from each stage to the next, and the average time deals spent in each stage (over the moves
out of that stage made by those deals)."""

from __future__ import annotations

from typing import Any

from django.db.models import Avg, Count, Max, OuterRef, Subquery

from apps.deals.models import DealStageChange, Stage, StageKind

from ..base import Chart, Column, Figure, Report, Series, Table
from ..registry import ReportDef, register
from . import common as c
from .pipeline import chosen_pipeline


def build(user: Any, params: dict[str, Any], *, now: Any = None) -> Report:
    f = c.parse(user, params, now=now)
    p = f.period
    pipeline = chosen_pipeline(f)
    f.pipeline = pipeline.pk if pipeline else None
    stages = list(
        Stage.objects.filter(pipeline=pipeline, kind=StageKind.OPEN).order_by("order", "id")
    )
    cohort = c.deals(user, f).filter(c.in_period("created_at", p))
    # The furthest open stage each deal entered, and whether it is won.
    furthest = (
        DealStageChange.objects.filter(deal_id=OuterRef("pk"), to_stage__in=[s.pk for s in stages])
        .order_by()
        .values("deal_id")
        .annotate(top=Max("to_stage__order"))
        .values("top")
    )
    reached = {
        (row["top"], row["status"]): row["n"]
        for row in cohort.annotate(top=Subquery(furthest))
        .values("top", "status")
        .annotate(n=Count("id"))
    }
    time_in = {
        row["from_stage_id"]: row["seconds"]
        for row in DealStageChange.objects.filter(
            deal__in=cohort.values("pk"), from_stage__in=[s.pk for s in stages]
        )
        .values("from_stage_id")
        .annotate(seconds=Avg("seconds_in_previous"))
        .order_by()
    }
    total = sum(reached.values())
    won = sum(n for (top, status), n in reached.items() if status == "won")
    counts = []
    for stage in stages:
        # Reached: entered this stage or a later one, or won.
        counts.append(
            sum(
                n
                for (top, status), n in reached.items()
                if status == "won" or (top is not None and top >= stage.order)
            )
        )
    if stages:
        # Every deal of the pipeline starts in its first stage, whatever it was created in.
        counts[0] = total
    rows, links = [], []
    for i, stage in enumerate(stages):
        following = counts[i + 1] if i + 1 < len(counts) else won
        seconds = time_in.get(stage.pk)
        rows.append(
            {
                "stage": stage.name,
                "reached": counts[i],
                "share": c.ratio(counts[i], total),
                "to_next": c.ratio(following, counts[i]),
                "days_in_stage": round(seconds / 86400, 1) if seconds is not None else None,
            }
        )
        links.append({"stage": c.link("deals", f, stage=stage.pk, status="open")})
    rows.append(
        {
            "stage": "Won",
            "reached": won,
            "share": c.ratio(won, total),
            "to_next": None,
            "days_in_stage": None,
        }
    )
    created = {"pipeline": f.pipeline, **c.between("created_at", p)}
    links.append({"reached": c.link("deals", f, status="won", **created)})
    return Report(
        name="funnel",
        title="Conversion funnel",
        description=(
            f"Deals created in the period in {pipeline.name if pipeline else 'no pipeline'}: "
            "how far they got."
        ),
        currency=c.money().base,
        filters=f.describe(),
        period=p,
        previous=f.previous,
        figures=[
            Figure("created", "Deals created", total, "count", link=c.link("deals", f, **created)),
            Figure("won", "Won", won, "count", link=links[-1]["reached"]),
            Figure("conversion", "Created to won", c.ratio(won, total), "percent"),
        ],
        chart=Chart(
            "funnel", [r["stage"] for r in rows], [Series("Deals", [r["reached"] for r in rows])]
        ),
        table=Table(
            [
                Column("stage", "Stage", "text"),
                Column("reached", "Reached", "count"),
                Column("share", "Of all created", "percent"),
                Column("to_next", "On to the next stage", "percent"),
                Column("days_in_stage", "Average days in stage", "days"),
            ],
            rows,
            links,
        ),
    )


register(
    ReportDef(
        "funnel",
        "Conversion funnel",
        "How far the period's new deals got, stage by stage, and how long they stayed.",
        build,
    )
)
