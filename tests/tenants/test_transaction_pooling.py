"""Kestrel behind a real PgBouncer in transaction pooling mode (tests/tenants/pgbouncer.py).

Each test gets its own PgBouncer with ONE server connection, so every client of it runs its
transactions on that same server connection (`pg_backend_pid()` shows it), one after the
other. The clients are extra database aliases, registered for the test, whose settings come
from `database_config()` with the bouncer's URL: the pooling backend (tenants.pooling) or,
for the control tests, the plain django-tenants backend. PgBouncer is another process and
sees only committed rows: the tests work in autocommit on the session organisations
(tenant_a, tenant_b, committed by their fixtures) and delete what they wrote.

Never interleave two aliases' open transactions: with one server connection the second
waits for the first, in the same thread, until PgBouncer's query_wait_timeout.
"""

from __future__ import annotations

import copy
import json
import logging
import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import psycopg.sql
import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import connections, transaction

from apps.accounts.models import User
from apps.records.duplicates import name_similarity_q
from apps.records.models import SearchWord
from config.settings.base import database_config
from tenants.models import Tenant
from tenants.pooling.base import ScopedCursor, ScopedServerBindingCursor, local_settings
from tests.conftest import ALPHA, BETA
from tests.tenants import pgbouncer as bouncer_process

Alias = Callable[..., Any]


@pytest.fixture
def pgbouncer(django_db_setup: None) -> Iterator[bouncer_process.PgBouncer]:
    if not bouncer_process.available():
        pytest.skip(
            f"PGBOUNCER TESTS DID NOT RUN: {bouncer_process.BINARY} is missing "
            "(apt-get install pgbouncer; CI installs it)"
        )
    direct = connections["default"].settings_dict  # the test database pytest-django made
    bouncer = bouncer_process.PgBouncer(
        direct["NAME"],
        server_host=direct["HOST"] or "127.0.0.1",
        server_port=int(direct["PORT"] or 5432),
        user=direct["USER"] or "postgres",
        password=direct["PASSWORD"] or "",
    ).start()
    try:
        yield bouncer
    finally:
        bouncer.stop()


@pytest.fixture
def alias(pgbouncer: bouncer_process.PgBouncer, django_db_blocker: Any) -> Iterator[Alias]:
    """`alias(name, pooling=True)`: a database alias connected through the bouncer, its
    settings built by database_config() as production builds them."""
    made: list[str] = []

    def make(name: str, *, pooling: bool = True, **options: Any) -> Any:
        settings_dict = copy.deepcopy(connections["default"].settings_dict)
        settings_dict.update(database_config(pgbouncer.url(), transaction_pooling=pooling))
        settings_dict["OPTIONS"].update(options)
        if not pooling:
            # PgBouncer refuses the startup parameter ("unsupported startup parameter").
            settings_dict["OPTIONS"].pop("options")
        connections.settings[name] = settings_dict
        made.append(name)
        return connections[name]

    with django_db_blocker.unblock():
        try:
            yield make
        finally:
            for name in made:
                connections[name].close()
                del connections[name]
                del connections.settings[name]


def backend_pid(connection: Any) -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return int(cursor.fetchone()[0])


def session_search_path(pgbouncer: bouncer_process.PgBouncer) -> str:
    """The server connection's session-level search_path, read by a bare client."""
    with psycopg.connect(pgbouncer.url(), autocommit=True) as bare:
        row = bare.execute("SHOW search_path").fetchone()
        assert row is not None
        return str(row[0])


@pytest.fixture
def token(tenant_a: Tenant, tenant_b: Tenant, django_db_blocker: Any) -> Iterator[str]:
    """A unique prefix for the words one test writes in the organisations' search
    dictionaries (a table without signals or history); they are deleted after, over a
    direct connection (committed, like the writes)."""
    value = f"pool{uuid.uuid4().hex[:10]}"
    yield value
    with django_db_blocker.unblock(), connections["default"].cursor() as cursor:
        for tenant in (tenant_a, tenant_b):
            cursor.execute(
                f'DELETE FROM "{tenant.schema_name}".records_searchword WHERE word LIKE %s',
                [value + "%"],
            )


def write(alias_name: str, word: str) -> None:
    SearchWord.objects.using(alias_name).create(word=word)


def names(alias_name: str, token: str) -> set[str]:
    return set(
        SearchWord.objects.using(alias_name)
        .filter(word__startswith=token)
        .values_list("word", flat=True)
    )


