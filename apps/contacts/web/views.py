"""Contact pages: the shared record pages (apps.records.web) configured for contacts, plus
company links and sharing."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.views.decorators.http import require_POST

from apps.accounts.models import User
from apps.companies import selectors as company_selectors
from apps.companies import services as company_services
from apps.records.web.forms import RecordForm, ShareForm, split_lines
from apps.records.web.views import RecordWeb, _refused

from .. import selectors, services
from ..models import ContactCompany, LifecycleStage


class ContactForm(RecordForm):
    entity = "contact"
    first_name = forms.CharField(max_length=100, required=False)
    last_name = forms.CharField(max_length=100, required=False)
    emails = forms.CharField(
        label="Emails",
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="One per line; the first is the primary one.",
    )
    phones = forms.CharField(
        label="Phones",
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="One per line, with the country code (e.g. +44 20 7946 0958).",
    )
    title = forms.CharField(label="Job title", max_length=150, required=False)
    company_name = forms.CharField(
        label="Company",
        max_length=200,
        required=False,
        help_text="Links the company of that name, creating it if there is none.",
    )
    owner = forms.ModelChoiceField(queryset=User.objects.filter(is_active=True), required=False)
    lifecycle_stage = forms.ChoiceField(choices=LifecycleStage.choices, initial="lead")
    source = forms.CharField(max_length=100, required=False)
    street = forms.CharField(max_length=200, required=False)
    city = forms.CharField(max_length=100, required=False)
    region = forms.CharField(label="State / region", max_length=100, required=False)
    postal_code = forms.CharField(max_length=20, required=False)
    country = forms.CharField(max_length=100, required=False)
    linkedin = forms.URLField(label="LinkedIn", max_length=300, required=False)
    twitter = forms.CharField(label="X / Twitter", max_length=100, required=False)
    website = forms.URLField(max_length=300, required=False)
    notes = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)

    field_order = ["first_name", "last_name", "emails", "phones", "title", "company_name"]

    def __init__(self, *args: Any, record: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, record=record, **kwargs)
        if record is not None:
            for name in (
                "first_name",
                "last_name",
                "title",
                "lifecycle_stage",
                "source",
                "street",
                "city",
                "region",
                "postal_code",
                "country",
                "linkedin",
                "twitter",
                "website",
                "notes",
            ):
                self.initial[name] = getattr(record, name)
            self.initial["owner"] = record.owner_id
            self.initial["emails"] = "\n".join(e.email for e in record.emails.all())
            self.initial["phones"] = "\n".join(p.number for p in record.phones.all())
            del self.fields["company_name"]  # links are managed on the detail page


def _form_to_service(form: ContactForm) -> dict[str, Any]:
    data = form.cleaned_data
    kwargs = {
        name: data[name]
        for name in (
            "first_name",
            "last_name",
            "title",
            "lifecycle_stage",
            "source",
            "street",
            "city",
            "region",
            "postal_code",
            "country",
            "linkedin",
            "twitter",
            "website",
            "notes",
        )
    }
    kwargs["emails"] = split_lines(data["emails"])
    kwargs["phones"] = split_lines(data["phones"])
    if data.get("owner"):
        kwargs["owner"] = data["owner"]
    kwargs["tags"] = form.tag_names()
    kwargs["custom_fields"] = form.custom_values()
    kwargs["company_name"] = data.get("company_name", "")
    return kwargs


def _create(*, actor: Any, company_name: str = "", **kwargs: Any) -> Any:
    return services.contact_create(
        actor=actor, companies=_company_ids(actor, company_name), **kwargs
    )


def _update(*, actor: Any, company_name: str = "", **kwargs: Any) -> Any:
    return services.contact_update(actor=actor, **kwargs)


def _company_ids(actor: Any, name: str) -> list[int]:
    name = name.strip()
    if not name:
        return []
    existing = company_selectors.company_list(user=actor).filter(name__iexact=name).first()
    if existing is None:
        existing = company_services.company_create(actor=actor, name=name, allow_duplicate=True)
    return [existing.pk]


class LinkForm(forms.Form):
    company_name = forms.CharField(label="Company", max_length=200)
    role = forms.CharField(max_length=100, required=False)
    is_primary = forms.BooleanField(label="Primary company", required=False)


def _detail_extra(request: HttpRequest, contact: Any) -> dict[str, Any]:
    return {"link_form": LinkForm(), "share_form": ShareForm()}


WEB = RecordWeb(
    key="contact",
    form_class=ContactForm,
    select=lambda user, params: selectors.contact_list(user=user, params=params),
    get=lambda user, pk: selectors.contact_get(user=user, pk=pk),
    create=_create,
    update=_update,
    delete=services.contact_delete,
    merge=services.contact_merge,
    merge_spec=services.merge_spec,
    duplicate_pairs=selectors.contact_duplicate_pairs,
    form_to_service=_form_to_service,
    record_kwarg="contact",
    detail_extra=_detail_extra,
)


@login_required
@require_POST
def contact_link(request: HttpRequest, pk: int) -> HttpResponse:
    contact = selectors.contact_get(user=request.user, pk=pk)
    form = LinkForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Name the company to link.")
        return redirect("contacts:detail", pk=contact.pk)
    try:
        company_id = _company_ids(request.user, form.cleaned_data["company_name"])[0]
        services.contact_link_company(
            actor=request.user,
            contact=contact,
            company=company_selectors.company_get(user=request.user, pk=company_id),
            role=form.cleaned_data["role"],
            is_primary=form.cleaned_data["is_primary"],
        )
    except PermissionDenied as exc:
        return _refused(request, str(exc))
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, "Linked.")
    return redirect("contacts:detail", pk=contact.pk)


@login_required
@require_POST
def contact_unlink(request: HttpRequest, pk: int, link_pk: int) -> HttpResponse:
    contact = selectors.contact_get(user=request.user, pk=pk)
    link = get_object_or_404(ContactCompany, pk=link_pk, contact=contact)
    try:
        services.contact_unlink_company(actor=request.user, link=link)
    except PermissionDenied as exc:
        return _refused(request, str(exc))
    messages.success(request, f"Unlinked {link.company.name}.")
    return redirect("contacts:detail", pk=contact.pk)
