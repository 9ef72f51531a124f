"""Company pages: the shared record pages (apps.records.web) configured for companies, plus
sharing."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from apps.accounts.models import Team, User
from apps.records.web.forms import RecordForm
from apps.records.web.views import RecordWeb, _refused

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


class ShareForm(forms.Form):
    who = forms.ChoiceField(label="Share with")
    level = forms.ChoiceField(choices=[("view", "Can view"), ("edit", "Can edit")])

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        users = [(f"user:{u.pk}", u.get_full_name()) for u in User.objects.filter(is_active=True)]
        teams = [(f"team:{t.pk}", f"Team {t.name}") for t in Team.objects.all()]
        self.fields["who"].choices = [("", "Choose…"), *users, *teams]  # type: ignore[attr-defined]

    def target(self) -> dict[str, Any]:
        kind, _, pk = self.cleaned_data["who"].partition(":")
        return (
            {"user": User.objects.get(pk=pk)}
            if kind == "user"
            else {"team": Team.objects.get(pk=pk)}
        )


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


@login_required
@require_POST
def company_share(request: HttpRequest, pk: int) -> HttpResponse:
    company = selectors.company_get(user=request.user, pk=pk)
    form = ShareForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose someone to share with.")
        return redirect("companies:detail", pk=company.pk)
    try:
        services.company_share(
            actor=request.user, company=company, level=form.cleaned_data["level"], **form.target()
        )
    except PermissionDenied as exc:
        return _refused(request, str(exc))
    messages.success(request, f"Shared {company.name}.")
    return redirect("companies:detail", pk=company.pk)
