"""Settings → Web forms (build forms, see their hosted URL and embed snippet) and Settings →
Lead sources. Admins only."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from apps.accounts.models import User
from apps.accounts.roles import ADMIN_ROLES

from .. import services, webforms
from ..models import AssignmentRule, LeadSource, WebForm


def _admin(request: HttpRequest) -> bool:
    return getattr(request.user, "role", None) in ADMIN_ROLES


def _admin_only(request: HttpRequest) -> HttpResponse:
    return render(request, "accounts/admin_only.html", status=403)


class WebFormForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="For you; visitors see the title.")
    title = forms.CharField(max_length=200, required=False)
    intro = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)
    submit_label = forms.CharField(max_length=50, initial="Send")
    thank_you_message = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}),
        initial="Thank you! We will be in touch soon.",
        required=False,
    )
    redirect_url = forms.URLField(
        assume_scheme="https",
        label="Redirect after sending",
        max_length=1000,
        required=False,
        help_text="Instead of the thank-you message, send visitors to this address.",
    )
    source = forms.ModelChoiceField(
        queryset=LeadSource.objects.filter(archived=False), required=False
    )
    assignment = forms.ChoiceField(choices=AssignmentRule.choices, widget=forms.RadioSelect)
    fixed_owner = forms.ModelChoiceField(
        label="Owner", queryset=User.objects.filter(is_active=True), required=False
    )
    round_robin_users = forms.ModelMultipleChoiceField(
        label="Round-robin among",
        queryset=User.objects.filter(is_active=True),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    tags = forms.CharField(
        max_length=2000, required=False, help_text="Comma-separated; added to every lead."
    )
    active = forms.BooleanField(required=False, initial=True)


def _field_rows(request: HttpRequest, form: WebForm | None) -> list[dict[str, Any]]:
    """One row per field a form may hold, with what the form (or the POST) says about it."""
    current = {f.target: f for f in form.fields.all()} if form is not None else {}
    posted = request.method == "POST"
    rows = []
    for index, (target, default_label) in enumerate(webforms.available_targets()):
        field = current.get(target)
        if posted:
            rows.append(
                {
                    "target": target,
                    "default_label": default_label,
                    "on": request.POST.get(f"on_{target}") == "1",
                    "label": request.POST.get(f"label_{target}", ""),
                    "required": request.POST.get(f"required_{target}") == "1",
                    "placeholder": request.POST.get(f"placeholder_{target}", ""),
                    "order": request.POST.get(f"order_{target}", str(index)),
                }
            )
        else:
            fresh = form is None and target in ("first_name", "last_name", "email")
            rows.append(
                {
                    "target": target,
                    "default_label": default_label,
                    "on": field is not None or fresh,
                    "label": field.label if field else default_label,
                    "required": field.required if field else target == "email",
                    "placeholder": field.placeholder if field else "",
                    "order": str(field.order if field else index),
                }
            )
    return rows


def _chosen_fields(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    chosen = []
    for row in rows:
        if not row["on"]:
            continue
        order = row["order"].strip()
        chosen.append(
            {
                "target": row["target"],
                "label": row["label"],
                "required": row["required"],
                "placeholder": row["placeholder"],
                "order": int(order) if order.isdigit() else 0,
            }
        )
    return chosen


@login_required
def webform_list(request: HttpRequest) -> HttpResponse:
    if not _admin(request):
        return _admin_only(request)
    forms_ = WebForm.objects.select_related("source").order_by("name")
    return render(request, "webforms/list.html", {"forms": forms_})


def _service_kwargs(form: WebFormForm) -> dict[str, Any]:
    data = dict(form.cleaned_data)
    data["tags"] = [t.strip() for t in data["tags"].split(",") if t.strip()]
    data["round_robin_users"] = list(data["round_robin_users"])
    return data


def _apply_errors(form: forms.Form, exc: ValidationError) -> list[str]:
    """Put errors next to their fields; return those about the field list."""
    other: list[str] = []
    errors = exc.message_dict if hasattr(exc, "error_dict") else {"__all__": exc.messages}
    for name, problems in errors.items():
        if name in form.fields:
            form.add_error(name, problems)
        else:
            other += problems
    return other


@login_required
def webform_edit(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    if not _admin(request):
        return _admin_only(request)
    record = get_object_or_404(WebForm, pk=pk) if pk is not None else None
    initial: dict[str, Any] = {"assignment": AssignmentRule.FIXED, "fixed_owner": request.user.pk}
    if record is not None:
        initial = {
            name: getattr(record, name)
            for name in (
                "name",
                "title",
                "intro",
                "submit_label",
                "thank_you_message",
                "redirect_url",
                "assignment",
                "active",
            )
        }
        initial["source"] = record.source_id
        initial["fixed_owner"] = record.fixed_owner_id
        initial["round_robin_users"] = [u.pk for u in record.round_robin_users.all()]
        initial["tags"] = ", ".join(t.name for t in record.tags.all())
    form = WebFormForm(request.POST or None, initial=initial)
    rows = _field_rows(request, record)
    field_errors: list[str] = []
    if request.method == "POST" and form.is_valid():
        data = _service_kwargs(form)
        try:
            if record is None:
                record = webforms.webform_create(
                    actor=request.user, fields=_chosen_fields(rows), **data
                )
                messages.success(request, f"Created the form {record.name}.")
            else:
                record = webforms.webform_update(
                    actor=request.user, form=record, fields=_chosen_fields(rows), **data
                )
                messages.success(request, f"Saved the form {record.name}.")
        except ValidationError as exc:
            field_errors = _apply_errors(form, exc)
        except PermissionDenied as exc:  # pragma: no cover - the page is for Admins
            messages.error(request, str(exc))
        else:
            return redirect("webforms:edit", pk=record.pk)
    hosted = (
        request.build_absolute_uri(reverse("forms:hosted", args=[record.public_id]))
        if record is not None and record.pk
        else ""
    )
    return render(
        request,
        "webforms/edit.html",
        {
            "form": form,
            "record": record if record is not None and record.pk else None,
            "rows": rows,
            "field_errors": field_errors,
            "hosted_url": hosted,
            "snippet": _snippet(hosted) if hosted else "",
        },
    )


def _snippet(hosted: str) -> str:
    """The embed code: an iframe of the hosted page. Its `src` gets the embedding page's
    address and campaign values from the page's own URL (a framed page cannot read its
    parent's address or query string), through a plain <script> the site owner pastes."""
    return "\n".join(
        [
            f'<iframe src="{hosted}" title="Contact form" width="100%" height="640"',
            '        loading="lazy" class="kestrel-form" frameborder="0"></iframe>',
            "<script>",
            "(function () {",
            "  var frame = document.querySelector('iframe.kestrel-form');",
            "  if (!frame) return;",
            "  var page = new URLSearchParams(location.search), url = new URL(frame.src);",
            "  ['utm_source', 'utm_medium', 'utm_campaign', 'utm_term', 'utm_content']",
            "    .forEach(function (k) {",
            "      if (page.get(k)) url.searchParams.set(k, page.get(k));",
            "    });",
            "  url.searchParams.set('landing', location.href);",
            "  if (document.referrer) url.searchParams.set('ref', document.referrer);",
            "  frame.src = url.toString();",
            "})();",
            "</script>",
        ]
    )


