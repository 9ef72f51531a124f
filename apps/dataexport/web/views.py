"""Settings → Export all data: ask for a zip of everything, follow it while it is built,
download it. Owners and Admins only."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from apps.accounts.web.decorators import admin_required
from apps.core.ratelimit import client_ip

from .. import services
from ..downloads import zip_response
from ..models import DataExport

# htmx stops polling on this status (see the imports' progress bar).
STOP_POLLING = 286


def _row(export: DataExport) -> dict[str, object]:
    return {"export": export, "progress": services.progress(export)}


@admin_required
@require_GET
def export_index(request: HttpRequest) -> HttpResponse:
    services.fail_stale()
    exports = list(services.export_list(user=request.user)[:50])
    active = next((e for e in exports if e.is_active), None)
    context = {
        "rows": [_row(e) for e in exports],
        "active": active,
        "expiry_days": services.EXPIRY.days,
    }
    return render(request, "dataexport/list.html", context)


@admin_required
@require_POST
def export_request(request: HttpRequest) -> HttpResponse:
    try:
        services.export_request(actor=request.user, ip_address=client_ip(request))
    except services.ExportInProgress as exc:
        messages.error(request, str(exc))
    else:
        messages.success(
            request,
            "Your export is being built. You can leave this page: we will email you a link "
            "when it is ready.",
        )
    return redirect("dataexport:list")


@require_GET
def export_progress(request: HttpRequest, pk: int) -> HttpResponse:
    """The progress bar of an export being built, polled every second; once it has finished
    the answer stops the polling and reloads the page, which then shows the download."""
    user = request.user
    if not user.is_authenticated:
        return HttpResponse(status=STOP_POLLING)
    if not services.may_export(user):
        return HttpResponse(status=403)
    export = services.export_get(user=user, pk=pk)
    response = render(request, "dataexport/_progress.html", _row(export))
    response["Cache-Control"] = "no-store"
    if not export.is_active:
        response.status_code = STOP_POLLING
        response["HX-Refresh"] = "true"
    return response


@admin_required
@require_GET
def export_download(request: HttpRequest, pk: int) -> HttpResponseBase:
    """The zip, as an attachment, for Owners and Admins signed in to this organisation."""
    export = services.export_get(user=request.user, pk=pk)
    if not export.downloadable:
        messages.error(
            request, "That export is not available (still being built, failed or expired)."
        )
        return redirect("dataexport:list")
    try:
        handle = export.file.open("rb")
    except FileNotFoundError:
        messages.error(request, "That export's file is gone; ask for a new export.")
        return redirect("dataexport:list")
    return zip_response(export, handle, request)