def test_organisations_alternating_on_one_server_connection_see_only_their_own_rows(
    pgbouncer: bouncer_process.PgBouncer,
    alias: Alias,
    tenant_a: Tenant,
    tenant_b: Tenant,
    token: str,
) -> None:
    a, b = alias("pooled_a"), alias("pooled_b")
    a.set_tenant(tenant_a)
    b.set_tenant(tenant_b)
    server = backend_pid(a)
    assert backend_pid(b) == server  # one server connection, two clients

    # Autocommit: each statement its own transaction, the clients taking turns.
    for round_ in range(3):
        write("pooled_a", f"{token}-a{round_}")
        write("pooled_b", f"{token}-b{round_}")
        assert names("pooled_a", token) == {f"{token}-a{i}" for i in range(round_ + 1)}
        assert names("pooled_b", token) == {f"{token}-b{i}" for i in range(round_ + 1)}
        assert not User.objects.using("pooled_a").filter(email=BETA.owner_email).exists()
        assert not User.objects.using("pooled_b").filter(email=ALPHA.owner_email).exists()
        assert backend_pid(a) == backend_pid(b) == server

    # Transactions: the clients take turns, a transaction at a time.
    for round_ in range(2):
        with transaction.atomic(using="pooled_a"):
            write("pooled_a", f"{token}-ta{round_}")
            assert f"{token}-ta{round_}" in names("pooled_a", token)
            assert not any("-b" in name for name in names("pooled_a", token))
            assert backend_pid(a) == server
        with transaction.atomic(using="pooled_b"):
            assert not any("-a" in name for name in names("pooled_b", token))
            write("pooled_b", f"{token}-tb{round_}")
            assert backend_pid(b) == server
    assert names("pooled_a", token) == {f"{token}-a{i}" for i in range(3)} | {
        f"{token}-ta{i}" for i in range(2)
    }
    assert names("pooled_b", token) == {f"{token}-b{i}" for i in range(3)} | {
        f"{token}-tb{i}" for i in range(2)
    }
    # Nothing session-level was left on the server connection.
    assert session_search_path(pgbouncer) == '"$user", public'


def test_organisation_changes_and_savepoint_rollbacks_inside_one_transaction(
    alias: Alias, tenant_a: Tenant, tenant_b: Tenant, token: str
) -> None:
    a = alias("pooled_a")
    a.set_tenant(tenant_a)
    with transaction.atomic(using="pooled_a"):
        write("pooled_a", f"{token}-a")
        a.set_tenant(tenant_b)  # the same transaction, now for the other organisation
        write("pooled_a", f"{token}-b")
        assert names("pooled_a", token) == {f"{token}-b"}
        with pytest.raises(RuntimeError), transaction.atomic(using="pooled_a"):
            a.set_tenant(tenant_a)
            assert names("pooled_a", token) == {f"{token}-a"}
            raise RuntimeError("roll back to the savepoint")
        # The rollback undid the schema set inside the savepoint; the connection still
        # believes it is on alpha and must say so to the server again.
        assert names("pooled_a", token) == {f"{token}-a"}
        a.set_tenant(tenant_b)
        assert names("pooled_a", token) == {f"{token}-b"}
    a.set_tenant(tenant_a)
    assert names("pooled_a", token) == {f"{token}-a"}


def test_plain_backend_through_the_pooler_runs_queries_in_another_organisation(
    pgbouncer: bouncer_process.PgBouncer,
    alias: Alias,
    tenant_a: Tenant,
    tenant_b: Tenant,
) -> None:
    """The failure the pooling backend prevents: django-tenants' session-level SET, once per
    connection, stays on the shared server connection for the next client."""
    plain_a, plain_b = alias("plain_a", pooling=False), alias("plain_b", pooling=False)
    plain_a.set_tenant(tenant_a)
    plain_b.set_tenant(tenant_b)
    assert User.objects.using("plain_a").filter(email=ALPHA.owner_email).exists()
    assert User.objects.using("plain_b").filter(email=BETA.owner_email).exists()
    assert backend_pid(plain_a) == backend_pid(plain_b)
    # Client A's next query runs with client B's search path: Beta's users, for Alpha.
    assert not User.objects.using("plain_a").filter(email=ALPHA.owner_email).exists()
    assert User.objects.using("plain_a").filter(email=BETA.owner_email).exists()
    assert session_search_path(pgbouncer) == f"{tenant_b.schema_name}, public"

    # On that same polluted server connection the pooling backend still reads its own.
    pooled_a = alias("pooled_a")
    pooled_a.set_tenant(tenant_a)
    assert User.objects.using("pooled_a").filter(email=ALPHA.owner_email).exists()
    assert not User.objects.using("pooled_a").filter(email=BETA.owner_email).exists()
    with transaction.atomic(using="pooled_a"):
        assert (
            list(User.objects.using("pooled_a").values_list("email", flat=True)).count(
                BETA.owner_email
            )
            == 0
        )


