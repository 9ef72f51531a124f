"""Lead pages: the shared record pages (apps.records.web) configured for leads, plus the
Convert page."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.html import format_html

from apps.accounts.models import User
from apps.companies.models import Company
from apps.contacts.models import Contact
from apps.core import visibility
from apps.records import customfields
from apps.records.models import CustomField
from apps.records.web.forms import RecordForm, ShareForm
from apps.records.web.views import RecordWeb, _refused

from .. import conversion, selectors, services
from ..models import Lead, LeadSource, LeadStatus

# The lead's free-text fields, as the form sends them to the services.
TEXT_FIELDS = tuple(f for f in services.FIELDS if f not in ("email", "phone", "status", "owner"))


class LeadForm(RecordForm):
    entity = "lead"
    first_name = forms.CharField(max_length=100, required=False)
    last_name = forms.CharField(max_length=100, required=False)
    email = forms.CharField(max_length=254, required=False)
    phone = forms.CharField(
        max_length=40, required=False, help_text="With the country code (e.g. +44 20 7946 0958)."
    )
    company_name = forms.CharField(label="Company", max_length=200, required=False)
    title = forms.CharField(label="Job title", max_length=150, required=False)
    source = forms.ModelChoiceField(queryset=LeadSource.objects.none(), required=False)
    status = forms.ChoiceField(
        choices=[c for c in LeadStatus.choices if c[0] != LeadStatus.CONVERTED], initial="new"
    )
    owner = forms.ModelChoiceField(queryset=User.objects.filter(is_active=True), required=False)
    notes = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)
    utm_source = forms.CharField(label="UTM source", max_length=200, required=False)
    utm_medium = forms.CharField(label="UTM medium", max_length=200, required=False)
    utm_campaign = forms.CharField(label="UTM campaign", max_length=200, required=False)
    utm_term = forms.CharField(label="UTM term", max_length=200, required=False)
    utm_content = forms.CharField(label="UTM content", max_length=200, required=False)
    referrer = forms.CharField(max_length=1000, required=False)
    landing_page = forms.CharField(max_length=1000, required=False)

    def __init__(self, *args: Any, record: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, record=record, **kwargs)
        current = record.source_id if record is not None else None
        self.fields["source"].queryset = LeadSource.objects.filter(  # type: ignore[attr-defined]
            Q(archived=False) | Q(pk=current)
        )
        if record is not None:
            for name in (*TEXT_FIELDS, "email", "phone"):
                self.initial[name] = getattr(record, name)
            self.initial["owner"] = record.owner_id
            self.initial["source"] = record.source_id
            self.initial["status"] = record.status
            if record.status == LeadStatus.CONVERTED:
                del self.fields["status"]


def _form_to_service(form: LeadForm) -> dict[str, Any]:
    data = form.cleaned_data
    kwargs: dict[str, Any] = {name: data[name] for name in (*TEXT_FIELDS, "email", "phone")}
    if "status" in data:
        kwargs["status"] = data["status"]
    kwargs["source"] = data["source"]
    if data.get("owner"):
        kwargs["owner"] = data["owner"]
    kwargs["tags"] = form.tag_names()
    kwargs["custom_fields"] = form.custom_values()
    return kwargs


def _detail_extra(request: HttpRequest, lead: Lead) -> dict[str, Any]:
    return {
        "share_form": ShareForm(),
        "can_convert": lead.status != LeadStatus.CONVERTED
        and visibility.can_change(request.user, lead),
    }


WEB = RecordWeb(
    key="lead",
    form_class=LeadForm,
    select=lambda user, params: selectors.lead_list(user=user, params=params),
    get=lambda user, pk: selectors.lead_get(user=user, pk=pk),
    create=services.lead_create,
    update=services.lead_update,
    delete=services.lead_delete,
    merge=services.lead_merge,
    merge_spec=services.merge_spec,
    duplicate_pairs=selectors.lead_duplicate_pairs,
    form_to_service=_form_to_service,
    record_kwarg="lead",
    detail_extra=_detail_extra,
)


# Conversion ------------------------------------------------------------------------------


class ConvertForm(forms.Form):
    contact_choice = forms.ChoiceField(label="Contact", widget=forms.RadioSelect)
    company_choice = forms.ChoiceField(label="Company", widget=forms.RadioSelect)
    create_deal = forms.BooleanField(label="Create a deal", required=False)
    deal_title = forms.CharField(label="Deal title", max_length=200, required=False)
    deal_value = forms.DecimalField(
        label="Value", max_digits=14, decimal_places=2, required=False, min_value=0
    )
    deal_currency = forms.CharField(
        label="Currency",
        max_length=3,
        required=False,
        widget=forms.TextInput(attrs={"placeholder": "Organisation default"}),
    )
    deal_pipeline = forms.ChoiceField(label="Pipeline", required=False)
    deal_stage = forms.ChoiceField(label="Stage", required=False)
    deal_expected_close = forms.DateField(
        label="Expected close date",
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
    )

    def __init__(
        self,
        *args: Any,
        lead: Lead,
        contacts: list[Contact],
        companies: list[Company],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        from apps.deals.models import Pipeline, Stage

        name = lead.full_name or lead.email
        self.fields["contact_choice"].choices = [  # type: ignore[attr-defined]
            ("new", f"Create a new contact: {name}"),
            *((f"link:{c.pk}", f"Link existing contact {c} {c.email}".strip()) for c in contacts),
        ]
        self.fields["company_choice"].choices = [  # type: ignore[attr-defined]
            *((f"link:{c.pk}", f"Link existing company {c.name}") for c in companies),
            *(
                [("new", f"Create a new company: {lead.company_name}")]
                if lead.company_name.strip()
                else []
            ),
            ("none", "No company"),
        ]
        self.initial.setdefault("contact_choice", f"link:{contacts[0].pk}" if contacts else "new")
        self.initial.setdefault(
            "company_choice",
            f"link:{companies[0].pk}"
            if companies
            else ("new" if lead.company_name.strip() else "none"),
        )
        self.initial.setdefault("deal_title", f"{lead.company_name or name} deal")
        pipelines = list(Pipeline.objects.filter(archived=False).order_by("-is_default", "order"))
        self.fields["deal_pipeline"].choices = [  # type: ignore[attr-defined]
            (str(p.pk), p.name) for p in pipelines
        ] or [("", "Default pipeline")]
        self.fields["deal_stage"].choices = [  # type: ignore[attr-defined]
            ("", "First open stage"),
            *(
                (str(s.pk), f"{s.pipeline.name}: {s.name}")
                for s in Stage.objects.filter(pipeline__in=pipelines, kind="open")
                .select_related("pipeline")
                .order_by("pipeline__order", "order")
            ),
        ]


def _mapping_rows(lead: Lead) -> list[dict[str, Any]]:
    """One row per lead custom field: its value and the targets it may go to."""
    defaults = conversion.default_mapping()
    targets = [
        (f"{f.entity}.{f.key}", f"{f.get_entity_display()}: {f.label}")
        for f in CustomField.objects.filter(entity__in=conversion.TARGETS, archived=False).order_by(
            "entity", "order"
        )
    ]
    return [
        {
            "key": field.key,
            "label": field.label,
            "value": lead.custom_fields.get(field.key),
            "targets": targets,
            "chosen": set(defaults.get(field.key, [])),
        }
        for field in customfields.definitions("lead")
    ]


def _deal_url(deal: Any) -> str:
    from django.urls import NoReverseMatch

    if deal is None:
        return ""
    try:
        return reverse("deals:detail", args=[deal.pk])
    except NoReverseMatch:  # pragma: no cover - the deal pages arrive with the deals app
        return ""


def _linked(choice: str, model: Any, user: Any) -> Any:
    kind, _, pk = choice.partition(":")
    if kind != "link":
        return None
    found = visibility.visible(model.objects.all(), user).filter(pk=pk).first()
    if found is None:
        raise ValidationError("That record is no longer there.")
    return found


@login_required
def lead_convert(request: HttpRequest, pk: int) -> HttpResponse:
    lead = selectors.lead_get(user=request.user, pk=pk)
    if lead.status == LeadStatus.CONVERTED:
        messages.error(request, f"{lead} was already converted.")
        return redirect("leads:detail", pk=lead.pk)
    if not visibility.can_change(request.user, lead):
        return _refused(request, "You may not convert this lead.")
    contacts = conversion.contact_suggestions(actor=request.user, lead=lead)
    companies = conversion.company_suggestions(actor=request.user, lead=lead)
    form = ConvertForm(request.POST or None, lead=lead, contacts=contacts, companies=companies)
    rows = _mapping_rows(lead)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        mapping = {row["key"]: request.POST.getlist(f"map_{row['key']}") for row in rows}
        try:
            contact = _linked(data["contact_choice"], Contact, request.user)
            company = _linked(data["company_choice"], Company, request.user)
            deal = {
                "title": data["deal_title"],
                "value": data["deal_value"],
                "currency": data["deal_currency"].upper(),
                "pipeline": data["deal_pipeline"],
                "stage": data["deal_stage"],
                "expected_close": data["deal_expected_close"],
            }
            result = conversion.lead_convert(
                actor=request.user,
                lead=lead,
                contact=contact,
                company=company,
                company_mode=data["company_choice"] if company is None else "auto",
                create_deal=data["create_deal"],
                deal=deal,
                field_mapping=mapping,
            )
        except PermissionDenied as exc:
            return _refused(request, str(exc))
        except ValidationError as exc:
            errors = exc.message_dict if hasattr(exc, "error_dict") else {"": exc.messages}
            for key, problems in errors.items():
                name = key.replace("deal.", "deal_") if key.startswith("deal.") else None
                form.add_error(
                    name if name in form.fields else None,
                    [f"{key}: {p}" if key and name not in form.fields else p for p in problems],
                )
        else:
            deal_url = _deal_url(result.deal)
            if result.deal is not None and deal_url:
                messages.success(
                    request,
                    format_html(
                        'Converted {} into this contact. Deal: <a href="{}">{}</a>',
                        lead,
                        deal_url,
                        result.deal.title,
                    ),
                )
            elif result.deal is not None:
                messages.success(
                    request, f"Converted {lead} into this contact. Deal: {result.deal.title}"
                )
            else:
                messages.success(request, f"Converted {lead} into this contact.")
            return redirect("contacts:detail", pk=result.contact.pk)
    return render(
        request,
        "leads/convert.html",
        {"lead": lead, "form": form, "rows": rows, "contacts": contacts, "companies": companies},
    )