@login_required
@require_POST
def webform_delete(request: HttpRequest, pk: int) -> HttpResponse:
    if not _admin(request):
        return _admin_only(request)
    record = get_object_or_404(WebForm, pk=pk)
    webforms.webform_delete(actor=request.user, form=record)
    messages.success(request, f"Deleted the form {record.name}; its leads stay.")
    return redirect("webforms:list")


# Lead sources ------------------------------------------------------------------------------


@login_required
def source_list(request: HttpRequest) -> HttpResponse:
    if not _admin(request):
        return _admin_only(request)
    if request.method == "POST":
        try:
            source_pk = request.POST.get("pk", "")
            if source_pk:
                source = get_object_or_404(LeadSource, pk=source_pk)
                if request.POST.get("delete"):
                    services.leadsource_delete(actor=request.user, source=source)
                    messages.success(request, f"Deleted the source {source.name}.")
                else:
                    order = request.POST.get("order", "").strip()
                    services.leadsource_update(
                        actor=request.user,
                        source=source,
                        name=request.POST.get("name", ""),
                        order=int(order) if order.isdigit() else None,
                        archived=request.POST.get("archived") == "1",
                    )
                    messages.success(request, f"Saved the source {source.name}.")
            else:
                source = services.leadsource_create(
                    actor=request.user, name=request.POST.get("name", "")
                )
                messages.success(request, f"Added the source {source.name}.")
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        return redirect("webforms:sources")
    return render(request, "webforms/sources.html", {"sources": LeadSource.objects.all()})
