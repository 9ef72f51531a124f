"""The report subscriptions page: your scheduled report emails (every one in the
organisation for Owners and Admins, who may look but not change others'), with their
filters in words, schedule, next run and how the last run went; subscribe, change, pause,
send now and delete. Thin: reads and writes go through `apps.reports.subscriptions`."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from apps.core.ratelimit import client_ip

from .. import periods, registry
from .. import subscriptions as subs
from ..models import Cadence, Subscription

# Filters carried from a report page to the form as they are (the period is chosen here).
CARRIED = ("owner", "team", "pipeline", "group", "start", "end")
HOURS = [(h, f"{h:02d}:00") for h in range(24)]


class SubscriptionForm(forms.Form):
    report = forms.ChoiceField(label="Report")
    period = forms.ChoiceField(
        label="Period",
        help_text="Which period each email covers, as seen on the day it is sent.",
    )
    cadence = forms.ChoiceField(label="How often", choices=Cadence.choices)
    weekday = forms.TypedChoiceField(
        label="Day of the week",
        choices=subs.WEEKDAYS,
        coerce=int,
        required=False,
        help_text="For weekly emails.",
    )
    day = forms.TypedChoiceField(
        label="Day of the month",
        choices=[(d, str(d)) for d in range(1, 29)],
        coerce=int,
        required=False,
        help_text="For monthly emails (1 to 28, a day every month has).",
    )
    hour = forms.TypedChoiceField(label="At", choices=HOURS, coerce=int)

    def __init__(self, *args: Any, time_zone: str = "UTC", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        report_field: Any = self.fields["report"]
        period_field: Any = self.fields["period"]
        report_field.choices = [(d.name, d.title) for d in registry.all_reports()]
        presets = [(k, label) for k, label in periods.CHOICES if k != "custom"]
        data = self.data or self.initial
        if (data.get("period") if hasattr(data, "get") else None) == "custom":
            presets.append(("custom", "The dates chosen on the report"))
        period_field.choices = presets
        self.fields["hour"].help_text = f"In your time zone, {time_zone}."
        for key in CARRIED:
            self.fields[key] = forms.CharField(
                required=False, max_length=100, widget=forms.HiddenInput
            )

    def service_fields(self) -> dict[str, Any]:
        data = self.cleaned_data
        params = {"period": data["period"]}
        for key in CARRIED:
            if data.get(key):
                params[key] = data[key]
        if params["period"] != "custom":
            params.pop("start", None)
            params.pop("end", None)
        return {
            "report": data["report"],
            "params": params,
            "cadence": data["cadence"],
            "weekday": data.get("weekday") if data.get("weekday") is not None else 0,
            "day": data.get("day") or 1,
            "hour": data["hour"],
        }


def _ns(request: HttpRequest) -> str:
    match = request.resolver_match
    return f"{match.namespace}:" if match is not None and match.namespace else ""


def _url(request: HttpRequest, name: str, *args: Any) -> str:
    return reverse(f"{_ns(request)}{name}", args=args)


def _apply_errors(form: forms.Form, exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            target = field if field in form.fields and field != "params" else None
            for message in errors:
                form.add_error(target, message)
    else:
        for message in exc.messages:
            form.add_error(None, message)


def _row(request: HttpRequest, sub: Subscription) -> dict[str, Any]:
    own = sub.user_id == request.user.pk
    return {
        "sub": sub,
        "own": own,
        "title": subs.report_title(sub.report),
        "filters": subs.filters_words(sub),
        "schedule": subs.schedule_words(sub),
        "edit_url": _url(request, "subscription_edit", sub.pk) if own else "",
        "delete_url": _url(request, "subscription_delete", sub.pk) if own else "",
        "send_url": _url(request, "subscription_send", sub.pk) if own else "",
    }


@login_required
@require_GET
def subscription_list(request: HttpRequest) -> HttpResponse:
    found = list(subs.subscription_list(user=request.user))
    return render(
        request,
        "reports/subscriptions.html",
        {
            "rows": [_row(request, sub) for sub in found],
            "sees_all": subs.may_see_all(request.user),
            "new_url": _url(request, "subscription_new"),
        },
    )


def _form_page(
    request: HttpRequest, form: SubscriptionForm, sub: Subscription | None
) -> HttpResponse:
    return render(
        request,
        "reports/subscription_form.html",
        {
            "form": form,
            "sub": sub,
            "list_url": _url(request, "subscriptions"),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def subscription_new(request: HttpRequest) -> HttpResponse:
    zone = getattr(request.user, "time_zone", "UTC")
    if request.method == "POST":
        form = SubscriptionForm(request.POST, time_zone=zone)
        if form.is_valid():
            try:
                sub = subs.subscribe(
                    actor=request.user, ip_address=client_ip(request), **form.service_fields()
                )
            except ValidationError as exc:
                _apply_errors(form, exc)
            except PermissionDenied as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(
                    request,
                    f"Subscribed to {subs.report_title(sub.report)}: "
                    f"{subs.schedule_words(sub).lower()}.",
                )
                return redirect(_url(request, "subscriptions"))
        return _form_page(request, form, None)
    # From a report page: ?report=pipeline&period=last_week&pipeline=2 fills the form in.
    initial: dict[str, Any] = {"cadence": Cadence.WEEKLY, "weekday": 0, "day": 1, "hour": 8}
    for key in ("report", "period", *CARRIED):
        if request.GET.get(key):
            initial[key] = request.GET[key][:100]
    if "report" in initial:
        initial["report"] = registry.canonical(initial["report"])
    for alias, key in (("from", "start"), ("to", "end")):  # the report pages' names
        if request.GET.get(alias):
            initial[key] = request.GET[alias][:100]
            initial.setdefault("period", "custom")
    if "period" not in initial:
        report = initial.get("report")
        try:
            initial["period"] = registry.get(report).default_period if report else "last_week"
        except Exception:
            initial["period"] = "last_week"
    return _form_page(request, SubscriptionForm(initial=initial, time_zone=zone), None)


def _own(request: HttpRequest, pk: int) -> Subscription:
    sub = subs.subscription_get(user=request.user, pk=pk)
    if sub.user_id != request.user.pk:
        raise PermissionDenied("Only its subscriber can change, send or delete a subscription.")
    return sub


@login_required
@require_http_methods(["GET", "POST"])
def subscription_edit(request: HttpRequest, pk: int) -> HttpResponse:
    sub = _own(request, pk)
    zone = getattr(request.user, "time_zone", "UTC")
    if request.method == "POST":
        form = SubscriptionForm(request.POST, time_zone=zone)
        if form.is_valid():
            fields = form.service_fields()
            fields["active"] = request.POST.get("active") == "on"
            try:
                subs.update(actor=request.user, sub=sub, ip_address=client_ip(request), **fields)
            except ValidationError as exc:
                _apply_errors(form, exc)
            else:
                messages.success(request, f"Saved {subs.report_title(sub.report)}.")
                return redirect(_url(request, "subscriptions"))
        return _form_page(request, form, sub)
    params = sub.params or {}
    initial = {
        "report": sub.report,
        "period": params.get("period") or "this_month",
        "cadence": sub.cadence,
        "weekday": sub.weekday,
        "day": sub.day,
        "hour": sub.hour,
        **{key: params.get(key, "") for key in CARRIED},
    }
    return _form_page(request, SubscriptionForm(initial=initial, time_zone=zone), sub)


@login_required
@require_POST
def subscription_delete(request: HttpRequest, pk: int) -> HttpResponse:
    sub = _own(request, pk)
    title = subs.report_title(sub.report)
    subs.delete(actor=request.user, sub=sub, ip_address=client_ip(request))
    messages.success(request, f"Unsubscribed from {title}: no more emails of it.")
    return redirect(_url(request, "subscriptions"))


@login_required
@require_POST
def subscription_send(request: HttpRequest, pk: int) -> HttpResponse:
    sub = _own(request, pk)
    try:
        subs.send_now(actor=request.user, sub=sub, ip_address=client_ip(request))
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(
            request,
            f"{subs.report_title(sub.report)} is being built; it will be in your inbox "
            "in a minute.",
        )
    return redirect(_url(request, "subscriptions"))
