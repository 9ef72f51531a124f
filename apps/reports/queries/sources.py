"""Lead sources: the leads created in the period by source (or UTM campaign), and how far
they went: qualified (qualified or converted), converted into a deal, and the value of those
deals that were won (in the reporting currency)."""

from __future__ import annotations

from typing import Any

from django.db.models import Case, CharField, Count, F, Q, Sum, Value, When

from apps.leads.models import LeadSource

from ..base import Chart, Column, Figure, Report, Series, Table
from ..registry import ReportDef, register
from . import common as c

GROUPS = (("source", "Source"), ("campaign", "UTM campaign"))


def build(user: Any, params: dict[str, Any], *, now: Any = None) -> Report:
    f = c.parse(user, params, now=now, groups=GROUPS)
    m = c.money()
    p = f.period
    leads = c.leads(user, f).filter(c.in_period("created_at", p))
    key = F("source_id") if f.group == "source" else F("utm_campaign")
    qualified = Q(status__in=["qualified", "converted"]) | Q(converted_at__isnull=False)
    converted = Q(converted_deal__isnull=False)
    won = Q(converted_deal__status="won")
    # The currency of a won deal without an exchange rate ("" otherwise): rows come back
    # split by it, and are merged below, so the notes need no second pass over the leads.
    unpriced = Case(
        When(
            won & ~Q(converted_deal__currency__in=m.known()),
            then=F("converted_deal__currency"),
        ),
        default=Value(""),
        output_field=CharField(),
    )
    split = (
        leads.annotate(group_key=key, unpriced=unpriced)
        .values("group_key", "unpriced")
        .annotate(
            leads=Count("id"),
            qualified=Count("id", filter=qualified),
            converted=Count("id", filter=converted),
            won=Count("id", filter=won),
            won_value=Sum(
                m.convert("converted_deal__value", "converted_deal__currency"), filter=won
            ),
        )
    )
    grouped: dict[Any, dict[str, Any]] = {}
    missing: dict[str, int] = {}
    for part in split:
        merged = grouped.setdefault(part["group_key"], {"group_key": part["group_key"]})
        for name in ("leads", "qualified", "converted", "won"):
            merged[name] = merged.get(name, 0) + part[name]
        if part["won_value"] is not None:
            merged["won_value"] = merged.get("won_value", 0) + part["won_value"]
        if part["unpriced"]:
            missing[part["unpriced"]] = missing.get(part["unpriced"], 0) + part["won"]
    sources = {s.pk: s.name for s in LeadSource.objects.all()}
    rows, links = [], []
    for row in grouped.values():
        k = row["group_key"]
        if f.group == "source":
            name = sources.get(k, "No source") if k else "No source"
            drill = {"source": name} if k else {"source__isnull": "true"}
        else:
            name = k or "No campaign"
            drill = {"utm_campaign": k} if k else {"utm_campaign__isnull": "true"}
        rows.append(
            {
                "group": name,
                "leads": row["leads"],
                "qualified": row["qualified"],
                "converted": row["converted"],
                "won": row["won"],
                "won_value": c.cents(row.get("won_value")),
                "conversion": c.ratio(row["converted"], row["leads"]),
            }
        )
        base = {**drill, **c.between("created_at", p)}
        links.append(
            {
                "leads": c.link("leads", f, **base),
                "converted": c.link("leads", f, converted_deal__isnull="false", **base),
                "won": c.link("leads", f, converted_deal_status="won", **base),
            }
        )
    order = sorted(range(len(rows)), key=lambda i: (-rows[i]["leads"], rows[i]["group"]))
    rows, links = [rows[i] for i in order], [links[i] for i in order]
    totals: dict[str, Any] = {"group": "Total"}
    for name in ("leads", "qualified", "converted", "won"):
        totals[name] = sum(r[name] for r in rows)
    totals["won_value"] = sum((r["won_value"] for r in rows), c.cents(0))
    totals["conversion"] = c.ratio(totals["converted"], totals["leads"])
    label = dict(GROUPS)[f.group]
    return Report(
        name="lead-sources",
        title="Lead sources",
        description=f"Leads created in the period by {label.lower()}, and how far they went.",
        currency=m.base,
        filters=f.describe(),
        period=p,
        previous=f.previous,
        figures=[
            Figure(
                "leads",
                "New leads",
                totals["leads"],
                "count",
                link=c.link("leads", f, **c.between("created_at", p)),
            ),
            Figure("qualified", "Qualified", totals["qualified"], "count"),
            Figure("converted", "Converted to deals", totals["converted"], "count"),
            Figure("won_value", "Won value", totals["won_value"], "money"),
        ],
        chart=Chart(
            "bar",
            [r["group"] for r in rows],
            [
                Series("Leads", [r["leads"] for r in rows]),
                Series("Qualified", [r["qualified"] for r in rows]),
                Series("Converted", [r["converted"] for r in rows]),
                Series("Won", [r["won"] for r in rows]),
            ],
        ),
        table=Table(
            [
                Column("group", label, "text"),
                Column("leads", "Leads", "count"),
                Column("qualified", "Qualified", "count"),
                Column("converted", "Converted", "count"),
                Column("conversion", "Lead to deal", "percent"),
                Column("won", "Won deals", "count"),
                Column("won_value", "Won value", "money"),
            ],
            rows,
            links,
            totals,
        ),
        # A won deal in a currency without a rate adds nothing to the won value: say so.
        notes=c.missing_rate_notes(sorted(missing.items()), m),
    )


register(
    ReportDef(
        "lead-sources",
        "Lead sources",
        "Leads by source or UTM campaign: qualified, converted, won value.",
        build,
        groups=GROUPS,
    )
)
