"""Activities planned in the period (by their time), by type, assignee or outcome: how many
were done, how many are still open and not yet due, and how many are overdue (open, and their
time has passed)."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, F, Q

from apps.accounts.models import User
from apps.activities.models import ActivityType, Outcome

from ..base import Chart, Column, Figure, Report, Series, Table
from ..registry import ReportDef, register
from . import common as c

GROUPS = (("type", "Type"), ("owner", "Assignee"), ("outcome", "Outcome"))


def build(user: Any, params: dict[str, Any], *, now: Any = None) -> Report:
    f = c.parse(user, params, now=now, groups=GROUPS)
    p = f.period
    activities = c.activities(user, f).filter(c.in_period("scheduled_at", p))
    done, overdue = Q(done=True), Q(done=False, scheduled_at__lt=f.now)
    grouped = (
        activities.annotate(
            group_key=F({"type": "type", "owner": "owner_id", "outcome": "outcome"}[f.group])
        )
        .values("group_key")
        .annotate(
            # Counting a covered column (never null), not the id: the covering indexes answer
            # without reading the table.
            total=Count("*"),
            n_done=Count("scheduled_at", filter=done),
            n_overdue=Count("scheduled_at", filter=overdue),
        )
    )
    if f.group == "type":
        names: dict[Any, str] = dict(ActivityType.choices)
        param = "type"
    elif f.group == "outcome":
        names = {**dict(Outcome.choices), "": "No outcome"}
        param = "outcome"
    else:
        names = {u.pk: u.get_full_name() or u.email for u in User.objects.all()}
        param = "owner"
    rows, links = [], []
    for row in grouped:
        k = row["group_key"]
        rows.append(
            {
                "group": names.get(k, str(k)),
                "total": row["total"],
                "done": row["n_done"],
                "open": row["total"] - row["n_done"] - row["n_overdue"],
                "overdue": row["n_overdue"],
                "done_rate": c.ratio(row["n_done"], row["total"]),
            }
        )
        drill = {param: k} if k != "" else {f"{param}__isnull": "true"}
        base = {**drill, **c.between("scheduled_at", p)}
        links.append(
            {
                "total": c.link("activities", f, **base),
                "done": c.link("activities", f, done="true", **base),
                "overdue": c.link(
                    "activities",
                    f,
                    done="false",
                    **drill,
                    scheduled_at__gte=c.stamp(p.start),
                    scheduled_at__lt=c.stamp(min(p.end, f.now)),
                ),
            }
        )
    order = sorted(range(len(rows)), key=lambda i: (-rows[i]["total"], rows[i]["group"]))
    rows, links = [rows[i] for i in order], [links[i] for i in order]
    totals: dict[str, Any] = {"group": "Total"}
    for name in ("total", "done", "open", "overdue"):
        totals[name] = sum(r[name] for r in rows)
    totals["done_rate"] = c.ratio(totals["done"], totals["total"])
    label = dict(GROUPS)[f.group]
    everything = c.between("scheduled_at", p)
    return Report(
        name="activities",
        title="Activities",
        description=f"Activities planned in the period, by {label.lower()}: done and overdue.",
        currency=c.money().base,
        filters=f.describe(),
        period=p,
        previous=f.previous,
        figures=[
            Figure(
                "total",
                "Planned",
                totals["total"],
                "count",
                link=c.link("activities", f, **everything),
            ),
            Figure(
                "done",
                "Done",
                totals["done"],
                "count",
                link=c.link("activities", f, done="true", **everything),
            ),
            Figure("overdue", "Overdue", totals["overdue"], "count"),
            Figure("done_rate", "Done", totals["done_rate"], "percent"),
        ],
        chart=Chart(
            "stacked",
            [r["group"] for r in rows],
            [
                Series("Done", [r["done"] for r in rows]),
                Series("Open", [r["open"] for r in rows]),
                Series("Overdue", [r["overdue"] for r in rows]),
            ],
        ),
        table=Table(
            [
                Column("group", label, "text"),
                Column("total", "Planned", "count"),
                Column("done", "Done", "count"),
                Column("open", "Open, not yet due", "count"),
                Column("overdue", "Overdue", "count"),
                Column("done_rate", "Done", "percent"),
            ],
            rows,
            links,
            totals,
        ),
    )


register(
    ReportDef(
        "activities",
        "Activities",
        "Activities by type, assignee or outcome: done against overdue.",
        build,
        groups=GROUPS,
    )
)
