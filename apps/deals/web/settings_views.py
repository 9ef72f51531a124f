"""Settings → Pipelines (Admins): pipelines and their stages (name, probability, rotting
days, order; add; delete with "move deals to"), and the editable list of lost reasons."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Prefetch
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from apps.accounts.roles import ADMIN_ROLES

from .. import services
from ..models import LostReason, Pipeline, Stage


def _admin(request: HttpRequest) -> bool:
    return getattr(request.user, "role", None) in ADMIN_ROLES


def _int(value: str | None) -> int | None:
    text = (value or "").strip()
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        raise ValidationError("Numbers are whole numbers.") from None


def _run(request: HttpRequest, write: Callable[[], Any], done: str) -> HttpResponse:
    """Run a settings change and go back to the page with what happened."""
    if not _admin(request):
        return render(request, "accounts/admin_only.html", status=403)
    try:
        write()
    except PermissionDenied as exc:  # pragma: no cover - Admins pass every check
        messages.error(request, str(exc))
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, done)
    return redirect("pipelines:list")


@login_required
def pipeline_list(request: HttpRequest) -> HttpResponse:
    if not _admin(request):
        return render(request, "accounts/admin_only.html", status=403)
    services.pipeline_default()
    pipelines = Pipeline.objects.prefetch_related(
        Prefetch("stages", queryset=Stage.objects.annotate(deal_count=Count("deals")))
    ).annotate(deal_count=Count("deals"))
    return render(
        request,
        "deals/settings_pipelines.html",
        {
            "pipelines": pipelines,
            "all_stages": Stage.objects.select_related("pipeline"),
            "reasons": LostReason.objects.annotate(deal_count=Count("deals")),
        },
    )


@login_required
@require_POST
def pipeline_create(request: HttpRequest) -> HttpResponse:
    stages = [s.strip() for s in request.POST.get("stages", "").splitlines() if s.strip()]
    return _run(
        request,
        lambda: services.pipeline_create(
            actor=request.user, name=request.POST.get("name", ""), stages=stages or None
        ),
        "Pipeline created.",
    )


@login_required
@require_POST
def pipeline_edit(request: HttpRequest, pk: int) -> HttpResponse:
    pipeline = get_object_or_404(Pipeline, pk=pk)
    return _run(
        request,
        lambda: services.pipeline_update(
            actor=request.user,
            pipeline=pipeline,
            name=request.POST.get("name"),
            order=_int(request.POST.get("order")),
            is_default=True if request.POST.get("is_default") == "1" else None,
            archived=request.POST.get("archived") == "1" if "archived" in request.POST else None,
        ),
        "Pipeline saved.",
    )


@login_required
@require_POST
def pipeline_delete(request: HttpRequest, pk: int) -> HttpResponse:
    pipeline = get_object_or_404(Pipeline, pk=pk)
    target = _int(request.POST.get("move_to"))
    return _run(
        request,
        lambda: services.pipeline_delete(
            actor=request.user,
            pipeline=pipeline,
            move_to=services._pipeline(target) if target else None,
        ),
        f"Deleted the pipeline {pipeline.name}.",
    )


@login_required
@require_POST
def stage_create(request: HttpRequest, pk: int) -> HttpResponse:
    pipeline = get_object_or_404(Pipeline, pk=pk)
    return _run(
        request,
        lambda: services.stage_create(
            actor=request.user,
            pipeline=pipeline,
            name=request.POST.get("name", ""),
            probability=_int(request.POST.get("probability")) or 0,
            rotting_days=_int(request.POST.get("rotting_days")),
            order=_int(request.POST.get("order")),
        ),
        "Stage added.",
    )


@login_required
@require_POST
def stage_edit(request: HttpRequest, pk: int) -> HttpResponse:
    stage = get_object_or_404(Stage, pk=pk)

    def write() -> Any:
        changes: dict[str, Any] = {
            "name": request.POST.get("name"),
            "probability": _int(request.POST.get("probability")),
            "rotting_days": _int(request.POST.get("rotting_days")),
        }
        if request.POST.get("order") and stage.kind == "open":
            changes["order"] = _int(request.POST.get("order"))
        return services.stage_update(actor=request.user, stage=stage, **changes)

    return _run(request, write, f"Stage {stage.name} saved.")


@login_required
@require_POST
def stage_delete(request: HttpRequest, pk: int) -> HttpResponse:
    stage = get_object_or_404(Stage, pk=pk)
    target = _int(request.POST.get("move_to"))
    return _run(
        request,
        lambda: services.stage_delete(
            actor=request.user,
            stage=stage,
            move_to=services._stage(target) if target else None,
        ),
        f"Deleted the stage {stage.name}.",
    )


@login_required
@require_POST
def reason_create(request: HttpRequest) -> HttpResponse:
    return _run(
        request,
        lambda: services.lostreason_create(actor=request.user, name=request.POST.get("name", "")),
        "Lost reason added.",
    )


@login_required
@require_POST
def reason_edit(request: HttpRequest, pk: int) -> HttpResponse:
    reason = get_object_or_404(LostReason, pk=pk)
    return _run(
        request,
        lambda: services.lostreason_update(
            actor=request.user,
            reason=reason,
            name=request.POST.get("name"),
            order=_int(request.POST.get("order")),
            archived=request.POST.get("archived") == "1",
        ),
        "Lost reason saved.",
    )


@login_required
@require_POST
def reason_delete(request: HttpRequest, pk: int) -> HttpResponse:
    reason = get_object_or_404(LostReason, pk=pk)
    return _run(
        request,
        lambda: services.lostreason_delete(actor=request.user, reason=reason),
        f"Removed the lost reason {reason.name} (archived where deals still name it).",
    )
