"""The reports pages: the dashboard at /reports/, each report at /reports/<name>/ with its
filters, chart, table and exports, and the currencies settings. Thin: figures come from the
registry (through the cache), changes through the services."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from apps.accounts.models import Team, User
from apps.accounts.web.decorators import admin_required
from apps.deals.models import Pipeline

from .. import periods, registry, services
from ..base import Report
from ..models import ExchangeRate, ReportingSettings


def _errors(exc: ValidationError) -> list[str]:
    if hasattr(exc, "error_dict"):
        return [m for found in exc.message_dict.values() for m in found]
    return list(exc.messages)


def _filters_context(request: HttpRequest, definition: registry.ReportDef) -> dict[str, Any]:
    params = request.GET
    return {
        "period_choices": periods.CHOICES,
        "members": User.objects.filter(is_active=True).order_by("full_name", "email"),
        "teams": Team.objects.order_by("name"),
        "pipelines": Pipeline.objects.filter(archived=False).order_by("order", "id"),
        "groups": definition.groups,
        "chosen": {
            "period": params.get("period") or definition.default_period,
            "start": params.get("from") or params.get("start", ""),
            "end": params.get("to") or params.get("end", ""),
            "owner": params.get("owner", ""),
            "team": params.get("team", ""),
            "pipeline": params.get("pipeline", ""),
            "group": params.get("group", ""),
        },
        "query": params.urlencode(),
    }


def _page(request: HttpRequest, name: str, template: str) -> HttpResponse:
    definition = registry.get(name)
    context: dict[str, Any] = {
        "definition": definition,
        "reports": registry.all_reports(),
        **_filters_context(request, definition),
    }
    status = 200
    try:
        report = registry.build(name, request.user, request.GET.dict())
    except ValidationError as exc:
        context["problems"] = _errors(exc)
        status = 400
    else:
        context["report"] = report
        context["chart_data"] = _chart_data(report)
    return render(request, template, context, status=status)


def _chart_data(report: Report) -> dict[str, Any] | None:
    data = report.as_json()
    if data["chart"] is None:
        return None
    return {**data["chart"], "currency": report.currency, "title": report.title}


@login_required
@require_GET
def dashboard(request: HttpRequest) -> HttpResponse:
    return _page(request, "dashboard", "reports/dashboard.html")


@login_required
@require_GET
def report_detail(request: HttpRequest, name: str) -> HttpResponse:
    if name == "dashboard":
        return redirect("reports:dashboard")
    return _page(request, name, "reports/report.html")


def _export(request: HttpRequest, name: str, kind: str) -> HttpResponse:
    from .. import exporting

    try:
        report = registry.build(name, request.user, request.GET.dict())
    except ValidationError as exc:
        return HttpResponse("\n".join(_errors(exc)), status=400, content_type="text/plain")
    if kind == "csv":
        response = HttpResponse(
            exporting.report_csv(report), content_type="text/csv; charset=utf-8"
        )
    else:
        response = HttpResponse(exporting.report_pdf(report), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{name}.{kind}"'
    return response


@login_required
@require_GET
def report_csv(request: HttpRequest, name: str) -> HttpResponse:
    return _export(request, name, "csv")


@login_required
@require_GET
def report_pdf(request: HttpRequest, name: str) -> HttpResponse:
    return _export(request, name, "pdf")


@admin_required
@require_http_methods(["GET", "POST"])
def currencies(request: HttpRequest) -> HttpResponse:
    problems: list[str] = []
    if request.method == "POST":
        action = request.POST.get("action", "")
        try:
            if action == "base":
                services.base_currency_set(
                    user=request.user, currency=request.POST.get("base_currency")
                )
                messages.success(request, "Reporting currency saved.")
            elif action == "rate":
                found = services.rate_set(
                    user=request.user,
                    currency=request.POST.get("currency"),
                    rate=request.POST.get("rate"),
                )
                messages.success(request, f"Rate for {found.currency} saved.")
            elif action == "delete":
                services.rate_delete(user=request.user, currency=request.POST.get("currency", ""))
                messages.success(request, "Rate removed.")
            else:
                raise Http404("No such action.")
        except ValidationError as exc:
            problems = _errors(exc)
        except PermissionDenied as exc:
            problems = [str(exc)]
        else:
            return redirect("currencies:settings")
    return render(
        request,
        "reports/currencies.html",
        {
            "settings": ReportingSettings.current(),
            "rates": ExchangeRate.objects.all(),
            "problems": problems,
            "posted": request.POST if problems else {},
        },
        status=400 if problems else 200,
    )
