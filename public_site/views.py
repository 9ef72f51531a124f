from __future__ import annotations

from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from apps.core.ratelimit import client_ip, rate_limit
from apps.core.urls_util import host_url, tenant_host
from tenants.provisioning import tenant_provision
from tenants.tasks import workspace_reminder_send

from .forms import FindWorkspaceForm, SignupForm


def landing(request: HttpRequest) -> HttpResponse:
    return render(request, "public_site/landing.html")


@require_http_methods(["GET", "POST"])
@rate_limit(scope="signup", methods=("POST",))
def signup(request: HttpRequest) -> HttpResponse:
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            result = tenant_provision(
                slug=data["slug"],
                name=data["organisation"],
                owner_email=data["email"],
                owner_password=data["password"],
                owner_name=data["full_name"],
                actor=f"signup:{data['email']}",
                ip_address=client_ip(request),
            )
        except ValidationError as exc:
            form.add_error("slug" if getattr(exc, "code", "").startswith("slug") else None, exc)
        else:
            from django_tenants.utils import schema_context

            from apps.accounts.services import login_handoff_create

            with schema_context(result.tenant.schema_name):
                token = login_handoff_create(user=result.owner)
            # Cookies are host-only, so the new owner is signed in on their own subdomain
            # through a one-time link rather than by a session made here.
            return redirect(
                host_url(
                    tenant_host(result.tenant.slug),
                    f"{reverse('accounts:handoff', urlconf='config.urls_tenant')}?token={token}",
                    request,
                )
            )
    return render(request, "public_site/signup.html", {"form": form})


@require_http_methods(["GET", "POST"])
@rate_limit(scope="find-workspace", methods=("POST",))
def find_workspace(request: HttpRequest) -> HttpResponse:
    form = FindWorkspaceForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        # The answer goes by email, and the page says the same whatever the address, so the
        # form cannot be used to learn who works where.
        workspace_reminder_send.delay(
            email=form.cleaned_data["email"].lower(),
            scheme=request.scheme or "https",
            port=request.get_port(),
        )
        return render(request, "public_site/find_sent.html", {"email": form.cleaned_data["email"]})
    return render(request, "public_site/find.html", {"form": form})
