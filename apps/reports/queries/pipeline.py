"""Pipeline by stage: the open deals of a pipeline now, per open stage: how many, their
value and their weighted value (value times the deal's probability, or its stage's)."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Sum
from django.db.models.functions import Coalesce

from apps.deals.models import Pipeline, Stage, StageKind

from ..base import Chart, Column, Figure, Report, Series, Table
from ..registry import ReportDef, register
from . import common as c


def chosen_pipeline(f: c.Filters) -> Pipeline | None:
    if f.pipeline is not None:
        return Pipeline.objects.filter(pk=f.pipeline).first()
    return Pipeline.objects.filter(archived=False).order_by("-is_default", "order", "id").first()


def build(user: Any, params: dict[str, Any], *, now: Any = None) -> Report:
    f = c.parse(user, params, now=now)
    m = c.money()
    pipeline = chosen_pipeline(f)
    f.pipeline = pipeline.pk if pipeline else None
    stages = list(
        Stage.objects.filter(pipeline=pipeline, kind=StageKind.OPEN).order_by("order", "id")
    )
    value = m.convert()
    deals = c.deals(user, f).filter(status="open")
    per_stage: dict[int, dict[str, Any]] = {
        row["stage_id"]: dict(row)
        for row in deals.values("stage_id").annotate(
            n=Count("id"),
            amount=Sum(value),
            weighted_amount=Sum(value * Coalesce("probability", "stage__probability") / 100),
        )
    }
    columns = [
        Column("stage", "Stage", "text"),
        Column("probability", "Probability", "percent"),
        Column("deals", "Deals", "count"),
        Column("value", "Value", "money"),
        Column("weighted", "Weighted value", "money"),
    ]
    rows, links = [], []
    for stage in stages:
        found: dict[str, Any] = per_stage.get(stage.pk, {})
        rows.append(
            {
                "stage": stage.name,
                "probability": stage.probability,
                "deals": found.get("n", 0),
                "value": c.cents(found.get("amount")),
                "weighted": c.cents(found.get("weighted_amount")),
            }
        )
        url = c.link("deals", f, status="open", stage=stage.pk)
        links.append({"stage": url, "deals": url, "value": url, "weighted": url})
    totals = {
        "stage": "Total",
        "deals": sum(r["deals"] for r in rows),
        "value": sum((r["value"] for r in rows), c.cents(0)),
        "weighted": sum((r["weighted"] for r in rows), c.cents(0)),
    }
    everything = c.link("deals", f, status="open", pipeline=f.pipeline)
    return Report(
        name="pipeline-by-stage",
        title="Pipeline by stage",
        description=f"Open deals in {pipeline.name if pipeline else 'no pipeline'} now, by stage.",
        currency=m.base,
        filters=f.describe(),
        figures=[
            Figure("deals", "Open deals", totals["deals"], "count", link=everything),
            Figure("value", "Pipeline value", totals["value"], "money", link=everything),
            Figure("weighted", "Weighted value", totals["weighted"], "money", link=everything),
        ],
        chart=Chart(
            "bar",
            [r["stage"] for r in rows],
            [
                Series("Value", [float(r["value"]) for r in rows]),
                Series("Weighted value", [float(r["weighted"]) for r in rows]),
            ],
            money=True,
        ),
        table=Table(columns, rows, links, totals),
        notes=c.unconverted_notes(deals, m),
    )


register(
    ReportDef(
        "pipeline-by-stage",
        "Pipeline by stage",
        "Open deals per stage: count, value and weighted value.",
        build,
    )
)
