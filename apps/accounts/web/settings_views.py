"""Settings → Users and Teams: members, roles, invitations, deactivation, teams.
Owners and Admins only."""

from __future__ import annotations

from typing import cast

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from apps.core.ratelimit import client_ip

from ..models import Invitation, Team, User
from ..services import (
    invitation_create,
    invitation_revoke,
    role_set_permissions,
    team_create,
    team_delete,
    team_update,
    user_change_role,
    user_reassign_records,
    user_set_active,
)
from .decorators import admin_required
from .forms import InviteForm, RoleForm, TeamForm, TeamMembersForm


def _me(request: HttpRequest) -> User:
    # admin_required has already established a signed-in member.
    return cast(User, request.user)


@admin_required
def user_list(request: HttpRequest) -> HttpResponse:
    form = InviteForm(request.POST or None)
    invite_link = None
    if request.method == "POST" and form.is_valid():
        try:
            issued = invitation_create(
                email=form.cleaned_data["email"],
                role=form.cleaned_data["role"],
                invited_by=_me(request),
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
                actor=_me(request),
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
            actor=_me(request),
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
    invitation_revoke(invitation=invitation, actor=_me(request))
    messages.success(request, f"Invitation for {invitation.email} withdrawn.")
    return redirect("members:list")


@admin_required
def team_list(request: HttpRequest) -> HttpResponse:
    form = TeamForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            team = team_create(
                name=form.cleaned_data["name"],
                manager=form.cleaned_data["manager"],
                actor=_me(request),
            )
        except ValidationError as exc:
            form.add_error("name", exc)
        else:
            messages.success(request, f"Team {team.name} created.")
            return redirect("teams:detail", pk=team.pk)
    teams = Team.objects.select_related("manager").prefetch_related("members")
    return render(request, "accounts/settings_teams.html", {"teams": teams, "form": form})


@admin_required
def team_detail(request: HttpRequest, pk: int) -> HttpResponse:
    team = get_object_or_404(Team, pk=pk)
    initial = {"manager": team.manager, "members": list(team.members.all())}
    form = TeamMembersForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        team_update(
            team=team,
            manager=form.cleaned_data["manager"],
            members=list(form.cleaned_data["members"]),
            actor=_me(request),
        )
        messages.success(request, f"Team {team.name} saved.")
        return redirect("teams:detail", pk=team.pk)
    return render(request, "accounts/settings_team.html", {"team": team, "form": form})


@admin_required
@require_POST
def team_remove(request: HttpRequest, pk: int) -> HttpResponse:
    team = get_object_or_404(Team, pk=pk)
    team_delete(team=team, actor=_me(request))
    messages.success(request, f"Team {team.name} deleted; its members keep their accounts.")
    return redirect("teams:list")


@admin_required
def role_permissions(request: HttpRequest) -> HttpResponse:
    """A table of model permissions by role, with a checkbox per cell."""
    from django.contrib.auth.models import Group, Permission

    from ..roles import ROLE_MANAGED_APPS, Role, group_name

    permissions = list(
        Permission.objects.filter(content_type__app_label__in=ROLE_MANAGED_APPS)
        .select_related("content_type")
        .order_by("content_type__app_label", "content_type__model", "codename")
    )
    editable = [role for role in Role if role != Role.OWNER]
    if request.method == "POST":
        for role in editable:
            chosen = {int(v) for v in request.POST.getlist(f"role-{role.value}") if v.isdigit()}
            role_set_permissions(
                role=role, permission_ids=chosen, actor=_me(request), ip_address=client_ip(request)
            )
        messages.success(request, "Role permissions saved.")
        return redirect("roles:list")
    held = {
        role: set(Group.objects.get(name=group_name(role)).permissions.values_list("pk", flat=True))
        for role in editable
    }
    rows = [(p, [(role, p.pk in held[role]) for role in editable]) for p in permissions]
    return render(request, "accounts/settings_roles.html", {"rows": rows, "roles": editable})


@admin_required
@require_POST
def user_reassign(request: HttpRequest, pk: int) -> HttpResponse:
    member = get_object_or_404(User, pk=pk)
    target = User.objects.filter(pk=request.POST.get("to") or 0).first()
    if target is None:
        messages.error(request, "Choose who should receive the records.")
        return redirect("members:list")
    try:
        moved = user_reassign_records(
            from_user=member, to_user=target, actor=_me(request), ip_address=client_ip(request)
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        total = sum(moved.values())
        messages.success(
            request, f"Moved {total} record{'s' if total != 1 else ''} from {member} to {target}."
        )
    return redirect("members:list")
