from __future__ import annotations

from datetime import timedelta

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from apps.accounts.web.decorators import admin_required
from apps.core.ratelimit import client_ip

from ..models import ApiKey
from ..services import api_key_create, api_key_revoke
from .forms import ApiKeyForm


@admin_required
def key_list(request: HttpRequest) -> HttpResponse:
    form = ApiKeyForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        days = form.cleaned_data["expires_in_days"]
        issued = api_key_create(
            name=form.cleaned_data["name"],
            role=form.cleaned_data["role"],
            scopes=form.cleaned_data["scopes"],
            expires_at=timezone.now() + timedelta(days=days) if days else None,
            created_by=request.user,  # type: ignore[arg-type]
            ip_address=client_ip(request),
        )
        # Shown once, on this response only; never stored or sent again.
        return render(request, "apikeys/created.html", {"issued": issued})
    keys = ApiKey.objects.select_related("created_by")
    return render(request, "apikeys/list.html", {"keys": keys, "form": form})


@admin_required
@require_POST
def key_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    key = get_object_or_404(ApiKey, pk=pk)
    api_key_revoke(key=key, actor=request.user, ip_address=client_ip(request))  # type: ignore[arg-type]
    messages.success(request, f"Revoked {key.name}; it is refused from its next request.")
    return redirect("apikeys:list")
