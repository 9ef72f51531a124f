from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from apps.accounts.models import Team, User
from apps.core import visibility

from .. import selectors, services
from ..models import Company


class CompanyForm(forms.Form):
    name = forms.CharField(max_length=200)
    domain = forms.CharField(max_length=253, required=False)


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


def _refused(request: HttpRequest, message: str) -> HttpResponse:
    return render(request, "companies/refused.html", {"message": message}, status=403)


@login_required
def company_list(request: HttpRequest) -> HttpResponse:
    search = request.GET.get("q", "").strip()
    page = Paginator(selectors.company_list(user=request.user, search=search), 50).get_page(
        request.GET.get("page")
    )
    return render(
        request,
        "companies/list.html",
        {
            "page": page,
            "search": search,
            "can_create": visibility.can_create(request.user, Company),
        },
    )


@login_required
def company_create(request: HttpRequest) -> HttpResponse:
    if not visibility.can_create(request.user, Company):
        return _refused(request, "Read-only access cannot create records.")
    form = CompanyForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        company = services.company_create(actor=request.user, **form.cleaned_data)
        messages.success(request, f"Created {company.name}.")
        return redirect("companies:detail", pk=company.pk)
    return render(request, "companies/form.html", {"form": form})


@login_required
def company_detail(request: HttpRequest, pk: int) -> HttpResponse:
    company = selectors.company_get(user=request.user, pk=pk)
    form = CompanyForm(
        request.POST or None, initial={"name": company.name, "domain": company.domain}
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.company_update(actor=request.user, company=company, **form.cleaned_data)
        except PermissionDenied as exc:
            return _refused(request, str(exc))
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, "Saved.")
            return redirect("companies:detail", pk=company.pk)
    return render(
        request,
        "companies/detail.html",
        {
            "company": company,
            "form": form,
            "can_change": visibility.can_change(request.user, company),
            "can_delete": visibility.can_delete(request.user, company),
            "share_form": ShareForm(),
        },
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


@login_required
@require_POST
def company_delete(request: HttpRequest, pk: int) -> HttpResponse:
    company = selectors.company_get(user=request.user, pk=pk)
    try:
        services.company_delete(actor=request.user, company=company)
    except PermissionDenied as exc:
        return _refused(request, str(exc))
    messages.success(request, f"Deleted {company.name}.")
    return redirect("companies:list")
