from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache

from apps.core.ratelimit import rate_limit

from ..services import login_handoff_redeem


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
