"""Won and lost deals of the period, by lost reason, owner, lead source or month: how many
were won and lost, their value, and the win rate. A deal counts by its close date (won date
or lost date) and its current status, so a reopened deal counts only once it closes again."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.db.models import Count, F, OuterRef, Q, Subquery, Sum
from django.db.models.functions import Coalesce, TruncMonth

from apps.accounts.models import User
from apps.deals.models import LostReason
from apps.leads.models import Lead, LeadSource

from ..base import Chart, Column, Figure, Report, Series, Table
from ..registry import ReportDef, register
from . import common as c

GROUPS = (
    ("reason", "Lost reason"),
    ("owner", "Owner"),
    ("source", "Lead source"),
    ("month", "Month"),
)


def build(user: Any, params: dict[str, Any], *, now: Any = None) -> Report:
    f = c.parse(user, params, now=now, groups=GROUPS)
    m = c.money()
    p = f.period
    value = m.convert()
    won, lost = (
        Q(status="won") & c.in_period("won_at", p),
        Q(status="lost") & c.in_period("lost_at", p),
    )
    deals = c.deals(user, f).filter(won | lost)
    drill: Callable[[Any], dict[str, Any] | None]
    if f.group == "reason":
        key: Any = F("lost_reason_id")
        names = {r.pk: r.name for r in LostReason.objects.all()}
        # Won deals have no lost reason: they share this row with losses nobody explained.
        label = lambda k: names.get(k, "No reason") if k else "Won, or no reason"  # noqa: E731
        drill = lambda k: {"lost_reason": k} if k else {"lost_reason__isnull": "true"}  # noqa: E731
    elif f.group == "owner":
        key = F("owner_id")
        people = {u.pk: u.get_full_name() or u.email for u in User.objects.all()}
        label = lambda k: people.get(k, "—")  # noqa: E731
        drill = lambda k: {"owner": k}  # noqa: E731
    elif f.group == "source":
        key = Subquery(
            Lead.all_objects.filter(converted_deal=OuterRef("pk"))
            .order_by("id")
            .values("source_id")[:1]
        )
        sources = {s.pk: s.name for s in LeadSource.objects.all()}
        label = lambda k: sources.get(k, "No source") if k else "No source"  # noqa: E731
        # The deals list cannot filter by the source of a deal's lead: no link, rather than
        # one to every deal closed in the period.
        drill = lambda k: None  # noqa: E731
    else:
        key = TruncMonth(
            # A deal's close date: won or lost, in the viewer's time zone.
            Coalesce("won_at", "lost_at"),
            tzinfo=p.tz,
        )
        label = lambda k: k.strftime("%b %Y") if k else "—"  # noqa: E731
        drill = lambda k: {"month": k}  # noqa: E731
    grouped = (
        deals.annotate(group_key=key)
        .values("group_key")
        .annotate(
            won=Count("id", filter=won),
            won_value=Sum(value, filter=won),
            lost=Count("id", filter=lost),
            lost_value=Sum(value, filter=lost),
        )
        .order_by("group_key")
    )
    rows, links = [], []
    for row in grouped:
        k = row["group_key"]
        rows.append(
            {
                "group": label(k),
                "won": row["won"],
                "won_value": c.cents(row["won_value"]),
                "lost": row["lost"],
                "lost_value": c.cents(row["lost_value"]),
                "win_rate": c.ratio(row["won"], row["won"] + row["lost"]),
            }
        )
        links.append(_cell_links(f, drill(k)))
    if f.group != "month":
        order = sorted(
            range(len(rows)), key=lambda i: (-(rows[i]["won"] + rows[i]["lost"]), rows[i]["group"])
        )
        rows, links = [rows[i] for i in order], [links[i] for i in order]
    won_n, lost_n = sum(r["won"] for r in rows), sum(r["lost"] for r in rows)
    totals = {
        "group": "Total",
        "won": won_n,
        "won_value": sum((r["won_value"] for r in rows), c.cents(0)),
        "lost": lost_n,
        "lost_value": sum((r["lost_value"] for r in rows), c.cents(0)),
        "win_rate": c.ratio(won_n, won_n + lost_n),
    }
    group_label = dict(GROUPS)[f.group]
    everything = _cell_links(f, {})
    return Report(
        name="won-lost",
        title="Won and lost deals",
        description=f"Deals closed in the period, by {group_label.lower()}.",
        currency=m.base,
        filters=f.describe(),
        period=p,
        previous=f.previous,
        figures=[
            Figure(
                "won",
                "Won",
                won_n,
                "count",
                link=everything["won"],
            ),
            Figure(
                "lost",
                "Lost",
                lost_n,
                "count",
                link=everything["lost"],
            ),
            Figure("won_value", "Won value", totals["won_value"], "money"),
            Figure("win_rate", "Win rate", totals["win_rate"], "percent"),
        ],
        chart=Chart(
            "stacked",
            [r["group"] for r in rows],
            [Series("Won", [r["won"] for r in rows]), Series("Lost", [r["lost"] for r in rows])],
        ),
        table=Table(
            [
                Column("group", group_label, "text"),
                Column("won", "Won", "count"),
                Column("won_value", "Won value", "money"),
                Column("lost", "Lost", "count"),
                Column("lost_value", "Lost value", "money"),
                Column("win_rate", "Win rate", "percent"),
            ],
            rows,
            links,
            totals,
        ),
        notes=c.unconverted_notes(deals, m),
    )


def _cell_links(f: c.Filters, extra: dict[str, Any] | None) -> dict[str, str]:
    """A row's won and lost deals: the period's, narrowed by `extra` (list filters), or,
    for a month row ({"month": its first moment}), the month's days within the period."""
    if extra is None:
        return {}
    p = f.period
    start, end = p.start, p.end
    if "month" in extra:
        first = extra.pop("month")
        following = datetime(first.year + (first.month == 12), first.month % 12 + 1, 1)
        start = max(start, first)
        end = min(end, following.replace(tzinfo=p.tz))
    pipeline = {"pipeline": f.pipeline} if f.pipeline is not None else {}
    found = {}
    for status, field in (("won", "won_at"), ("lost", "lost_at")):
        found[status] = c.link(
            "deals",
            f,
            status=status,
            **pipeline,
            **extra,
            **{f"{field}__gte": c.stamp(start), f"{field}__lt": c.stamp(end)},
        )
    return found


register(
    ReportDef(
        "won-lost",
        "Won and lost",
        "Closed deals by lost reason, owner, lead source or month, with win rates.",
        build,
        groups=GROUPS,
    )
)
