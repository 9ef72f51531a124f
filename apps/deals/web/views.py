"""Deal pages: the shared record pages (apps.records.web) configured for deals, the kanban
board with its per-column paging and the move endpoint the board posts to."""

from __future__ import annotations

from dataclasses import replace
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.html import format_html_join
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from apps.accounts.models import User
from apps.companies.models import Company
from apps.companies.selectors import company_list
from apps.contacts.models import Contact
from apps.contacts.selectors import contact_list
from apps.core import visibility
from apps.records.merging import MergeSpec
from apps.records.models import Tag
from apps.records.web.forms import RecordForm, ShareForm
from apps.records.web.views import RecordWeb, _refused

from .. import selectors, services
from ..models import Deal, LostReason, Pipeline, Stage, StageKind

CHOICE_LIMIT = 500


def _stage_choices() -> list[tuple[str, list[tuple[int, str]]]]:
    groups: dict[int, tuple[str, list[tuple[int, str]]]] = {}
    for stage in Stage.objects.select_related("pipeline").filter(pipeline__archived=False):
        groups.setdefault(stage.pipeline_id, (stage.pipeline.name, []))[1].append(
            (stage.pk, stage.name)
        )
    return list(groups.values())


class DealForm(RecordForm):
    entity = "deal"
    title = forms.CharField(max_length=200)
    value = forms.DecimalField(max_digits=14, decimal_places=2, min_value=0, required=False)
    currency = forms.CharField(
        max_length=3, min_length=3, initial="USD", help_text="Three letters, e.g. EUR."
    )
    stage = forms.TypedChoiceField(
        label="Pipeline and stage", coerce=int, help_text="Each group is one pipeline."
    )
    probability = forms.IntegerField(
        min_value=0, max_value=100, required=False, help_text="Empty: the stage's probability."
    )
    expected_close = forms.DateField(
        label="Expected close date", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    owner = forms.ModelChoiceField(queryset=User.objects.filter(is_active=True), required=False)
    contacts = forms.TypedMultipleChoiceField(coerce=int, required=False)
    companies = forms.TypedMultipleChoiceField(coerce=int, required=False)
    lost_reason = forms.ModelChoiceField(
        queryset=LostReason.objects.filter(archived=False),
        required=False,
        help_text="When the stage is a lost one.",
    )
    lost_note = forms.CharField(max_length=500, required=False)

    field_order = ["title", "value", "currency", "stage", "probability", "expected_close"]

    def __init__(self, *args: Any, record: Any = None, user: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, record=record, **kwargs)
        self.fields["stage"].choices = _stage_choices()  # type: ignore[attr-defined]
        if record is None:
            default = services.pipeline_default()
            first = default.stages.filter(kind=StageKind.OPEN).first()
            self.initial.setdefault("stage", first.pk if first else None)
        people = contact_list(user=user, related=False) if user else Contact.objects.none()
        firms = company_list(user=user) if user else Company.objects.none()
        self.fields["contacts"].choices = [  # type: ignore[attr-defined]
            (c.pk, str(c)) for c in people.order_by("last_name", "first_name")[:CHOICE_LIMIT]
        ]
        self.fields["companies"].choices = [  # type: ignore[attr-defined]
            (c.pk, c.name) for c in firms.order_by("name")[:CHOICE_LIMIT]
        ]
        if record is not None:
            for name in (
                "title",
                "value",
                "currency",
                "probability",
                "expected_close",
                "lost_note",
            ):
                self.initial[name] = getattr(record, name)
            self.initial["stage"] = record.stage_id
            self.initial["owner"] = record.owner_id
            self.initial["lost_reason"] = record.lost_reason_id
            self.initial["contacts"] = [c.pk for c in record.contacts.all()]
            self.initial["companies"] = [c.pk for c in record.companies.all()]


def _form_to_service(form: DealForm) -> dict[str, Any]:
    data = form.cleaned_data
    kwargs: dict[str, Any] = {
        name: data[name]
        for name in ("title", "value", "currency", "stage", "probability", "expected_close")
    }
    kwargs["contacts"] = data["contacts"]
    kwargs["companies"] = data["companies"]
    if data.get("owner"):
        kwargs["owner"] = data["owner"]
    kwargs["lost_reason"] = data.get("lost_reason")
    kwargs["lost_note"] = data.get("lost_note", "")
    kwargs["tags"] = form.tag_names()
    kwargs["custom_fields"] = form.custom_values()
    return kwargs


def _create(*, actor: Any, allow_duplicate: bool = False, **kwargs: Any) -> Deal:
    if not Stage.objects.filter(pk=kwargs.get("stage") or 0, kind=StageKind.LOST).exists():
        kwargs.pop("lost_reason", None)
        kwargs.pop("lost_note", None)
    return services.deal_create(actor=actor, allow_duplicate=allow_duplicate, **kwargs)


def _update(*, actor: Any, deal: Deal, allow_duplicate: bool = True, **kwargs: Any) -> Deal:
    if not Stage.objects.filter(pk=kwargs.get("stage") or 0, kind=StageKind.LOST).exists():
        kwargs.pop("lost_reason", None)
        kwargs.pop("lost_note", None)
    return services.deal_update(actor=actor, deal=deal, **kwargs)


def _merge(**kwargs: Any) -> Any:
    raise ValidationError("Deals cannot be merged.")


def _merge_spec() -> MergeSpec:
    return MergeSpec(entity="deal", model=Deal, fields=["title", "value"], related=[])


def move_menu(stages: list[Stage]) -> dict[str, Any]:
    """The options of the cards' "Move to…" menus, rendered once per page rather than once
    per card (a board draws up to 25 cards in every column)."""
    reasons = LostReason.objects.filter(archived=False)
    return {
        "stages": stages,
        "lost_reasons": reasons,
        "stage_options": format_html_join(
            "", '<option value="{}">{}</option>', ((s.pk, s.name) for s in stages)
        ),
        "reason_options": format_html_join(
            "", '<option value="{}">{}</option>', ((r.pk, r.name) for r in reasons)
        ),
    }


def _detail_extra(request: HttpRequest, deal: Any) -> dict[str, Any]:
    return {
        "share_form": ShareForm(),
        "stage_changes": deal.stage_changes.select_related("from_stage", "to_stage", "changed_by")[
            :50
        ],
        "rotting": selectors.is_rotting(deal),
        "move_stages": list(deal.pipeline.stages.all()),
    }


WEB = RecordWeb(
    key="deal",
    form_class=DealForm,
    select=lambda user, params: selectors.deal_list(user=user, params=params),
    get=lambda user, pk: selectors.deal_get(user=user, pk=pk),
    create=_create,
    update=_update,
    delete=services.deal_delete,
    merge=_merge,
    merge_spec=_merge_spec,
    duplicate_pairs=lambda user: [],
    mergeable=False,
    form_to_service=_form_to_service,
    record_kwarg="deal",
    detail_extra=_detail_extra,
)


def web_for(user: Any, query: Any = None) -> RecordWeb:
    """`WEB` with a form that offers the contacts and companies `user` may see (the shared
    record views build forms as `form_class(data, record=...)`). A new deal's form starts
    with the `contacts`, `companies` and `stage` named in `query` (the "New deal" links of
    contact and company pages)."""
    preset = {
        name: [v for v in query.getlist(name) if v.isdigit()] if query is not None else []
        for name in ("contacts", "companies", "stage")
    }

    class UserDealForm(DealForm):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, user=user, **kwargs)
            if kwargs.get("record") is None and not self.is_bound:
                for name in ("contacts", "companies"):
                    if preset[name]:
                        self.initial[name] = [int(v) for v in preset[name]]
                if preset["stage"]:
                    self.initial["stage"] = int(preset["stage"][0])

    return replace(WEB, form_class=UserDealForm)