def test_iterator_and_many_repeated_queries_without_prepared_statements(
    pgbouncer: bouncer_process.PgBouncer,
    alias: Alias,
    tenant_a: Tenant,
    tenant_b: Tenant,
    token: str,
) -> None:
    a, b = alias("pooled_a"), alias("pooled_b")
    a.set_tenant(tenant_a)
    b.set_tenant(tenant_b)
    for i in range(5):
        write("pooled_a", f"{token}-{i}")
    # Chunked from a client-side result: no server-side cursor to lose between transactions.
    iterated = [
        found.word
        for found in SearchWord.objects.using("pooled_a")
        .filter(word__startswith=token)
        .order_by("word")
        .iterator(chunk_size=2)
    ]
    assert iterated == [f"{token}-{i}" for i in range(5)]
    assert a.settings_dict["DISABLE_SERVER_SIDE_CURSORS"] is True
    # psycopg would prepare a statement run 5 times; the next client on the server
    # connection would then find it missing, or its own name taken.
    for _ in range(30):
        assert SearchWord.objects.using("pooled_a").filter(word__startswith=token).count() == 5
        assert SearchWord.objects.using("pooled_b").filter(word__startswith=token).count() == 0
        assert User.objects.using("pooled_b").filter(email=BETA.owner_email).exists()
    assert a.connection.prepare_threshold is None
    # A statement's row count is its own, not that of the set_config sent with it.
    assert SearchWord.objects.using("pooled_a").filter(word__startswith=token).delete() == (
        5,
        {"records.SearchWord": 5},
    )


def test_named_cursors_only_inside_a_transaction_and_in_its_schema(
    pgbouncer: bouncer_process.PgBouncer,
    alias: Alias,
    tenant_a: Tenant,
    tenant_b: Tenant,
    token: str,
) -> None:
    """`chunked_cursor()` (the record exporter streams through one) through the pooler."""
    a, plain_b = alias("pooled_a"), alias("plain_b", pooling=False)
    a.set_tenant(tenant_a)
    plain_b.set_tenant(tenant_b)
    for i in range(3):
        write("pooled_a", f"{token}-{i}")
    # A plain client leaves Beta's search path on the one server connection.
    assert User.objects.using("plain_b").filter(email=BETA.owner_email).exists()
    query = "SELECT word FROM records_searchword WHERE word LIKE %s ORDER BY word"
    with transaction.atomic(using="pooled_a"):
        cursor = a.chunked_cursor()
        assert cursor.cursor.name  # server-side, streamed
        cursor.execute(query, [token + "%"])
        assert [row[0] for row in cursor.fetchmany(2)] == [f"{token}-0", f"{token}-1"]
        assert [row[0] for row in cursor.fetchmany(2)] == [f"{token}-2"]
        cursor.close()
    cursor = a.chunked_cursor()  # autocommit: it would have to outlive its transaction
    assert not getattr(cursor.cursor, "name", None)
    cursor.execute(query, [token + "%"])
    assert [row[0] for row in cursor.fetchall()] == [f"{token}-{i}" for i in range(3)]
    cursor.close()


def test_prepared_statements_break_on_a_shared_server_connection(
    pgbouncer: bouncer_process.PgBouncer, tenant_a: Tenant
) -> None:
    """Why prepare_threshold must be None: two clients preparing on one server connection."""
    with (
        psycopg.connect(pgbouncer.url(), autocommit=True, prepare_threshold=0) as first,
        psycopg.connect(pgbouncer.url(), autocommit=True, prepare_threshold=0) as second,
    ):
        first.execute("SELECT %s::int", [1])
        with pytest.raises(psycopg.errors.DuplicatePreparedStatement):
            second.execute("SELECT %s::text", ["x"])


