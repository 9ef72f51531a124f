from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache

from apps.core.ratelimit import rate_limit

from ..services import invitation_accept, invitation_for_token, login_handoff_redeem
from .forms import AcceptInvitationForm, ProfileForm

# Failed sign-ins are audit-logged (apps.audit.signals) and limited per client address.
login_view = rate_limit(scope="login", methods=("POST",))(
    auth_views.LoginView.as_view(template_name="accounts/login.html")
)
password_reset = rate_limit(scope="password-reset", methods=("POST",))(
    auth_views.PasswordResetView.as_view(
        template_name="accounts/password_reset.html",
        email_template_name="accounts/password_reset_email.txt",
        subject_template_name="accounts/password_reset_subject.txt",
        success_url="/accounts/password-reset/sent/",
    )
)


@never_cache
@rate_limit(scope="handoff")
def handoff(request: HttpRequest) -> HttpResponse:
    """Signs in the owner who just created this organisation on the public host."""
    user = login_handoff_redeem(token=request.GET.get("token", ""))
    if user is None:
        return render(request, "accounts/handoff_invalid.html", status=400)
    login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    messages.success(request, "Welcome to Kestrel! Your workspace is ready.")
    return redirect("core:home")


@never_cache
@rate_limit(scope="invitation", methods=("POST",))
def invitation(request: HttpRequest, token: str) -> HttpResponse:
    pending = invitation_for_token(token)
    if pending is None:
        return render(request, "accounts/invitation_invalid.html", status=404)
    form = AcceptInvitationForm(request.POST or None, email=pending.email)
    if request.method == "POST" and form.is_valid():
        try:
            user = invitation_accept(
                token=token,
                full_name=form.cleaned_data["full_name"],
                password=form.cleaned_data["password"],
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            messages.success(request, f"Welcome to {request.tenant.name}!")  # type: ignore[attr-defined]
            return redirect("core:home")
    return render(request, "accounts/invitation.html", {"form": form, "invitation": pending})


@login_required
def profile(request: HttpRequest) -> HttpResponse:
    form = ProfileForm(request.POST or None, instance=request.user)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, "Profile saved.")
        return redirect("accounts:profile")
    return render(request, "accounts/profile.html", {"form": form})
