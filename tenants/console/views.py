"""The operator console: platform staff manage organisations. Every action is audit-logged."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from apps.core.models import FailedTask
from apps.core.ratelimit import client_ip, rate_limit
from apps.core.selectors import failed_task_page
from apps.core.services import platform_failed_task_resolve
from tenants import provisioning, schemas, services
from tenants.models import AuditEvent, Tenant, TenantStatus
from tenants.selectors import tenant_counts, tenant_list

from .forms import SuspendForm, TenantCreateForm, TenantDeleteForm

View = Callable[..., HttpResponseBase]
PAGE_SIZE = 25


def staff_required(view: View) -> View:
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        user = request.user
        if not user.is_authenticated:
            return redirect(f"{reverse('console:login')}?next={request.get_full_path()}")
        if not (user.is_active and user.is_staff):
            return render(request, "tenants/console/forbidden.html", status=403)
        return view(request, *args, **kwargs)

    return wrapper


class ConsoleLoginView(auth_views.LoginView):
    template_name = "tenants/console/login.html"
    redirect_authenticated_user = True

    def get_default_redirect_url(self) -> str:
        return reverse("console:tenants")


console_login = rate_limit(scope="console-login", methods=("POST",))(ConsoleLoginView.as_view())


def _actor(request: HttpRequest) -> str:
    return str(getattr(request.user, "email", "operator"))


@staff_required
def tenant_index(request: HttpRequest) -> HttpResponse:
    search = request.GET.get("q", "").strip()
    status = request.GET.get("status", "")
    page = Paginator(tenant_list(search=search, status=status), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    counts = tenant_counts(list(page.object_list))
    rows = [(tenant, counts.get(tenant.schema_name)) for tenant in page.object_list]
    return render(
        request,
        "tenants/console/tenant_list.html",
        {
            "page": page,
            "rows": rows,
            "search": search,
            "status": status,
            "statuses": TenantStatus.choices,
            "pool_size": provisioning.warm_pool_size(),
            "template_ready": schemas.exists(provisioning.template_schema()),
        },
    )


@staff_required
def tenant_create(request: HttpRequest) -> HttpResponse:
    form = TenantCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            result = provisioning.tenant_provision(
                slug=data["slug"],
                name=data["name"],
                owner_email=data["owner_email"],
                owner_password=data["owner_password"] or None,
                plan=data["plan"],
                actor=_actor(request),
                ip_address=client_ip(request),
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(
                request,
                f"Created {result.tenant.name} at {result.url} in "
                f"{result.seconds * 1000:.0f} ms ({result.source}).",
            )
            return redirect("console:tenant", slug=result.tenant.slug)
    return render(request, "tenants/console/tenant_create.html", {"form": form})


@staff_required
def tenant_detail(request: HttpRequest, slug: str) -> HttpResponse:
    tenant = get_object_or_404(tenant_list(), slug=slug)
    return render(
        request,
        "tenants/console/tenant_detail.html",
        {
            "tenant": tenant,
            "counts": tenant_counts([tenant]).get(tenant.schema_name),
            "events": AuditEvent.objects.filter(tenant_slug=slug)[:50],
            "suspend_form": SuspendForm(),
        },
    )


@staff_required
@require_POST
def tenant_suspend(request: HttpRequest, slug: str) -> HttpResponse:
    tenant = get_object_or_404(Tenant, slug=slug)
    form = SuspendForm(request.POST)
    reason = form.cleaned_data["reason"] if form.is_valid() else ""
    services.tenant_suspend(
        tenant=tenant, actor=_actor(request), reason=reason, ip_address=client_ip(request)
    )
    messages.success(request, f"{tenant.name} is suspended; its users now see a notice.")
    return redirect("console:tenant", slug=slug)


@staff_required
@require_POST
def tenant_resume(request: HttpRequest, slug: str) -> HttpResponse:
    tenant = get_object_or_404(Tenant, slug=slug)
    services.tenant_resume(tenant=tenant, actor=_actor(request), ip_address=client_ip(request))
    messages.success(request, f"{tenant.name} is active again.")
    return redirect("console:tenant", slug=slug)


@staff_required
def tenant_delete(request: HttpRequest, slug: str) -> HttpResponse:
    tenant = get_object_or_404(Tenant, slug=slug)
    form = TenantDeleteForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            final_backup = services.tenant_delete(
                tenant=tenant,
                confirmation=form.cleaned_data["confirmation"],
                actor=_actor(request),
                ip_address=client_ip(request),
            )
        except ValidationError as exc:
            form.add_error(None if exc.code == "backup_failed" else "confirmation", exc)
        else:
            kept = f" Its final backup is kept at {final_backup}." if final_backup else ""
            messages.success(request, f"Deleted {tenant.name} and all of its data.{kept}")
            return redirect("console:tenants")
    return render(
        request,
        "tenants/console/tenant_delete.html",
        {
            "tenant": tenant,
            "form": form,
            "final_backup": settings.KESTREL_BACKUP_ON_DELETE,
            "backup_dir": settings.KESTREL_BACKUP_DIR,
        },
    )


@staff_required
def audit_log(request: HttpRequest) -> HttpResponse:
    page = Paginator(AuditEvent.objects.all(), 50).get_page(request.GET.get("page"))
    return render(request, "tenants/console/audit_log.html", {"page": page})


@staff_required
def failed_tasks(request: HttpRequest) -> HttpResponse:
    """The platform's own background work (public schema: sign-up emails, the warm pool, the
    dispatcher) that failed after all its retries."""
    context = failed_task_page(params=request.GET, resolve_url="console:failed-task-resolve")
    return render(request, "tenants/console/failed_tasks.html", context)


@staff_required
@require_POST
def failed_task_resolve(request: HttpRequest, pk: int) -> HttpResponse:
    task = get_object_or_404(FailedTask, pk=pk)
    platform_failed_task_resolve(
        failed_task=task, actor=_actor(request), ip_address=client_ip(request)
    )
    messages.success(request, f"Marked {task.task_name} (#{task.pk}) resolved.")
    back = request.POST.get("next", "")
    if url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
        return redirect(back)
    return redirect("console:failed-tasks")
