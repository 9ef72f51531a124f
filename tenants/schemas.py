"""Low-level schema operations: clone, rename, drop, inspect. No business rules here."""

from __future__ import annotations

import logging

from django.db import connection
from django_tenants.clone import CloneSchema
from django_tenants.utils import schema_exists

from . import cloning

logger = logging.getLogger("kestrel.tenants")


def quote(name: str) -> str:
    return connection.ops.quote_name(name)


def ensure_clone_function() -> None:
    """Install the schema-cloning SQL function if it is missing. It is several thousand lines;
    re-creating it on every clone (as the library does) would cost more than a small clone."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT 1 FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
            "WHERE n.nspname = 'public' AND p.proname = 'clone_schema'"
        )
        installed = cursor.fetchone() is not None
    if not installed:
        CloneSchema()._create_clone_schema_function()


def clone_schema(source: str, target: str) -> None:
    """Copy `source` (tables, indexes, sequences and rows) into a new schema `target`:
    by the fast blueprint replay when the template allows it, else by the general clone."""
    try:
        cloning.clone(source, target)
    except cloning.UnsupportedTemplate as reason:
        logger.warning("cloning %s the slow way: %s", source, reason)
        clone_schema_general(source, target)


def clone_schema_general(source: str, target: str) -> None:
    """The general-purpose clone shipped with django-tenants (handles any object type)."""
    ensure_clone_function()
    with connection.cursor() as cursor:
        cursor.execute("SELECT public.clone_schema(%s, %s, 'DATA')", [source, target])


def rename_schema(old: str, new: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"ALTER SCHEMA {quote(old)} RENAME TO {quote(new)}")


def drop_schema(name: str) -> None:
    with connection.cursor() as cursor:
        # Deferred foreign-key checks still pending in this transaction (e.g. the schema was
        # filled earlier in it) would block the drop; run them now.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute(f"DROP SCHEMA IF EXISTS {quote(name)} CASCADE")


def create_schema(name: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE SCHEMA {quote(name)}")


def exists(name: str) -> bool:
    return bool(schema_exists(name))


def applied_migrations(name: str) -> frozenset[tuple[str, str]]:
    """The (app, migration) pairs recorded in a schema; empty if it has no migration table."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s)", [f"{quote(name)}.django_migrations"])
        row = cursor.fetchone()
        if row is None or row[0] is None:
            return frozenset()
        cursor.execute(f"SELECT app, name FROM {quote(name)}.django_migrations")
        return frozenset((app, migration) for app, migration in cursor.fetchall())


def schema_names_with_prefix(prefix: str) -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nspname FROM pg_namespace WHERE nspname LIKE %s ORDER BY nspname",
            [prefix.replace("_", r"\_") + "%"],
        )
        return [row[0] for row in cursor.fetchall()]
