"""Settings → Custom fields and Settings → Tags (Admins)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from apps.accounts.roles import ADMIN_ROLES

from .. import services
from ..models import CustomField, Entity, FieldType, Tag


class CustomFieldForm(forms.Form):
    entity = forms.ChoiceField(choices=Entity.choices, label="Record type")
    label = forms.CharField(max_length=100)
    type = forms.ChoiceField(choices=FieldType.choices)
    options = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="For select fields: one option per line.",
    )
    required = forms.BooleanField(required=False)
    default = forms.CharField(required=False, max_length=255)
    help_text = forms.CharField(required=False, max_length=300)
    order = forms.IntegerField(required=False, min_value=0)
    archived = forms.BooleanField(required=False, help_text="Hidden from forms; values are kept.")

    def service_kwargs(self) -> dict[str, Any]:
        data = dict(self.cleaned_data)
        data["options"] = [o.strip() for o in data["options"].splitlines() if o.strip()]
        return data


def _admin(request: HttpRequest) -> bool:
    return getattr(request.user, "role", None) in ADMIN_ROLES


def _apply_errors(form: forms.Form, exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc.messages)


@login_required
def customfield_list(request: HttpRequest) -> HttpResponse:
    if not _admin(request):
        return render(request, "accounts/admin_only.html", status=403)
    form = CustomFieldForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.service_kwargs()
        data.pop("archived")
        try:
            field = services.customfield_create(actor=request.user, **data)
        except ValidationError as exc:
            _apply_errors(form, exc)
        else:
            messages.success(request, f"Added the field {field.label}.")
            return redirect("customfields:list")
    fields = CustomField.objects.all()
    return render(request, "records/settings_customfields.html", {"form": form, "fields": fields})


@login_required
def customfield_edit(request: HttpRequest, pk: int) -> HttpResponse:
    if not _admin(request):
        return render(request, "accounts/admin_only.html", status=403)
    field = get_object_or_404(CustomField, pk=pk)
    initial = {
        "entity": field.entity,
        "label": field.label,
        "type": field.type,
        "options": "\n".join(field.options),
        "required": field.required,
        "default": "" if field.default is None else field.default,
        "help_text": field.help_text,
        "order": field.order,
        "archived": field.archived,
    }
    form = CustomFieldForm(request.POST or None, initial=initial)
    form.fields["entity"].disabled = True
    if request.method == "POST" and form.is_valid():
        data = form.service_kwargs()
        data.pop("entity")
        try:
            field = services.customfield_update(actor=request.user, field=field, **data)
        except ValidationError as exc:
            _apply_errors(form, exc)
        except PermissionDenied as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, f"Saved {field.label}.")
            return redirect("customfields:list")
    return render(request, "records/settings_customfield.html", {"form": form, "field": field})


class TagForm(forms.Form):
    name = forms.CharField(max_length=50)
    color = forms.CharField(
        max_length=7, initial="#64748b", widget=forms.TextInput(attrs={"type": "color"})
    )


@login_required
def tag_list(request: HttpRequest) -> HttpResponse:
    form = TagForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            tag = services.tag_create(actor=request.user, **form.cleaned_data)
        except ValidationError as exc:
            _apply_errors(form, exc)
        except PermissionDenied as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, f"Added the tag {tag.name}.")
            return redirect("tags:list")
    from django.db.models import Count

    tags = Tag.objects.annotate(
        n_contacts=Count("contacts", distinct=True), n_companies=Count("companies", distinct=True)
    )
    return render(
        request,
        "records/settings_tags.html",
        {"form": form, "tags": tags, "is_admin": _admin(request)},
    )


@login_required
@require_POST
def tag_edit(request: HttpRequest, pk: int) -> HttpResponse:
    tag = get_object_or_404(Tag, pk=pk)
    try:
        if request.POST.get("delete"):
            services.tag_delete(actor=request.user, tag=tag)
            messages.success(request, f"Deleted the tag {tag.name}.")
        else:
            services.tag_update(
                actor=request.user,
                tag=tag,
                name=request.POST.get("name"),
                color=request.POST.get("color") or None,
            )
            messages.success(request, f"Saved the tag {tag.name}.")
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    except PermissionDenied as exc:
        messages.error(request, str(exc))
    return redirect("tags:list")
