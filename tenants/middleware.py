"""Chooses the tenant, and so the PostgreSQL schema, for each request from its Host."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import DisallowedHost
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import set_urlconf

from apps.core.api.errors import ErrorCode, error_response
from apps.core.middleware import with_security_headers
from apps.core.web import views as core_views
from tenants.db import connection

from .routing import host_table

_HEALTH_VIEWS = {"/healthz": core_views.healthz, "/readyz": core_views.readyz}


class TenantRoutingMiddleware:
    """Must be first: nothing may touch the database before the schema is chosen.

    The schema is switched once here; django-tenants then issues a single `SET search_path`
    on the request's first query (TENANT_LIMIT_SET_CALLS), not one per query.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.public_urlconf = settings.PUBLIC_SCHEMA_URLCONF
        self.tenant_urlconf = settings.ROOT_URLCONF
        self.base_domain = settings.KESTREL_BASE_DOMAIN
        self.public_hosts = {self.base_domain, f"www.{self.base_domain}"}

    def __call__(self, request: HttpRequest) -> HttpResponse:
        connection.set_schema_to_public()
        # Probes may not know the public name (e.g. a pod's IP), and answer nothing private.
        health_view = _HEALTH_VIEWS.get(request.path_info)
        if health_view is not None:
            return health_view(request)

        try:
            hostname = request.get_host().rsplit(":", 1)[0].lower()
        except DisallowedHost:
            return self._unknown_host(request, status=400)

        if hostname in self.public_hosts:
            request.tenant = host_table.public_tenant()  # type: ignore[attr-defined]
            request.urlconf = self.public_urlconf
            set_urlconf(self.public_urlconf)
            return self.get_response(request)

        tenant = host_table.lookup(hostname)
        if tenant is None:
            return self._unknown_host(request, status=404)

        tenant.domain_url = hostname
        request.tenant = tenant  # type: ignore[attr-defined]
        if tenant.is_suspended:
            if request.path_info.startswith("/api/"):
                return with_security_headers(
                    error_response(
                        ErrorCode.TENANT_SUSPENDED,
                        "This organisation's workspace is suspended.",
                        status_code=403,
                    )
                )
            page = render(request, "tenants/suspended.html", {"tenant": tenant}, status=403)
            return with_security_headers(page)

        connection.set_tenant(tenant)
        request.urlconf = self.tenant_urlconf
        set_urlconf(self.tenant_urlconf)
        try:
            return self.get_response(request)
        finally:
            # Whatever runs next on this thread (another request, a signal, a test) starts
            # from the public schema, never from this tenant's. No SQL is issued here.
            connection.set_schema_to_public()

    def _unknown_host(self, request: HttpRequest, *, status: int) -> HttpResponse:
        request.urlconf = self.public_urlconf
        set_urlconf(self.public_urlconf)
        # Made before the security middlewares run: their headers are added here.
        page = render(request, "tenants/unknown_workspace.html", status=status)
        return with_security_headers(page)
