from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponseBase
from django.shortcuts import render

View = Callable[..., HttpResponseBase]


def admin_required(view: View) -> View:
    """Owners and Admins only; others see a clear refusal, anonymous visitors sign in first."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        user = request.user
        if not user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not getattr(user, "is_admin", False):
            return render(request, "accounts/admin_only.html", status=403)
        return view(request, *args, **kwargs)

    return wrapper
