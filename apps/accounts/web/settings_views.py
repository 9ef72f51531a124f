"""Settings → Users: members, roles, invitations, deactivation. Owners and Admins only."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from apps.core.ratelimit import client_ip

from ..models import Invitation, User
from ..services import (
    invitation_create,
    invitation_revoke,
    user_change_role,
    user_set_active,
)
from .decorators import admin_required
from .forms import InviteForm, RoleForm


@admin_required
def user_list(request: HttpRequest) -> HttpResponse:
    form = InviteForm(request.POST or None)
    invite_link = None
    if request.method == "POST" and form.is_valid():
        try:
            issued = invitation_create(
                email=form.cleaned_data["email"],
                role=form.cleaned_data["role"],
                invited_by=request.user,  # type: ignore[arg-type]
                ip_address=client_ip(request),
            )
        except ValidationError as exc:
            form.add_error("email", exc)
        else:
            invite_link = request.build_absolute_uri(
                reverse("accounts:invitation", args=[issued.token])
            )
            _send_invitation(request, issued.invitation.email, invite_link)
            messages.success(request, f"Invitation sent to {issued.invitation.email}.")
            form = InviteForm()
    users = User.objects.prefetch_related("groups").order_by("-is_active", "email")
    pending = [i for i in Invitation.objects.select_related("invited_by") if i.is_pending]
    return render(
        request,
        "accounts/settings_users.html",
        {
            "users": users,
            "pending": pending,
            "form": form,
            "invite_link": invite_link,
            "role_form": RoleForm(),
        },
    )


def _send_invitation(request: HttpRequest, email: str, link: str) -> None:
    from django.core.mail import send_mail

    tenant = request.tenant  # type: ignore[attr-defined]
    inviter = request.user.get_full_name()  # type: ignore[union-attr]
    send_mail(
        f"{inviter} invited you to {tenant.name} on Kestrel",
        f"{inviter} invited you to join {tenant.name} on Kestrel CRM.\n\n"
        f"Accept within 7 days: {link}\n",
        None,
        [email],
    )


@admin_required
@require_POST
def user_role(request: HttpRequest, pk: int) -> HttpResponse:
    member = get_object_or_404(User, pk=pk)
    form = RoleForm(request.POST)
    if form.is_valid():
        try:
            user_change_role(
                user=member,
                role=form.cleaned_data["role"],
                actor=request.user,  # type: ignore[arg-type]
                ip_address=client_ip(request),
            )
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(
                request, f"{member} is now {member.role.label if member.role else ''}."
            )
    return redirect("members:list")


@admin_required
@require_POST
def user_active(request: HttpRequest, pk: int) -> HttpResponse:
    member = get_object_or_404(User, pk=pk)
    active = request.POST.get("active") == "1"
    try:
        user_set_active(
            user=member,
            active=active,
            actor=request.user,  # type: ignore[arg-type]
            ip_address=client_ip(request),
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(
            request,
            f"{member} is {'active again' if active else 'deactivated'}; "
            "their records stay as they were.",
        )
    return redirect("members:list")


@admin_required
@require_POST
def invitation_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    invitation = get_object_or_404(Invitation, pk=pk)
    invitation_revoke(invitation=invitation, actor=request.user)  # type: ignore[arg-type]
    messages.success(request, f"Invitation for {invitation.email} withdrawn.")
    return redirect("members:list")
