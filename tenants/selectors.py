"""Reads across organisations, for the operator console and the public workspace finder.

These are the only queries that look into more than one schema; each reads a bounded set of
schemas in a single statement rather than one query per organisation.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.db import connection
from django.db.models import Q, QuerySet

from .models import Tenant, TenantStatus
from .schemas import quote

FIND_BATCH = 200


def tenant_list(*, search: str = "", status: str = "") -> QuerySet[Tenant]:
    tenants = Tenant.objects.exclude(schema_name="public").prefetch_related("domains")
    if search:
        tenants = tenants.filter(Q(slug__icontains=search) | Q(name__icontains=search))
    if status in TenantStatus.values:
        tenants = tenants.filter(status=status)
    return tenants.order_by("slug")


@dataclass(frozen=True)
class TenantCounts:
    users: int
    rows: int  # live rows across the schema's tables (statistics estimate)


def tenant_counts(tenants: Sequence[Tenant]) -> dict[str, TenantCounts]:
    """User and record counts for a page of organisations, in two queries whatever its length."""
    names = [t.schema_name for t in tenants]
    if not names:
        return {}
    users: dict[str, int] = {}
    with connection.cursor() as cursor:
        union = " UNION ALL ".join(
            f"SELECT %s, count(*) FROM {quote(name)}.accounts_user" for name in names
        )
        cursor.execute(union, names)
        users = {schema: count for schema, count in cursor.fetchall()}
        cursor.execute(
            "SELECT schemaname, coalesce(sum(n_live_tup), 0) FROM pg_stat_user_tables "
            "WHERE schemaname = ANY(%s) GROUP BY schemaname",
            [names],
        )
        rows = {schema: int(count) for schema, count in cursor.fetchall()}
    return {name: TenantCounts(users=users.get(name, 0), rows=rows.get(name, 0)) for name in names}


def tenants_for_email(email: str) -> list[Tenant]:
    """Active organisations where `email` has an active account."""
    tenants = list(Tenant.objects.exclude(schema_name="public").filter(status=TenantStatus.ACTIVE))
    found: set[str] = set()
    for batch in _batches(tenants, FIND_BATCH):
        names = [t.schema_name for t in batch]
        union = " UNION ALL ".join(
            f"SELECT %s FROM {quote(name)}.accounts_user WHERE email = %s AND is_active"
            for name in names
        )
        params: list[str] = []
        for name in names:
            params += [name, email.lower()]
        with connection.cursor() as cursor:
            cursor.execute(union, params)
            found.update(row[0] for row in cursor.fetchall())
    return [t for t in tenants if t.schema_name in found]


def _batches(items: Sequence[Tenant], size: int) -> Iterable[Sequence[Tenant]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