def test_typo_tolerant_matching_keeps_its_threshold_through_the_pooler(
    pgbouncer: bouncer_process.PgBouncer,
    alias: Alias,
    tenant_a: Tenant,
    token: str,
) -> None:
    """The URL's `-c pg_trgm.word_similarity_threshold=0.3` is a startup parameter, which
    PgBouncer refuses; the pooling backend sets it in every transaction instead."""
    a = alias("pooled_a")
    a.set_tenant(tenant_a)
    # Word similarity 0.41: above the product's 0.3, below pg_trgm's default 0.6.
    stored, typo = f"{token} wojciechowski", "wojcehowsky"
    write("pooled_a", stored)

    def similar(alias_name: str) -> set[str]:
        return set(
            SearchWord.objects.using(alias_name)
            .filter(word__startswith=token)
            .filter(name_similarity_q("word", typo))
            .values_list("word", flat=True)
        )

    assert similar("pooled_a") == {stored}
    with transaction.atomic(using="pooled_a"):
        assert similar("pooled_a") == {stored}
    # Without it (the plain backend, its startup parameter dropped): pg_trgm's 0.6 misses.
    plain = alias("plain_a", pooling=False)
    plain.set_tenant(tenant_a)
    assert similar("plain_a") == set()


def test_database_config_chooses_the_pooling_backend_only_when_asked() -> None:
    url = "postgresql://kestrel@db.internal:6432/kestrel"
    pooled = database_config(url, transaction_pooling=True)
    assert pooled["ENGINE"] == "tenants.pooling"
    assert pooled["DISABLE_SERVER_SIDE_CURSORS"] is True
    assert pooled["OPTIONS"] == {
        "options": "-c pg_trgm.word_similarity_threshold=0.3",  # moved per transaction
        "prepare_threshold": None,
    }
    # The normal path is what it always was (the test settings do not ask for pooling).
    for direct in (database_config(url, transaction_pooling=False), database_config(url)):
        assert direct["ENGINE"] == "django_tenants.postgresql_backend"
        assert direct["OPTIONS"] == {"options": "-c pg_trgm.word_similarity_threshold=0.3"}
        assert not direct.get("DISABLE_SERVER_SIDE_CURSORS")


def test_startup_settings_become_per_transaction_settings() -> None:
    assert local_settings("") == {}
    assert local_settings("-c a.b=1 -cstatement_timeout=5s --lock-timeout=2s") == {
        "a.b": "1",
        "statement_timeout": "5s",
        "lock_timeout": "2s",
    }
    with pytest.raises(ImproperlyConfigured, match="only '-c name=value'"):
        local_settings("-c a=1 single")
    with pytest.raises(ImproperlyConfigured, match="not name=value"):
        local_settings("-c novalue")


def current_schema(cursor: Any) -> str:
    row = cursor.fetchone()
    return str(row[0])


def test_every_way_of_sending_a_statement_runs_in_the_organisations_schema(
    pgbouncer: bouncer_process.PgBouncer,
    alias: Alias,
    tenant_a: Tenant,
    tenant_b: Tenant,
    token: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    a, b = alias("pooled_a"), alias("pooled_b")
    a.set_tenant(tenant_a)
    b.set_tenant(tenant_b)
    insert = "INSERT INTO records_searchword (word) VALUES (%s)"
    # executemany, in autocommit (its own transaction) and inside one.
    with a.cursor() as cursor:
        cursor.executemany(insert, [(f"{token}-m1",), (f"{token}-m2",)])
    with transaction.atomic(using="pooled_b"), b.cursor() as cursor:
        cursor.executemany(insert, [(f"{token}-m3",)])
    assert names("pooled_a", token) == {f"{token}-m1", f"{token}-m2"}
    assert names("pooled_b", token) == {f"{token}-m3"}

    # COPY (imports write through it), in autocommit and inside a transaction.
    with a.cursor() as cursor:
        with cursor.cursor.copy("COPY records_searchword (word) FROM STDIN") as copy:
            copy.write_row([f"{token}-c1"])
        with (
            transaction.atomic(using="pooled_a"),
            cursor.cursor.copy("COPY records_searchword (word) FROM STDIN") as copy,
        ):
            copy.write_row([f"{token}-c2"])
    assert names("pooled_a", token) == {f"{token}-m1", f"{token}-m2", f"{token}-c1", f"{token}-c2"}
    assert names("pooled_b", token) == {f"{token}-m3"}

    # A composed query cannot share a query string with set_config: sent after it.
    with a.cursor() as cursor:
        cursor.execute(psycopg.sql.SQL("SELECT current_schema()"))
        assert current_schema(cursor) == tenant_a.schema_name
        with transaction.atomic(using="pooled_a"):
            cursor.execute(psycopg.sql.SQL("SELECT current_schema()"))
            assert current_schema(cursor) == tenant_a.schema_name

    # Transaction control sent as SQL; VACUUM, which no transaction block may hold.
    with b.cursor() as cursor:
        cursor.execute("BEGIN")
        cursor.execute("SELECT current_schema()")
        assert current_schema(cursor) == tenant_b.schema_name
        cursor.execute("COMMIT")
        cursor.execute(f'VACUUM "{tenant_b.schema_name}".records_searchword')
        cursor.execute("SELECT current_schema()")
        assert current_schema(cursor) == tenant_b.schema_name

    # In a failed transaction, the statement fails as it would anyway.
    with transaction.atomic(using="pooled_a"):
        raw = a.connection.cursor()
        with pytest.raises(psycopg.errors.DivisionByZero):
            raw.execute("SELECT 1/0")
        with pytest.raises(psycopg.errors.InFailedSqlTransaction):
            raw.execute("SELECT 1")
        a.set_rollback(True)

    # Session state a pooler cannot keep is reported.
    with caplog.at_level(logging.WARNING, logger="kestrel.tenants"), a.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [4242])
        cursor.execute("SELECT pg_advisory_unlock(%s)", [4242])
        cursor.execute("SET statement_timeout = '5s'")
        cursor.execute("RESET statement_timeout")
        cursor.execute("SET LOCAL statement_timeout = '5s'")  # fine: ends with its transaction
    warned = [r.getMessage() for r in caplog.records if "does not survive" in r.getMessage()]
    assert len(warned) == 2
    assert "pg_try_advisory_lock" in warned[0]
    assert "SET statement_timeout" in warned[1]


