"""Reading deals: every list, board, detail and export goes through `deal_list`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import (
    Count,
    DecimalField,
    Exists,
    ExpressionWrapper,
    F,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce
from django.http import Http404
from django.utils import timezone
from django.utils.dateparse import parse_date

from apps.companies.models import Company
from apps.core import visibility
from apps.records import querying, registry
from apps.records import search as record_search
from apps.records.models import Tag

from .models import Deal, DealStatus, Pipeline, Stage, StageKind


def deal_list(
    *,
    user: Any,
    search: str = "",
    params: Mapping[str, Any] | None = None,
    related: bool = True,
    eager: bool = False,
) -> QuerySet[Deal]:
    """The deals `user` may see, filtered and ordered by `params`."""
    deals = Deal.objects.defer("search_text").select_related("stage", "pipeline")
    if related:
        deals = deals.select_related("owner", "lost_reason").prefetch_related(
            Prefetch("tags", queryset=Tag.objects.order_by("name")), "contacts", "companies"
        )
    deals = visibility.visible(deals, user, eager=eager)
    if search:
        deals = record_search.matching(deals, search)
    if params:
        deals = querying.apply(deals, registry.get("deal"), params, user=user)
    return deals


def deal_get(*, user: Any, pk: Any, related: bool = True) -> Deal:
    """One deal `user` may see; 404 (never 403) for anything else. `related=False` reads
    only its own columns, stage and pipeline (as `deal_list`)."""
    try:
        return deal_list(user=user, related=related).get(pk=int(pk))
    except (Deal.DoesNotExist, ValueError, TypeError, OverflowError):
        raise Http404("No such deal.") from None


# The board -------------------------------------------------------------------------------

BOARD_PAGE = 25
# Won and Lost columns show the deals closed in this many days (their history grows forever;
# reports cover it), so a board costs what its open deals cost.
BOARD_CLOSED_DAYS = 30
BOARD_FILTERS = ("owner", "tag", "close_from", "close_to", "q")


@dataclass
class Column:
    stage: Stage
    count: int = 0
    totals: list[dict[str, Any]] = field(default_factory=list)  # per currency
    cards: list[Deal] = field(default_factory=list)
    has_more: bool = False

    @property
    def next_offset(self) -> int:
        return len(self.cards)


def pipeline_get(pk: Any) -> Pipeline:
    try:
        return Pipeline.objects.get(pk=int(pk))
    except (Pipeline.DoesNotExist, ValueError, TypeError, OverflowError):
        raise Http404("No such pipeline.") from None


def board_params(data: Mapping[str, Any]) -> dict[str, str]:
    """The board's filters from a request's GET (or POST) data, empty ones left out."""
    return {name: str(data.get(name, "")).strip() for name in BOARD_FILTERS if data.get(name)}


def board_deals(*, user: Any, pipeline: Pipeline, filters: Mapping[str, str]) -> QuerySet[Deal]:
    """The deals of `pipeline` that `user` may see, narrowed by the board's filters:
    `owner` (an id or "me"), `tag`, `close_from`/`close_to` (expected close dates), `q`."""
    params: dict[str, str] = {}
    if filters.get("owner"):
        params["owner"] = filters["owner"]
    for name, op in (("close_from", "gte"), ("close_to", "lte")):
        if filters.get(name):
            if parse_date(filters[name]) is None:
                raise ValidationError({name: "Dates are written like 2026-12-31."})
            params[f"expected_close__{op}"] = filters[name]
    deals = deal_list(user=user, related=False, search=filters.get("q", ""), params=params)
    if filters.get("tag"):
        # EXISTS rather than a join: a join would count a deal once per matching tag.
        tagged = Deal.tags.through.objects.filter(
            deal_id=OuterRef("pk"), tag__name__iexact=filters["tag"]
        )
        deals = deals.filter(Exists(tagged))
    recently = timezone.now() - timedelta(days=BOARD_CLOSED_DAYS)
    return deals.filter(pipeline=pipeline).filter(
        Q(status=DealStatus.OPEN)
        | Q(status__in=[DealStatus.WON, DealStatus.LOST], stage_entered_at__gte=recently)
    )


def _weighted() -> Any:
    probability = Coalesce(F("probability"), F("stage__probability"))
    return ExpressionWrapper(
        F("value") * probability / Value(Decimal(100)),
        output_field=DecimalField(max_digits=20, decimal_places=2),
    )


def board_totals(deals: QuerySet[Deal]) -> dict[int, dict[str, Any]]:
    """Per stage: the count, and value and weighted value per currency, of ALL `deals` (one
    aggregate query, whatever the number of deals)."""
    rows = (
        deals.order_by()
        .values("stage_id", "currency")
        .annotate(n=Count("pk"), total=Sum("value"), weighted_total=Sum(_weighted()))
        .order_by("stage_id", "-total", "currency")
    )
    totals: dict[int, dict[str, Any]] = {}
    for row in rows:
        entry = totals.setdefault(row["stage_id"], {"count": 0, "money": []})
        entry["count"] += row["n"]
        entry["money"].append(
            {
                "currency": row["currency"],
                "value": row["total"] or Decimal(0),
                "weighted": (row["weighted_total"] or Decimal(0)).quantize(Decimal("0.01")),
            }
        )
    return totals


def _with_card_data(deals: QuerySet[Deal]) -> QuerySet[Deal]:
    return deals.select_related("owner", "stage").prefetch_related(
        Prefetch("tags", queryset=Tag.objects.order_by("name")),
        Prefetch("companies", queryset=Company.objects.only("pk", "name")),
    )


def _column(deals: QuerySet[Deal], stage: Stage) -> QuerySet[Deal]:
    """One column's deals in card order: open stages by position (where cards were dropped);
    Won and Lost most recently closed first, along the (pipeline, status, stage_entered_at)
    index, so that years of closed deals are never walked."""
    if stage.kind == StageKind.OPEN:
        return deals.filter(stage=stage).order_by("position", "id")
    return deals.filter(stage=stage, status=stage.kind).order_by("-stage_entered_at", "-id")


def _card_order(deal: Deal) -> tuple[Any, ...]:
    """The order of `_column`, for cards already read."""
    if deal.status == DealStatus.OPEN:
        return (deal.stage_id, deal.position, deal.pk)
    entered = deal.stage_entered_at.timestamp() if deal.stage_entered_at else 0.0
    return (deal.stage_id, -entered, -deal.pk)


def board(*, user: Any, pipeline: Pipeline, filters: Mapping[str, str]) -> list[Column]:
    """Every column of `pipeline`'s board: totals over all matching deals, and the first
    `BOARD_PAGE` cards of each, in a fixed number of queries."""
    stages = list(pipeline.stages.all())
    deals = board_deals(user=user, pipeline=pipeline, filters=filters)
    totals = board_totals(deals)
    # Each column's first cards by its own LIMIT on an index in card order, all columns in
    # one UNION ALL: a few index entries per column however long the column is.
    firsts = [
        _column(deals, stage).values_list("pk", flat=True)[: BOARD_PAGE + 1] for stage in stages
    ]
    ids = list(firsts[0].union(*firsts[1:], all=True)) if firsts else []
    cards: dict[int, list[Deal]] = {s.pk: [] for s in stages}
    shown = sorted(_with_card_data(Deal.objects.filter(pk__in=ids)), key=_card_order)
    mark_view_only(user, shown)
    for deal in shown:
        cards.setdefault(deal.stage_id, []).append(deal)
    columns = []
    for stage in stages:
        column_cards = cards.get(stage.pk, [])
        entry = totals.get(stage.pk, {"count": 0, "money": []})
        columns.append(
            Column(
                stage=stage,
                count=entry["count"],
                totals=entry["money"],
                cards=column_cards[:BOARD_PAGE],
                has_more=len(column_cards) > BOARD_PAGE,
            )
        )
    return columns


def board_column_page(
    *, user: Any, stage: Stage, filters: Mapping[str, str], offset: int
) -> tuple[list[Deal], bool]:
    """The next cards of one column (after `offset`), and whether there are more."""
    deals = _column(board_deals(user=user, pipeline=stage.pipeline, filters=filters), stage)
    page = list(_with_card_data(deals)[offset : offset + BOARD_PAGE + 1])
    mark_view_only(user, page[:BOARD_PAGE])
    return page[:BOARD_PAGE], len(page) > BOARD_PAGE


def mark_view_only(user: Any, deals: list[Deal]) -> None:
    """Flag the cards `user` may see but not move (`deal.view_only`): the board draws them
    without a drag handle or a Move menu, in at most two queries for the whole page."""
    changeable = visibility.changeable_ids(user, deals)
    for deal in deals:
        deal.view_only = deal.pk not in changeable  # type: ignore[attr-defined]


def position_at(*, user: Any, deal: Deal, stage: Stage, index: int) -> float:
    """The sort position that puts `deal` at `index` among the cards of `stage` that `user`
    sees (0 = top): halfway between its new neighbours."""
    others = (
        deal_list(user=user, related=False)
        .filter(stage=stage)
        .exclude(pk=deal.pk)
        .order_by("position", "id")
    )
    index = max(0, index)
    neighbours = list(others.values_list("position", flat=True)[max(0, index - 1) : index + 1])
    if index == 0:
        return (neighbours[0] - 1.0) if neighbours else 0.0
    if len(neighbours) == 2:
        return (neighbours[0] + neighbours[1]) / 2
    if neighbours:
        return neighbours[0] + 1.0
    # Beyond the end of the column (cards the user has not loaded): after the last one.
    last = others.reverse().values_list("position", flat=True).first()
    return 0.0 if last is None else last + 1.0


def is_rotting(deal: Deal, now: Any = None) -> bool:
    """An open deal left in its stage longer than the stage's rotting days."""
    days = deal.stage.rotting_days
    if deal.status != "open" or not days or deal.stage_entered_at is None:
        return False
    return deal.stage_entered_at < (now or timezone.now()) - timedelta(days=days)


def record_deals(*, user: Any, record: Any) -> QuerySet[Deal]:
    """The deals linked to a contact or company that `user` may see, open first."""
    deals = deal_list(user=user, related=False).select_related("stage", "owner")
    name = record._meta.model_name
    linked = deals.filter(contacts=record) if name == "contact" else deals.filter(companies=record)
    return linked.order_by("status", "-created_at", "-id")
