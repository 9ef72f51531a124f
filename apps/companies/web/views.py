"""Company pages: the shared record pages (apps.records.web) configured for companies, plus
sharing."""

from __future__ import annotations

from typing import Any

from django import forms
from django.http import HttpRequest

from apps.accounts.models import User
from apps.records.web.forms import RecordForm, ShareForm
from apps.records.web.views import RecordWeb

from .. import selectors, services
from ..models import CompanySize

TEXT_FIELDS = (
    "name",
    "domain",
    "industry",
    "size",
    "phone",
    "street",
    "city",
    "region",
    "postal_code",
    "country",
)


class CompanyForm(RecordForm):
    entity = "company"
    name = forms.CharField(max_length=200)
    domain = forms.CharField(max_length=253, required=False, help_text="e.g. example.com")
    industry = forms.CharField(max_length=100, required=False)
    size = forms.ChoiceField(choices=[("", "—"), *CompanySize.choices], required=False)
    phone = forms.CharField(max_length=40, required=False)
    owner = forms.ModelChoiceField(queryset=User.objects.filter(is_active=True), required=False)
    street = forms.CharField(max_length=200, required=False)
    city = forms.CharField(max_length=100, required=False)
    region = forms.CharField(label="State / region", max_length=100, required=False)
    postal_code = forms.CharField(max_length=20, required=False)
    country = forms.CharField(max_length=100, required=False)

    field_order = ["name", "domain", "industry", "size", "phone", "owner"]

    def __init__(self, *args: Any, record: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, record=record, **kwargs)
        if record is not None:
            for name in TEXT_FIELDS:
                self.initial[name] = getattr(record, name)
            self.initial["owner"] = record.owner_id


def _form_to_service(form: CompanyForm) -> dict[str, Any]:
    data = form.cleaned_data
    kwargs: dict[str, Any] = {name: data[name] for name in TEXT_FIELDS}
    if data.get("owner"):
        kwargs["owner"] = data["owner"]
    kwargs["tags"] = form.tag_names()
    kwargs["custom_fields"] = form.custom_values()
    return kwargs


def _detail_extra(request: HttpRequest, company: Any) -> dict[str, Any]:
    from apps.contacts.models import ContactCompany
    from apps.contacts.selectors import contact_list

    links = (
        ContactCompany.objects.filter(
            company=company, contact__in=contact_list(user=request.user).values("pk")
        )
        .select_related("contact")
        .order_by("-is_primary", "contact__last_name")[:100]
    )
    return {"share_form": ShareForm(), "contact_links": links}


WEB = RecordWeb(
    key="company",
    form_class=CompanyForm,
    select=lambda user, params: selectors.company_list(user=user, params=params),
    get=lambda user, pk: selectors.company_get(user=user, pk=pk),
    create=services.company_create,
    update=services.company_update,
    delete=services.company_delete,
    merge=services.company_merge,
    merge_spec=services.merge_spec,
    duplicate_pairs=selectors.company_duplicate_pairs,
    form_to_service=_form_to_service,
    record_kwarg="company",
    detail_extra=_detail_extra,
)