def test_server_side_binding_sets_the_schema_with_a_statement_of_its_own(
    alias: Alias, tenant_a: Tenant, tenant_b: Tenant, token: str
) -> None:
    a = alias("pooled_a", server_side_binding=True)
    b = alias("pooled_b")
    a.set_tenant(tenant_a)
    b.set_tenant(tenant_b)
    a.ensure_connection()
    assert isinstance(a.connection.cursor(), ScopedServerBindingCursor)
    write("pooled_a", f"{token}-s1")
    write("pooled_b", f"{token}-s2")
    with transaction.atomic(using="pooled_a"):
        write("pooled_a", f"{token}-s3")
        assert names("pooled_a", token) == {f"{token}-s1", f"{token}-s3"}
    assert names("pooled_a", token) == {f"{token}-s1", f"{token}-s3"}
    assert names("pooled_b", token) == {f"{token}-s2"}


def test_a_cursor_outside_the_backend_runs_statements_unchanged(
    pgbouncer: bouncer_process.PgBouncer,
) -> None:
    # Django's cursor classes are not typed as psycopg's, which they subclass.
    factory: Any = ScopedCursor
    with psycopg.connect(pgbouncer.url(), autocommit=True, cursor_factory=factory) as bare:
        cursor = bare.cursor()
        cursor.execute("SELECT current_setting('search_path')")
        assert current_schema(cursor) == '"$user", public'
        cursor.executemany("SELECT %s", [(1,), (2,)])


def test_requests_of_two_organisations_through_the_pooler(
    pgbouncer: bouncer_process.PgBouncer, tenant_a: Tenant
) -> None:
    """The whole request path, configured as an operator would (DATABASE_URL at the bouncer,
    DATABASE_TRANSACTION_POOLING=true), in a process of its own: two organisations' owners
    search their contacts in turns, with a typo, on the one pooled server connection."""
    script = Path(__file__).with_name("pooled_requests.py")
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": pgbouncer.url(),
        "DATABASE_TRANSACTION_POOLING": "true",
    }
    done = subprocess.run(
        [sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-4000:] + pgbouncer.log_text()
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["engine"] == "tenants.pooling"
    assert len(seen["searches"]) == 8
    for search_seen in seen["searches"]:
        assert search_seen["status"] == 200
        # Each owner finds their own contact despite the typo, never the other's.
        assert search_seen["found"] == (search_seen["who"] == search_seen["searched"])
    assert seen["left"] == 0


def test_the_per_transaction_statement_is_built_once_per_schema(
    alias: Alias, tenant_a: Tenant, tenant_b: Tenant
) -> None:
    a = alias("pooled_a")
    a.set_tenant(tenant_a)
    path, statement = a.scope_sql()
    assert path == f'"{tenant_a.schema_name}", "public"'
    assert statement == (
        f"SELECT pg_catalog.set_config('search_path', '{path}', true), "
        "pg_catalog.set_config('pg_trgm.word_similarity_threshold', '0.3', true); "
    )
    assert a.scope_sql() is a.scope_sql()
    # A worker going through thousands of organisations does not keep them all.
    a._scope_sql.update({(f"t_{i}", True): ("", "") for i in range(1000)})
    a.set_tenant(tenant_b)
    assert a.scope_sql()[0] == f'"{tenant_b.schema_name}", "public"'
    assert len(a._scope_sql) == 1