# The board -------------------------------------------------------------------------------


def _board_context(request: HttpRequest, pipeline: Pipeline) -> dict[str, Any]:
    filters = selectors.board_params(request.GET)
    error = ""
    try:
        columns = selectors.board(user=request.user, pipeline=pipeline, filters=filters)
    except ValidationError as exc:
        error = " ".join(exc.messages)
        columns = selectors.board(user=request.user, pipeline=pipeline, filters={})
    stages = [c.stage for c in columns]
    return {
        "pipeline": pipeline,
        "pipelines": Pipeline.objects.filter(archived=False),
        "columns": columns,
        "closed_days": selectors.BOARD_CLOSED_DAYS,
        **move_menu(stages),
        "filters": filters,
        "query": urlencode(filters),
        "error": error,
        "owners": User.objects.filter(is_active=True).order_by("full_name", "email"),
        "tags": Tag.objects.order_by("name").values_list("name", flat=True),
        "can_create": visibility.can_create(request.user, Deal),
        "now": None,
    }


@login_required
def deal_board(request: HttpRequest, pipeline_id: int | None = None) -> HttpResponse:
    """The kanban board of one pipeline (the default one without `pipeline_id`)."""
    if pipeline_id is None:
        pipeline = services.pipeline_default()
    else:
        pipeline = selectors.pipeline_get(pipeline_id)
    context = _board_context(request, pipeline)
    template = (
        "deals/_board.html"
        if request.headers.get("HX-Request") and request.headers.get("HX-Target") == "board"
        else "deals/board.html"
    )
    return render(request, template, context)


