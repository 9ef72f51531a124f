"""Fast schema cloning for new organisations.

The general-purpose clone function shipped with django-tenants rebuilds every object through
thousands of lines of PL/pgSQL and slows down as the database accumulates schemas. Django
schemas hold only tables, identity columns, constraints and indexes, so this module reads
the template's catalog once per migration state into a "blueprint" of plain DDL and replays
it into the new schema in a single round trip. Names of tables, constraints and indexes are
kept exactly, so later migrations that refer to them by name apply to every tenant alike.

A template holding anything the blueprint does not reproduce (views, functions, triggers,
serial sequences, row security, ...) is cloned by the general function instead.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import connection

TARGET = "\x00schema\x00"  # stands for the quoted target schema inside the blueprint


class UnsupportedTemplate(Exception):
    """The template holds objects the blueprint cannot reproduce."""


@dataclass(frozen=True)
class Blueprint:
    source: str
    state: tuple[int, int]
    statements: tuple[str, ...]

    def sql_for(self, target_quoted: str) -> str:
        return ";\n".join(s.replace(TARGET, target_quoted) for s in self.statements)


_lock = threading.Lock()
_blueprints: dict[str, Blueprint] = {}


def _fetch(sql: str, params: Sequence[str] | Mapping[str, str]) -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return list(cursor.fetchall())


def _quote(name: str) -> str:
    return connection.ops.quote_name(name)


def migration_state(source: str) -> tuple[int, int]:
    """Changes whenever a migration is applied to (or removed from) `source`."""
    row = _fetch(
        f"SELECT count(*), coalesce(max(id), 0) FROM {_quote(source)}.django_migrations", []
    )
    count, last = row[0]
    return int(count), int(last)


def _check_supported(source: str) -> None:
    problems = _fetch(
        """
        SELECT 'relation ' || c.relname || ' of kind ' || c.relkind::text FROM pg_class c
         WHERE c.relnamespace = %(ns)s::regnamespace AND c.relkind NOT IN ('r', 'i', 'S')
        UNION ALL
        SELECT 'function ' || p.proname FROM pg_proc p WHERE p.pronamespace = %(ns)s::regnamespace
        UNION ALL
        SELECT 'trigger ' || t.tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
         WHERE c.relnamespace = %(ns)s::regnamespace AND NOT t.tgisinternal
        UNION ALL
        SELECT 'type ' || t.typname FROM pg_type t
         WHERE t.typnamespace = %(ns)s::regnamespace AND t.typtype IN ('e', 'd', 'r', 'm')
        UNION ALL
        SELECT 'sequence ' || c.relname FROM pg_class c
         WHERE c.relnamespace = %(ns)s::regnamespace AND c.relkind = 'S'
           AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND d.deptype = 'i')
        UNION ALL
        SELECT 'row security on ' || c.relname FROM pg_class c
         WHERE c.relnamespace = %(ns)s::regnamespace AND c.relrowsecurity
        UNION ALL
        SELECT 'rule ' || r.rulename FROM pg_rewrite r JOIN pg_class c ON c.oid = r.ev_class
         WHERE c.relnamespace = %(ns)s::regnamespace AND c.relkind = 'r'
        """,
        {"ns": source},
    )
    if problems:
        raise UnsupportedTemplate(", ".join(str(p[0]) for p in problems))


def build_blueprint(source: str) -> Blueprint:
    """Read `source`'s catalog into replayable DDL (structure only; rows are copied live)."""
    _check_supported(source)
    src = _quote(source)
    # The catalog prints names the way quote_ident does (bare when it can), not always quoted.
    printed = str(_fetch("SELECT quote_ident(%s)", [source])[0][0])
    state = migration_state(source)
    statements: list[str] = [f"CREATE SCHEMA {TARGET}"]

    tables = [
        str(r[0])
        for r in _fetch(
            "SELECT relname FROM pg_class WHERE relnamespace = %s::regnamespace AND relkind = 'r' "
            "ORDER BY relname",
            [source],
        )
    ]
    for table in tables:
        statements.append(
            f"CREATE TABLE {TARGET}.{_quote(table)} (LIKE {src}.{_quote(table)} "
            "INCLUDING DEFAULTS INCLUDING GENERATED INCLUDING STORAGE "
            "INCLUDING COMPRESSION INCLUDING COMMENTS)"
        )

    # Rows first (the template holds migration records, content types and permissions),
    # then identities, constraints and indexes: faster, and no table order is needed.
    columns = _fetch(
        """
        SELECT c.relname, string_agg(quote_ident(a.attname), ', ' ORDER BY a.attnum)
          FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
         WHERE c.relnamespace = %s::regnamespace AND c.relkind = 'r'
           AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''
         GROUP BY c.relname ORDER BY c.relname
        """,
        [source],
    )
    for table, column_list in columns:
        qt = _quote(str(table))
        statements.append(
            f"INSERT INTO {TARGET}.{qt} ({column_list}) SELECT {column_list} FROM {src}.{qt}"
        )

    # Identity columns are recreated with their sequences' exact options and names (copying
    # them through LIKE gave an integer column a bigint sequence); the sequence takes the
    # column's type, then continue
    # numbering where the template's left off.
    identities = _fetch(
        """
        SELECT c.relname, a.attname, a.attidentity, seq.relname,
               s.seqstart, s.seqincrement, s.seqmin, s.seqmax, s.seqcache, s.seqcycle
          FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
          JOIN pg_depend d ON d.refobjid = c.oid AND d.refobjsubid = a.attnum AND d.deptype = 'i'
          JOIN pg_class seq ON seq.oid = d.objid AND seq.relkind = 'S'
          JOIN pg_sequence s ON s.seqrelid = seq.oid
         WHERE c.relnamespace = %s::regnamespace AND c.relkind = 'r' AND a.attidentity <> ''
         ORDER BY c.relname, a.attnum
        """,
        [source],
    )
    for (
        table,
        column,
        kind,
        sequence,
        start,
        step,
        low,
        high,
        cache,
        cycle,
    ) in identities:
        generated = "ALWAYS" if kind == "a" else "BY DEFAULT"
        statements.append(
            f"ALTER TABLE {TARGET}.{_quote(str(table))} ALTER COLUMN {_quote(str(column))} "
            f"ADD GENERATED {generated} AS IDENTITY (SEQUENCE NAME "
            f"{TARGET}.{_quote(str(sequence))} START WITH {start} "
            f"INCREMENT BY {step} MINVALUE {low} MAXVALUE {high} CACHE {cache} "
            f"{'CYCLE' if cycle else 'NO CYCLE'})"
        )
        statements.append(
            f"SELECT setval('{TARGET}.{_quote(str(sequence))}', s.last_value, s.is_called) "
            f"FROM {src}.{_quote(str(sequence))} s"
        )

    constraints = _fetch(
        """
        SELECT c.relname, k.conname, k.contype, pg_get_constraintdef(k.oid)
          FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid
         WHERE k.connamespace = %s::regnamespace AND k.contype IN ('p', 'u', 'x', 'c', 'f')
         ORDER BY (k.contype = 'f'), c.relname, k.conname
        """,
        [source],
    )
    references = re.compile(r"\bREFERENCES " + re.escape(printed) + r"\.")
    for table, name, kind, definition in constraints:
        definition = str(definition)
        if kind == "f":
            # References into the template now point into the new schema; any outside it
            # (e.g. to a public table) are printed qualified and stay as they are.
            definition = references.sub(f"REFERENCES {TARGET}.", definition)
        statements.append(
            f"ALTER TABLE {TARGET}.{_quote(str(table))} "
            f"ADD CONSTRAINT {_quote(str(name))} {definition}"
        )

    indexes = _fetch(
        """
        SELECT pg_get_indexdef(i.indexrelid)
          FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
         WHERE c.relnamespace = %s::regnamespace
           AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid
                                                          AND k.contype IN ('p', 'u', 'x'))
         ORDER BY c.relname
        """,
        [source],
    )
    on_table = re.compile(r" ON (ONLY )?" + re.escape(printed) + r"\.")
    for (definition,) in indexes:
        rewritten, found = on_table.subn(
            lambda m: f" ON {m.group(1) or ''}{TARGET}.", str(definition), count=1
        )
        if not found:
            raise UnsupportedTemplate(f"cannot place index: {definition}")
        statements.append(rewritten)

    return Blueprint(source=source, state=state, statements=tuple(statements))


def blueprint_for(source: str) -> Blueprint:
    """The cached blueprint of `source`, rebuilt whenever its migrations change."""
    state = migration_state(source)
    with _lock:
        cached = _blueprints.get(source)
    if cached is not None and cached.state == state:
        return cached
    blueprint = build_blueprint(source)
    with _lock:
        _blueprints[source] = blueprint
    return blueprint


def clone(source: str, target: str) -> None:
    """Create schema `target` as a copy of `source` (structure and rows) in one round trip.
    Runs inside the caller's transaction. Raises UnsupportedTemplate before changing
    anything if `source` holds objects a blueprint cannot reproduce."""
    sql = blueprint_for(source).sql_for(_quote(target))
    with connection.cursor() as cursor:
        cursor.execute(sql)
