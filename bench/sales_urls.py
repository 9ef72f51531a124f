"""The tenant URLs plus the naive baselines `bench/sales.py` measures the board and the calendar
against. Both go through the same middleware, session authentication and permission
selectors as the product's views; what they leave out is the product's work to stay small:

- deals-board-naive:   every open deal of the pipeline read through `deal_list` (with its
                       prefetches of owner, tags, contacts and companies), grouped into columns
                       and summed (count, value, weighted value) in Python, and every card
                       rendered: a board without per-column paging or totals in SQL;
- calendar-naive:      the user's activities of the range found by comparing dates
                       (`scheduled_at__date`), which the (owner, scheduled_at) index cannot
                       answer as a range, so all of the user's activities are read and filtered,
                       and each event's assignee read by a query of its own (no select_related).

A case may also name a what-if here: the product's own view with one change swapped in for
the request (`unittest.mock.patch.object` on its selector), to measure a proposed fix before
making it (how the board's per-column LIMIT queries were measured before c625080).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404
from django.template import engines
from django.urls import include, path
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from apps.activities.models import Activity
from apps.core import visibility
from apps.deals.models import Pipeline
from apps.deals.selectors import deal_list

BOARD = engines["django"].from_string(
    """<!doctype html><html><head><title>{{ pipeline.name }}</title></head><body>
<main class="board">{% for column in columns %}
<section class="board-column"><h2>{{ column.stage.name }}</h2>
<p>{{ column.count }} deals, {{ column.value }} (weighted {{ column.weighted }})</p>
<ul>{% for deal in column.cards %}
<li class="card{% if deal.pk in rotting %} rotting{% endif %}" data-deal="{{ deal.pk }}">
<a href="/deals/{{ deal.pk }}/">{{ deal.title }}</a>
<span>{{ deal.value }} {{ deal.currency }}</span> <span>{{ deal.owner }}</span>
{% for company in deal.companies.all %}<span>{{ company.name }}</span>{% endfor %}
{% for tag in deal.tags.all %}<span class="tag">{{ tag.name }}</span>{% endfor %}
{% if deal.expected_close %}<time>{{ deal.expected_close }}</time>{% endif %}</li>
{% endfor %}</ul></section>{% endfor %}
</main></body></html>"""
)


@login_required
def board_naive(request: HttpRequest, pipeline_id: int) -> HttpResponse:
    pipeline = get_object_or_404(Pipeline, pk=pipeline_id)
    stages = [stage for stage in pipeline.stages.all() if stage.kind == "open"]
    deals = deal_list(user=request.user).filter(pipeline=pipeline, status="open")
    columns: dict[int, dict[str, Any]] = {
        stage.pk: {"stage": stage, "cards": [], "count": 0, "value": Decimal(0)} for stage in stages
    }
    weighted: dict[int, Decimal] = defaultdict(Decimal)
    rotting: set[int] = set()
    now = timezone.now()
    for deal in deals.order_by("stage__order", "position", "id"):
        days = deal.stage.rotting_days
        if days and deal.stage_entered_at and deal.stage_entered_at < now - timedelta(days=days):
            rotting.add(deal.pk)
        column = columns[deal.stage_id]
        column["cards"].append(deal)
        column["count"] += 1
        column["value"] += deal.value
        weighted[deal.stage_id] += deal.weighted_value
    for stage_id, column in columns.items():
        column["weighted"] = weighted[stage_id]
    return HttpResponse(
        BOARD.render(
            {"pipeline": pipeline, "columns": list(columns.values()), "rotting": rotting}, request
        )
    )


@login_required
def calendar_naive(request: HttpRequest) -> JsonResponse:
    start = parse_datetime(request.GET["start"])
    end = parse_datetime(request.GET["end"])
    assert start is not None and end is not None
    activities = (
        visibility.visible(Activity.objects.all(), request.user)
        .filter(
            owner_id=request.user.pk,
            scheduled_at__date__gte=start.date(),
            scheduled_at__date__lt=end.date(),
        )
        .order_by("scheduled_at", "id")
    )
    events = [
        {
            "id": activity.pk,
            "title": activity.subject,
            "start": (activity.start_at or activity.scheduled_at).isoformat(),
            "end": activity.end_at.isoformat() if activity.end_at else None,
            "allDay": activity.all_day,
            "type": activity.type,
            "done": activity.done,
            "owner": str(activity.owner),
            "url": f"/activities/{activity.pk}/",
        }
        for activity in activities
    ]
    return JsonResponse(events, safe=False)


urlpatterns = [
    path("bench/deals-board-naive/<int:pipeline_id>/", board_naive),
    path("bench/calendar-naive/", calendar_naive),
    path("", include("config.urls_tenant")),
]
