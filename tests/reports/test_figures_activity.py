"""The activity report against figures worked out by hand. Seen on 10 April 2026 12:00 UTC;
activities made through the activity services (done dates set with .update(): the services
stamp the current time), rep's unless said:

  B1  call     due 2 Apr 10:00   done, outcome Connected
  B2  call     due 3 Apr 10:00   done, outcome No answer
  B3  task     due 5 Apr 10:00   open: overdue
  B4  task     due 20 Apr 10:00  open, not yet due (rep2's)
  B5  meeting  8 Apr 09:00-10:00 done, no outcome (rep2's)
  B6  task     due 31 Mar 23:30 in New York (1 Apr 03:30 UTC), open: overdue
  B7  email    due 15 Mar 10:00  done
  B8  task     due 12 Apr 10:00  done ahead of time
"""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ValidationError

from apps.accounts.models import User
from apps.activities.models import Activity
from apps.activities.services import activity_complete, activity_create
from tests.reports.conftest import (
    NEW_YORK,
    at,
    build,
    client_as,
    figures,
    list_titles,
    name_of,
    rows,
)


@pytest.fixture
def activities(ctx: Any, people: Any) -> Any:
    rep, rep2 = people.rep, people.rep2

    def make(who: Any, kind: str, subject: str, when: Any, done: bool, outcome: str = ""):
        times = (
            {"start_at": when, "end_at": when.replace(hour=when.hour + 1)}
            if kind == "meeting"
            else {"due_at": when}
        )
        made = activity_create(actor=who, type=kind, subject=subject, **times)
        if done:
            activity_complete(actor=who, activity=made, outcome=outcome)
            Activity.objects.filter(pk=made.pk).update(done_at=when)
        return made

    make(rep, "call", "B1", at(4, 2, 10), True, "connected")
    make(rep, "call", "B2", at(4, 3, 10), True, "no_answer")
    make(rep, "task", "B3", at(4, 5, 10), False)
    make(rep2, "task", "B4", at(4, 20, 10), False)
    make(rep2, "meeting", "B5", at(4, 8, 9), True)
    make(rep, "task", "B6", at(3, 31, 23, 30, tz=NEW_YORK), False)
    make(rep, "email", "B7", at(3, 15, 10), True)
    make(rep, "task", "B8", at(4, 12, 10), True)
    return people


def row(group: str, total: int, done: int, open_: int, overdue: int, rate: Any) -> Any:
    return {
        "group": group,
        "total": total,
        "done": done,
        "open": open_,
        "overdue": overdue,
        "done_rate": rate,
    }


def test_activities_by_type(activities: Any, ctx: Any) -> None:
    r = build("activities", activities.admin, period="this_month")
    # April (UTC): B1-B6 and B8; B7 is March's.
    assert rows(r) == [
        # B3, B6 overdue; B4 open; B8 done.
        row("Task", 4, 1, 1, 2, 25.0),
        row("Call", 2, 2, 0, 0, 100.0),
        row("Meeting", 1, 1, 0, 0, 100.0),
    ]
    assert r.table is not None and r.table.totals == row("Total", 7, 4, 1, 2, 57.1)
    assert figures(r) == {"total": 7, "done": 4, "overdue": 2, "done_rate": 57.1}
    client = client_as(ctx.tenant, activities.admin)
    task = r.table.links[0]
    assert list_titles(client, task["total"]) == ["B3", "B4", "B6", "B8"]
    assert list_titles(client, task["done"]) == ["B8"]
    assert list_titles(client, task["overdue"]) == ["B3", "B6"]
    assert len(list_titles(client, r.figures[0].link)) == 7
    assert len(list_titles(client, r.figures[1].link)) == 4


def test_activities_by_assignee_and_outcome(activities: Any, ctx: Any) -> None:
    r = build("activities", activities.admin, period="this_month", group="owner")
    assert rows(r) == [
        row(name_of(activities.rep), 5, 3, 0, 2, 60.0),  # B1, B2, B3, B6, B8
        row(name_of(activities.rep2), 2, 1, 1, 0, 50.0),  # B4, B5
    ]
    r = build("activities", activities.admin, period="this_month", group="outcome")
    assert rows(r) == [
        row("No outcome", 5, 2, 1, 2, 40.0),  # B3, B4, B5, B6, B8
        row("Connected", 1, 1, 0, 0, 100.0),
        row("No answer", 1, 1, 0, 0, 100.0),
    ]
    client = client_as(ctx.tenant, activities.admin)
    assert r.table is not None
    none = r.table.links[0]
    assert list_titles(client, none["total"]) == ["B3", "B4", "B5", "B6", "B8"]
    assert list_titles(client, none["done"]) == ["B5", "B8"]
    assert list_titles(client, none["overdue"]) == ["B3", "B6"]


def test_activities_in_the_viewers_time_zone(activities: Any) -> None:
    User.objects.filter(pk=activities.admin.pk).update(time_zone="America/New_York")
    activities.admin.refresh_from_db()
    # B6 (31 March 23:30 in New York) is March's: April has 6, one overdue.
    r = build("activities", activities.admin, period="this_month")
    assert figures(r) == {"total": 6, "done": 4, "overdue": 1, "done_rate": 66.7}
    r = build("activities", activities.admin, period="last_month")
    assert rows(r) == [row("Email", 1, 1, 0, 0, 100.0), row("Task", 1, 0, 0, 1, 0.0)]


def test_activities_permissions_filters_and_empty_period(activities: Any) -> None:
    r = build("activities", activities.rep2, period="this_month")
    assert figures(r) == {"total": 2, "done": 1, "overdue": 0, "done_rate": 50.0}
    r = build("activities", activities.admin, period="this_month", owner=str(activities.rep.pk))
    assert figures(r) == {"total": 5, "done": 3, "overdue": 2, "done_rate": 60.0}
    r = build("activities", activities.admin, period="custom", start="2026-01-01", end="2026-01-31")
    assert rows(r) == []
    assert figures(r) == {"total": 0, "done": 0, "overdue": 0, "done_rate": None}


def test_activities_refuse_an_unknown_grouping(activities: Any) -> None:
    with pytest.raises(ValidationError) as raised:
        build("activities", activities.admin, group="mood")
    assert raised.value.message_dict == {
        "group": ["Unknown grouping 'mood': use one of type, owner, outcome."]
    }
