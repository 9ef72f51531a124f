"""Host -> tenant lookup, cached in each process.

Looking the Host up in the database on every request cost several times more than a whole
trivial view. Each process keeps its own table instead; a change to a tenant or domain
clears it at once in the changing process and, through a generation token in Redis that
every process re-reads at most once per TENANT_ROUTING_RECHECK_SECONDS, in all others.
"""

from __future__ import annotations

import copy
import threading
import time
import uuid

from django.conf import settings
from django.core.cache import BaseCache, caches

from .models import Domain, Tenant

GENERATION_KEY = "tenants:routing-generation"
# Unknown hosts are remembered too (so a flood of random subdomains costs no queries), but
# the table is bounded so that flood cannot grow memory without limit.
MAX_ENTRIES = 10_000


def _platform_cache() -> BaseCache:
    return caches["platform"]


class HostTable:
    def __init__(self) -> None:
        self._hosts: dict[str, Tenant | None] = {}
        self._generation: object = None
        self._checked_at = float("-inf")
        self._lock = threading.Lock()

    def public_tenant(self) -> Tenant:
        # Never saved: the public schema is not an organisation and has no row of its own.
        return Tenant(schema_name=settings.PUBLIC_SCHEMA_NAME, slug="", name="Kestrel CRM")

    def lookup(self, hostname: str) -> Tenant | None:
        """The tenant serving `hostname` (a per-request copy), or None if none does."""
        now = time.monotonic()
        if now - self._checked_at >= settings.TENANT_ROUTING_RECHECK_SECONDS:
            self._sync_generation(now)
        try:
            tenant = self._hosts[hostname]
        except KeyError:
            tenant = self._load(hostname)
        else:
            if tenant is None:
                # "No such workspace" is trusted only against the current generation, so an
                # organisation created a moment ago in another process is found at once.
                # Unknown hosts are rare in real traffic; this costs them one Redis read.
                self._sync_generation(now)
                tenant = self._hosts[hostname] if hostname in self._hosts else self._load(hostname)
        # A copy, so per-request attributes never leak into the shared table.
        return copy.copy(tenant) if tenant is not None else None

    def _load(self, hostname: str) -> Tenant | None:
        domain = Domain.objects.select_related("tenant").filter(domain=hostname).first()
        tenant = domain.tenant if domain is not None else None
        with self._lock:
            if len(self._hosts) >= MAX_ENTRIES:
                self._hosts.clear()
            self._hosts[hostname] = tenant
        return tenant

    def _sync_generation(self, now: float) -> None:
        try:
            generation = _platform_cache().get(GENERATION_KEY)
        except Exception:
            # Redis unreachable: trust nothing cached, ask the database each time.
            generation = object()
        with self._lock:
            if generation is None or generation != self._generation:
                self._hosts.clear()
                self._generation = generation
            self._checked_at = now

    def invalidate(self) -> None:
        """Forget every host here and tell the other processes to do the same."""
        token = uuid.uuid4().hex
        try:
            _platform_cache().set(GENERATION_KEY, token, timeout=None)
        except Exception:
            token = ""
        with self._lock:
            self._hosts.clear()
            self._generation = token or object()
            self._checked_at = time.monotonic()


host_table = HostTable()
