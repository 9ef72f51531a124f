"""The conversion funnel of a pipeline: of the deals created in the period, how many reached
each open stage and won (a deal that moved backwards still counts once, at the furthest stage
it reached; a deal created in a later stage has reached the earlier ones), the conversion
from each stage to the next, and the average time deals spent in each stage (over the moves
out of that stage made by those deals)."""

from __future__ import annotations

from typing import Any

from django.db import connection

from apps.deals.models import Stage, StageKind

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
    reached, time_in = _passes(cohort, [s.pk for s in stages])
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
    rows: list[dict[str, Any]] = []
    links: list[dict[str, str]] = []
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


# One pass over the cohort's stage moves: per deal, the furthest open stage it entered (by
# the stages' order); per stage, the average time spent in it before moving on. A grouped
# join, which PostgreSQL answers by hashing, where a subquery per deal took seconds on a
# year of a big organisation's deals.
PASSES = """
WITH cohort AS MATERIALIZED ({cohort}),
moves AS MATERIALIZED (
    SELECT m.deal_id, m.from_stage_id, m.to_stage_id, m.seconds_in_previous
      FROM deals_dealstagechange m
     WHERE m.deal_id IN (SELECT id FROM cohort)
),
furthest AS (
    SELECT moves.deal_id, max(s."order") AS top
      FROM moves JOIN deals_stage s ON s.id = moves.to_stage_id
     WHERE s.id = ANY(%s)
     GROUP BY moves.deal_id
)
SELECT 'reached', furthest.top, cohort.status, count(*)::float
  FROM cohort LEFT JOIN furthest ON furthest.deal_id = cohort.id
 GROUP BY furthest.top, cohort.status
UNION ALL
SELECT 'seconds', from_stage_id, NULL, avg(seconds_in_previous)::float
  FROM moves WHERE from_stage_id = ANY(%s) AND seconds_in_previous IS NOT NULL
 GROUP BY from_stage_id
"""


def _passes(
    cohort: Any, stage_ids: list[int]
) -> tuple[dict[tuple[Any, str], int], dict[int, float]]:
    sql, params = cohort.values("id", "status").query.sql_with_params()
    reached: dict[tuple[Any, str], int] = {}
    time_in: dict[int, float] = {}
    with connection.cursor() as cursor:
        cursor.execute(PASSES.format(cohort=sql), [*params, stage_ids, stage_ids])
        for kind, key, status, value in cursor.fetchall():
            if kind == "reached":
                reached[(key, status)] = int(value)
            else:
                time_in[key] = value
    return reached, time_in
