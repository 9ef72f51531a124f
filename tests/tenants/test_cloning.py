"""The fast clone must produce exactly what the template holds, or step aside."""

from __future__ import annotations

import pytest
from django.db import connection
from django_tenants.utils import schema_context

from apps.accounts.models import User
from tenants import cloning, provisioning, schemas

pytestmark = pytest.mark.django_db


def _signature(schema: str) -> dict[str, object]:
    """Everything a migration or a query could notice about a schema, with its own name
    blanked out so that two schemas can be compared."""

    def rows(sql: str) -> list[tuple[object, ...]]:
        with connection.cursor() as cursor:
            cursor.execute(sql, {"ns": schema})
            return [
                tuple(str(v).replace(schema, "<schema>") if v is not None else None for v in row)
                for row in cursor.fetchall()
            ]

    counts: dict[str, int] = {}
    for (table,) in rows(
        "SELECT relname FROM pg_class WHERE relnamespace = %(ns)s::regnamespace AND relkind = 'r'"
    ):
        with connection.cursor() as cursor:
            cursor.execute(f'SELECT count(*) FROM "{schema}"."{table}"')
            counts[str(table)] = cursor.fetchone()[0]
    return {
        "columns": sorted(
            rows(
                """SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
                      a.attidentity, a.attgenerated, pg_get_expr(d.adbin, d.adrelid)
                 FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
                 LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
                WHERE c.relnamespace = %(ns)s::regnamespace AND c.relkind = 'r'
                  AND a.attnum > 0 AND NOT a.attisdropped"""
            )
        ),
        "constraints": sorted(
            rows(
                """SELECT conrelid::regclass::text, conname, contype, pg_get_constraintdef(oid)
                 FROM pg_constraint WHERE connamespace = %(ns)s::regnamespace
                  AND contype <> 'n'"""
            )
        ),
        "indexes": sorted(
            rows(
                """SELECT c.relname, pg_get_indexdef(i.indexrelid) FROM pg_index i
                 JOIN pg_class c ON c.oid = i.indexrelid
                WHERE c.relnamespace = %(ns)s::regnamespace"""
            )
        ),
        "sequences": sorted(
            rows(
                """SELECT c.relname, s.seqtypid::regtype::text, s.seqstart, s.seqincrement
                 FROM pg_sequence s JOIN pg_class c ON c.oid = s.seqrelid
                WHERE c.relnamespace = %(ns)s::regnamespace"""
            )
        ),
        "rows": counts,
    }


def test_fast_clone_is_identical_to_the_template() -> None:
    template = provisioning.template_schema()
    cloning.clone(template, "clone_check")
    assert _signature("clone_check") == _signature(template)


def test_clone_has_working_identity_and_foreign_keys() -> None:
    cloning.clone(provisioning.template_schema(), "clone_live")
    with schema_context("clone_live"):
        user = User.objects.create_user(email="first@clone.test", password=None)
        assert user.pk == 1
        from django.contrib.auth.models import Permission

        # Permissions came with the clone and new ones continue the template's numbering.
        assert Permission.objects.count() > 0
        from django.contrib.contenttypes.models import ContentType

        ct = ContentType.objects.create(app_label="probe", model="probe")
        assert ct.pk > ContentType.objects.exclude(pk=ct.pk).order_by("-pk").first().pk  # type: ignore[union-attr]
    with connection.cursor() as cursor, pytest.raises(Exception, match="foreign key"):
        cursor.execute(
            'INSERT INTO "clone_live".accounts_loginhandoff '
            "(token_hash, user_id, created_at, expires_at) VALUES ('x', 999, now(), now())"
        )
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")


def test_blueprint_is_cached_until_the_template_migrates() -> None:
    template = provisioning.template_schema()
    first = cloning.blueprint_for(template)
    assert cloning.blueprint_for(template) is first
    with connection.cursor() as cursor:
        cursor.execute(
            f'INSERT INTO "{template}".django_migrations (app, name, applied) '
            "VALUES ('probe', '0001_probe', now())"
        )
    assert cloning.blueprint_for(template) is not first


def test_templates_with_unsupported_objects_fall_back_to_the_general_clone(
    caplog: pytest.LogCaptureFixture,
) -> None:
    schemas.clone_schema_general(provisioning.template_schema(), "with_view")
    with connection.cursor() as cursor:
        cursor.execute(
            'CREATE VIEW "with_view".emails AS SELECT email FROM "with_view".accounts_user'
        )
    with pytest.raises(cloning.UnsupportedTemplate, match="relation emails of kind v"):
        cloning.build_blueprint("with_view")
    schemas.clone_schema("with_view", "from_view")
    assert "the slow way" in caplog.text
    with connection.cursor() as cursor:
        cursor.execute('SELECT count(*) FROM "from_view".emails')
        assert cursor.fetchone() == (0,)
