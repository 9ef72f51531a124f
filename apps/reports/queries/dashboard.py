"""The sales dashboard: the figures a manager opens Kestrel for, for a period compared with
the one before, each linking to the records behind it.

- Open pipeline and weighted pipeline are "now" (not bound to the period): the value of the
  open deals, and that value times each deal's probability (its stage's when it has none).
- Won: deals whose status is won, by their won date (a deal lost and later won counts once,
  in the period it was won; a reopened deal counts nowhere until it closes again).
- Win rate: won / (won + lost), by the close date. Average deal size: won value / won deals.
- Average sales cycle: days from creation to the won date, over the deals won.
- New leads: leads created in the period. Lead-to-deal conversion: of those, the share
  converted into a deal (so far).
- Activities done: by their done date. Overdue: open activities whose time has passed (now).
"""

from __future__ import annotations

from typing import Any

from django.db.models import Avg, Count, DurationField, ExpressionWrapper, F, Q, Sum
from django.db.models.functions import Coalesce

from ..base import Figure, Report
from ..registry import ReportDef, register
from . import common as c


def build(user: Any, params: dict[str, Any], *, now: Any = None) -> Report:
    f = c.parse(user, params, now=now)
    m = c.money()
    p, q = f.period, f.previous
    value = m.convert()
    won_now, won_before = (
        Q(status="won") & c.in_period("won_at", p),
        Q(status="won") & c.in_period("won_at", q),
    )
    lost_now, lost_before = (
        Q(status="lost") & c.in_period("lost_at", p),
        Q(status="lost") & c.in_period("lost_at", q),
    )
    # Deal size averages over the deals with a money value in the reporting currency: a won
    # deal in a currency without a rate adds nothing to the won value, so it must not
    # count in the divisor either.
    priced = Q(currency__in=m.known())
    cycle = ExpressionWrapper(F("won_at") - F("created_at"), output_field=DurationField())
    deals = c.deals(user, f)
    d = deals.filter(
        Q(status="open")
        | Q(won_at__gte=q.start, won_at__lt=p.end)
        | Q(lost_at__gte=q.start, lost_at__lt=p.end)
    ).aggregate(
        open_value=Sum(value, filter=Q(status="open")),
        open_count=Count("id", filter=Q(status="open")),
        weighted=Sum(
            value * Coalesce("probability", "stage__probability") / 100, filter=Q(status="open")
        ),
        won_value=Sum(value, filter=won_now),
        won_value_before=Sum(value, filter=won_before),
        won=Count("id", filter=won_now),
        won_before=Count("id", filter=won_before),
        won_priced=Count("id", filter=won_now & priced),
        won_priced_before=Count("id", filter=won_before & priced),
        lost=Count("id", filter=lost_now),
        lost_before=Count("id", filter=lost_before),
        cycle=Avg(cycle, filter=won_now),
        cycle_before=Avg(cycle, filter=won_before),
    )
    leads = c.leads(user, f).filter(created_at__gte=q.start, created_at__lt=p.end)
    converted = Q(converted_deal__isnull=False)
    lead = leads.aggregate(
        new=Count("id", filter=c.in_period("created_at", p)),
        new_before=Count("id", filter=c.in_period("created_at", q)),
        converted=Count("id", filter=c.in_period("created_at", p) & converted),
        converted_before=Count("id", filter=c.in_period("created_at", q) & converted),
    )
    activities = c.activities(user, f)
    # Two queries, each on its own partial index (done by done date; open by time), rather
    # than one OR that reads every activity.
    act = activities.filter(done=True, done_at__gte=q.start, done_at__lt=p.end).aggregate(
        # Counting done_at (never null here), not id: the done-date index alone answers
        # it, without reading the table.
        n_done=Count("done_at", filter=c.in_period("done_at", p)),
        n_done_before=Count("done_at", filter=c.in_period("done_at", q)),
    )
    act["n_overdue"] = activities.filter(done=False, scheduled_at__lt=f.now).count()

    def average(total: Any, count: int) -> Any:
        return c.cents(total / count) if count and total is not None else None

    def days(duration: Any) -> float | None:
        return round(duration.total_seconds() / 86400, 1) if duration is not None else None

    pipeline = {"pipeline": f.pipeline} if f.pipeline is not None else {}
    won_link = c.link("deals", f, status="won", **pipeline, **c.between("won_at", p))
    figures = [
        Figure(
            "open_pipeline",
            "Open pipeline",
            c.cents(d["open_value"]),
            "money",
            link=c.link("deals", f, status="open", **pipeline),
            help=f"{d['open_count']} open deals, now.",
        ),
        Figure(
            "weighted_pipeline",
            "Weighted pipeline",
            c.cents(d["weighted"]),
            "money",
            link=c.link("deals", f, status="open", **pipeline),
            help="Each open deal's value times its probability (its stage's when it has none).",
        ),
        Figure(
            "won_value",
            "Won",
            c.cents(d["won_value"]),
            "money",
            previous=c.cents(d["won_value_before"]),
            link=won_link,
            help=f"{d['won']} deals won in the period.",
        ),
        Figure(
            "win_rate",
            "Win rate",
            c.ratio(d["won"], d["won"] + d["lost"]),
            "percent",
            previous=c.ratio(d["won_before"], d["won_before"] + d["lost_before"]),
            link=c.link("deals", f, status="lost", **pipeline, **c.between("lost_at", p)),
            help=f"{d['won']} won, {d['lost']} lost in the period.",
        ),
        Figure(
            "average_deal",
            "Average deal size",
            average(d["won_value"], d["won_priced"]),
            "money",
            previous=average(d["won_value_before"], d["won_priced_before"]),
            link=won_link,
            help="Won value divided by the number of deals won.",
        ),
        Figure(
            "sales_cycle",
            "Average sales cycle",
            days(d["cycle"]),
            "days",
            previous=days(d["cycle_before"]),
            link=won_link,
            help="Days from a deal's creation to its won date.",
        ),
        Figure(
            "new_leads",
            "New leads",
            lead["new"],
            "count",
            previous=lead["new_before"],
            link=c.link("leads", f, **c.between("created_at", p)),
        ),
        Figure(
            "lead_conversion",
            "Lead-to-deal conversion",
            c.ratio(lead["converted"], lead["new"]),
            "percent",
            previous=c.ratio(lead["converted_before"], lead["new_before"]),
            link=c.link("leads", f, converted_deal__isnull="false", **c.between("created_at", p)),
            help=f"{lead['converted']} of the period's new leads became deals.",
        ),
        Figure(
            "activities_done",
            "Activities done",
            act["n_done"],
            "count",
            previous=act["n_done_before"],
            link=c.link("activities", f, done="true", **c.between("done_at", p)),
        ),
        Figure(
            "activities_overdue",
            "Overdue activities",
            act["n_overdue"],
            "count",
            link=c.link("activities", f, done="false", scheduled_at__lt=c.stamp(f.now)),
            help="Open activities whose time has passed, now.",
        ),
    ]
    return Report(
        name="dashboard",
        title="Sales dashboard",
        description="The period's sales figures, compared with the period before.",
        currency=m.base,
        filters=f.describe(),
        period=p,
        previous=q,
        figures=figures,
        notes=c.unconverted_notes(
            deals.filter(Q(status="open") | Q(won_at__gte=q.start, won_at__lt=p.end)), m
        ),
    )


register(
    ReportDef(
        "dashboard",
        "Sales dashboard",
        "Pipeline, wins, win rate, deal size, sales cycle, leads and activities.",
        build,
    )
)