@login_required
def board_column(request: HttpRequest, stage_id: int) -> HttpResponse:
    """More cards of one column (the board's "Load more"), as list items plus a new button."""
    stage = Stage.objects.filter(pk=stage_id).select_related("pipeline").first()
    if stage is None:
        raise Http404("No such stage.")
    try:
        offset = max(0, int(request.GET.get("offset", "0")))
    except ValueError:
        offset = 0
    filters = selectors.board_params(request.GET)
    try:
        cards, more = selectors.board_column_page(
            user=request.user, stage=stage, filters=filters, offset=offset
        )
    except ValidationError:
        cards, more = [], False
    return render(
        request,
        "deals/_column_more.html",
        {
            "stage": stage,
            "cards": cards,
            "has_more": more,
            "next_offset": offset + len(cards),
            "query": urlencode(filters),
            **move_menu(list(stage.pipeline.stages.all())),
        },
    )


def _wants_json(request: HttpRequest) -> bool:
    return "application/json" in request.headers.get("Accept", "")


def _totals_html(request: HttpRequest, pipeline: Pipeline) -> dict[str, str]:
    filters = selectors.board_params(request.POST)
    try:
        deals = selectors.board_deals(user=request.user, pipeline=pipeline, filters=filters)
        totals = selectors.board_totals(deals)
    except ValidationError:
        totals = {}
    return {
        str(stage.pk): render_to_string(
            "deals/_totals.html",
            {
                "count": totals.get(stage.pk, {}).get("count", 0),
                "money": totals.get(stage.pk, {}).get("money", []),
            },
        )
        for stage in pipeline.stages.all()
    }


def _back(request: HttpRequest, deal: Deal) -> str:
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return target
    return reverse("deals:board_pipeline", args=[deal.pipeline_id])


@login_required
@require_POST
def deal_move(request: HttpRequest, pk: int) -> HttpResponse:
    """Move a deal to a stage: from the board (JSON answer with every column's totals and
    the card redrawn) or from the card's "Move to…" form and the detail page (redirect)."""
    deal = selectors.deal_get(user=request.user, pk=pk)
    stage_raw = request.POST.get("stage", "")
    try:
        stage = services._stage(stage_raw)
        position = None
        if request.POST.get("index", "").isdigit():
            position = selectors.position_at(
                user=request.user, deal=deal, stage=stage, index=int(request.POST["index"])
            )
        deal = services.deal_move(
            actor=request.user,
            deal=deal,
            stage=stage,
            lost_reason=request.POST.get("lost_reason") or None,
            lost_note=request.POST.get("lost_note", ""),
            position=position,
        )
    except PermissionDenied as exc:
        if _wants_json(request):
            return JsonResponse(
                {"error": {"code": "permission_denied", "message": str(exc), "field": None}},
                status=403,
            )
        return _refused(request, str(exc))
    except ValidationError as exc:
        errors = exc.message_dict if hasattr(exc, "error_dict") else {"stage": exc.messages}
        field, texts = next(iter(errors.items()))
        code = (
            services.DealErrorCode.LOST_REASON_REQUIRED
            if field == "lost_reason" and "Choose why" in " ".join(texts)
            else "validation_error"
        )
        if _wants_json(request):
            return JsonResponse(
                {"error": {"code": str(code), "message": " ".join(texts), "field": field}},
                status=400,
            )
        messages.error(request, " ".join(texts))
        return redirect(_back(request, deal))
    if _wants_json(request):
        deal = selectors.deal_get(user=request.user, pk=deal.pk)
        card = render_to_string(
            "deals/_card.html",
            {
                "deal": deal,
                **move_menu(list(deal.pipeline.stages.all())),
            },
            request=request,
        )
        return JsonResponse(
            {
                "deal": deal.pk,
                "stage": deal.stage_id,
                "status": deal.status,
                "message": f"Moved {deal.title} to {deal.stage.name}.",
                "totals": _totals_html(request, deal.pipeline),
                "card": card,
            }
        )
    messages.success(request, f"Moved {deal.title} to {deal.stage.name}.")
    return redirect(_back(request, deal))
