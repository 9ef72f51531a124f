"""The forecast by month of the period: for each month, the open deals expected to close in
it (best case: their whole value; weighted: value times probability), and what actually
closed won in it (by won date, in the viewer's time zone). Past months show what was won;
open deals whose expected close date has passed still show in their month, as slipping."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from django.db.models import Count, Q, Sum
from django.db.models.functions import Coalesce, TruncMonth

from ..base import Chart, Column, Figure, Report, Series, Table
from ..registry import ReportDef, register
from . import common as c


def _months(first: date, last: date) -> list[date]:
    months, day = [], first.replace(day=1)
    while day <= last:
        months.append(day)
        day = date(day.year + (day.month == 12), day.month % 12 + 1, 1)
    return months


def build(user: Any, params: dict[str, Any], *, now: Any = None) -> Report:
    f = c.parse(user, params, now=now, default_period="this_quarter")
    m = c.money()
    p = f.period
    value = m.convert()
    deals = c.deals(user, f)
    months = _months(p.first, p.last)
    # Both halves keep to the period's days, so a custom period that cuts a month counts
    # (and links to) the same deals in that month.
    open_deals = deals.filter(
        status="open", expected_close__gte=p.first, expected_close__lte=p.last
    )
    expected: dict[Any, dict[str, Any]] = {
        row["month"]: dict(row)
        for row in open_deals.annotate(month=TruncMonth("expected_close"))
        .values("month")
        .annotate(
            n=Count("id"),
            best=Sum(value),
            weighted=Sum(value * Coalesce("probability", "stage__probability") / 100),
        )
    }
    won_deals = deals.filter(Q(status="won") & c.in_period("won_at", p))
    won: dict[Any, dict[str, Any]] = {
        row["month"].date() if hasattr(row["month"], "date") else row["month"]: dict(row)
        for row in won_deals.annotate(month=TruncMonth("won_at", tzinfo=p.tz))
        .values("month")
        .annotate(n=Count("id"), amount=Sum(value))
    }
    today = f.now.astimezone(p.tz).date()
    rows, links = [], []
    for month in months:
        e: dict[str, Any] = expected.get(month, {})
        w: dict[str, Any] = won.get(month, {})
        won_value = c.cents(w.get("amount"))
        weighted = c.cents(e.get("weighted"))
        rows.append(
            {
                "month": month.strftime("%b %Y"),
                "open_deals": e.get("n", 0),
                "best_case": c.cents(e.get("best")),
                "weighted": weighted,
                "won_deals": w.get("n", 0),
                "won": won_value,
                "expected_total": won_value + weighted,
                "past": month < today.replace(day=1),
            }
        )
        following = date(month.year + (month.month == 12), month.month % 12 + 1, 1)
        # The month's days within the period: [month_start, month_end).
        month_start = max(month, p.first)
        month_end = min(following, p.last + timedelta(days=1))
        links.append(
            {
                "open_deals": c.link(
                    "deals",
                    f,
                    status="open",
                    expected_close__gte=month_start.isoformat(),
                    expected_close__lt=month_end.isoformat(),
                    pipeline=f.pipeline,
                ),
                "won": c.link(
                    "deals",
                    f,
                    status="won",
                    pipeline=f.pipeline,
                    won_at__gte=c.stamp(_at(month_start, p)),
                    won_at__lt=c.stamp(_at(month_end, p)),
                ),
            }
        )
    totals: dict[str, Any] = {"month": "Total"}
    for name in ("open_deals", "won_deals"):
        totals[name] = sum(r[name] for r in rows)
    for name in ("best_case", "weighted", "won", "expected_total"):
        totals[name] = sum((r[name] for r in rows), c.cents(0))
    return Report(
        name="forecast",
        title="Forecast",
        description="Open deals by expected close month (best case, weighted) and what was won.",
        currency=m.base,
        filters=f.describe(),
        period=p,
        previous=f.previous,
        figures=[
            Figure("won", "Won so far", totals["won"], "money"),
            Figure("weighted", "Weighted forecast", totals["weighted"], "money"),
            Figure("best_case", "Best case", totals["best_case"], "money"),
            Figure("expected_total", "Won + weighted", totals["expected_total"], "money"),
        ],
        chart=Chart(
            "bar",
            [r["month"] for r in rows],
            [
                Series("Won", [float(r["won"]) for r in rows]),
                Series("Weighted", [float(r["weighted"]) for r in rows]),
                Series("Best case", [float(r["best_case"]) for r in rows], kind="line"),
            ],
            money=True,
        ),
        table=Table(
            [
                Column("month", "Month", "text"),
                Column("open_deals", "Open deals", "count"),
                Column("best_case", "Best case", "money"),
                Column("weighted", "Weighted", "money"),
                Column("won_deals", "Won deals", "count"),
                Column("won", "Won", "money"),
                Column("expected_total", "Won + weighted", "money"),
            ],
            [{k: v for k, v in r.items() if k != "past"} for r in rows],
            links,
            totals,
        ),
        notes=c.unconverted_notes(open_deals | won_deals, m),
    )


def _at(day: date, p: Any) -> Any:
    from datetime import datetime, time

    return datetime.combine(day, time.min, tzinfo=p.tz)


register(
    ReportDef(
        "forecast",
        "Forecast",
        "Expected closes by month, weighted and best case, against what was won.",
        build,
        default_period="this_quarter",
    )
)
