"""Settings → Background jobs: the organisation's background work that failed for good.
Owners and Admins only."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from apps.accounts.web.decorators import admin_required
from apps.core.ratelimit import client_ip

from ..models import FailedTask
from ..selectors import failed_task_page
from ..services import failed_task_resolve


@admin_required
def failed_task_index(request: HttpRequest) -> HttpResponse:
    context = failed_task_page(params=request.GET, resolve_url="backgroundjobs:resolve")
    return render(request, "core/background_jobs.html", context)


@admin_required
@require_POST
def failed_task_mark_resolved(request: HttpRequest, pk: int) -> HttpResponse:
    task = get_object_or_404(FailedTask, pk=pk)
    failed_task_resolve(failed_task=task, actor=request.user, ip_address=client_ip(request))
    messages.success(request, f"Marked {task.task_name} (#{task.pk}) resolved.")
    back = request.POST.get("next", "")
    if url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
        return redirect(back)
    return redirect(reverse("backgroundjobs:list"))
