"""The notifications centre: the list, the bell's badge, marking read, and settings. Thin: every
read goes through the selectors (the signed-in person's own notifications only), every write
through the services."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from .. import selectors, services
from .forms import NotificationSettingsForm

PAGE_SIZE = 25
# htmx stops polling when an answer has this status: a signed-out tab stops asking.
STOP_POLLING = 286
# Sent with every change of read state, so the bell's count follows at once.
CHANGED_EVENT = "notifications-changed"


def safe_path(url: str) -> str | None:
    """`url` if it is a path on this host ("/deals/12/"), else None: a notification never
    sends anyone to another site, whatever its stored url says."""
    if not url or not url.startswith("/") or url.startswith("//") or "\\" in url:
        return None
    if not url_has_allowed_host_and_scheme(url, allowed_hosts=None):
        return None
    return url


def _list_url(request: HttpRequest) -> str:
    return safe_path(request.POST.get("next", "")) or reverse("notifications:list")


@login_required
@require_GET
def notification_list(request: HttpRequest) -> HttpResponse:
    unread_only = request.GET.get("unread", "") in ("1", "true", "on")
    found = selectors.notification_list(user=request.user, unread=unread_only)
    page = Paginator(found, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "notifications/list.html",
        {
            "page": page,
            "unread_only": unread_only,
            "unread_count": selectors.unread_count(user=request.user),
            "next": request.get_full_path(),
        },
    )


@require_GET
def badge(request: HttpRequest) -> HttpResponse:
    """The bell's unread count, polled by htmx. Signed out: an empty answer that stops the
    polling (never the sign-in page swapped into the header)."""
    if not request.user.is_authenticated:
        return HttpResponse(status=STOP_POLLING)
    response = render(
        request,
        "notifications/_badge.html",
        {"unread": selectors.unread_count(user=request.user)},
    )
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_GET
def open_notification(request: HttpRequest, pk: int) -> HttpResponse:
    """Following a notification (in the list or from its email) marks it read and goes where
    it points, if that is a path on this host; else back to the list."""
    notification = selectors.notification_get(user=request.user, pk=pk)
    services.notification_mark_read(actor=request.user, notification=notification)
    return redirect(safe_path(notification.url) or reverse("notifications:list"))


@login_required
@require_POST
def mark_read(request: HttpRequest, pk: int) -> HttpResponse:
    notification = selectors.notification_get(user=request.user, pk=pk)
    services.notification_mark_read(actor=request.user, notification=notification)
    if request.headers.get("HX-Request"):
        response = render(
            request,
            "notifications/_item.html",
            {"n": notification, "next": _list_url(request), "just_read": True},
        )
        response["HX-Trigger"] = CHANGED_EVENT
        return response
    return redirect(_list_url(request))


@login_required
@require_POST
def mark_all_read(request: HttpRequest) -> HttpResponse:
    count = services.notification_mark_all_read(actor=request.user)
    if count:
        messages.success(
            request, f"Marked {count} notification{'s' if count != 1 else ''} as read."
        )
    return redirect(_list_url(request))


@login_required
def settings_edit(request: HttpRequest) -> HttpResponse:
    row = selectors.settings_for(request.user)
    form = NotificationSettingsForm.for_settings(
        row, data=request.POST if request.method == "POST" else None
    )
    if request.method == "POST" and form.is_valid():
        values: dict[str, Any] = dict(form.cleaned_data)
        try:
            services.notification_settings_update(actor=request.user, **values)
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            messages.success(request, "Notification settings saved.")
            return redirect("notifications:settings")
    return render(
        request,
        "notifications/settings.html",
        {"form": form},
        status=400 if form.errors else 200,
    )
