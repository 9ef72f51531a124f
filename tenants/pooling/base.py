"""The tenant-aware PostgreSQL backend for a PgBouncer in transaction pooling mode.

django-tenants sets the schema with a session-level `SET search_path`, once per connection.
Behind a transaction-pooling PgBouncer a client's consecutive transactions run on whichever
server connection is free, so that setting stays behind on a server connection that the next
client (another organisation) then uses, and this client's next transaction may run on a
server connection set for someone else. Here nothing session-level is ever set: the schema
and the settings the URL's `options=-c name=value` would have given the session (PgBouncer
refuses that startup parameter) are set with `set_config(..., is_local => true)`, which lasts
until the end of the current transaction, in every transaction that runs a statement:

- in autocommit mode, every statement is sent as one query string together with the
  `set_config` call; PostgreSQL runs a multi-statement query string as one implicit
  transaction, so this costs no extra round trip, and a failing statement rolls it back;
- inside a transaction (`atomic()`), the first statement of the transaction carries it, and
  so does the next statement after the organisation changed or a rollback to a savepoint
  undid it.

Where one query string cannot carry it (server-side parameter binding, `executemany`, COPY,
a composed query), a separate `SELECT set_config(...)` runs first, wrapped in BEGIN / COMMIT
in autocommit mode.

What transaction pooling also asks for is set up here: prepared statements off (psycopg's
`prepare_threshold` None) and no server-side cursors (a named cursor lives on one server
connection), so `.iterator()` fetches in chunks from a client-side result (see
`create_cursor` for the named cursors asked for explicitly). Statements that
keep state in the session (a session-level advisory lock, a plain `SET`) are logged as
warnings: they do not work through a transaction pooler.
"""

from __future__ import annotations

import contextlib
import logging
import re
import shlex
import weakref
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ImproperlyConfigured
from django.db.backends.postgresql.base import Cursor, ServerBindingCursor
from django_tenants.postgresql_backend.base import DatabaseWrapper as TenantDatabaseWrapper
from django_tenants.utils import quote_schema_name
from psycopg import pq

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

logger = logging.getLogger("kestrel.tenants")

IDLE = pq.TransactionStatus.IDLE
INERROR = pq.TransactionStatus.INERROR

# Transaction control sent as SQL: after BEGIN ... ABORT the transaction that carried the
# setting is over (or, for ROLLBACK TO SAVEPOINT, may have lost it); SAVEPOINT and RELEASE
# keep it. None of them needs the setting itself.
_TRANSACTION_CONTROL = re.compile(
    r"\s*(?:(?P<ends>BEGIN|START\s+TRANSACTION|COMMIT|END|ROLLBACK|ABORT)|SAVEPOINT|RELEASE)\b",
    re.IGNORECASE,
)
# Statements PostgreSQL refuses inside a transaction block, implicit ones included: they are
# sent as they are, without the organisation's schema, so they must name their tables with
# the schema (such maintenance belongs on a direct connection anyway).
_NO_TRANSACTION_BLOCK = re.compile(
    r"\s*(?:VACUUM|(?:CREATE|DROP)\s+(?:DATABASE|TABLESPACE)|ALTER\s+SYSTEM|DISCARD|"
    r"(?:CREATE|DROP)\s+(?:UNIQUE\s+)?INDEX\s+CONCURRENTLY|REINDEX\b.*\bCONCURRENTLY|"
    r"(?:CREATE|ALTER|DROP)\s+SUBSCRIPTION)\b",
    re.IGNORECASE | re.DOTALL,
)
# Session state that a transaction pooler cannot keep for one client. SET TIME ZONE (which
# Django sends when the server's zone differs from TIME_ZONE) is left out: PgBouncer tracks
# TimeZone per client and sets it on whichever server connection the client gets. Matched at
# the start of the statement only, and the lock functions looked for only when the statement
# names one, so that long statements (bulk inserts) are not scanned.
_SESSION_STATEMENT = re.compile(
    r"\s*(?:SET\s+(?!LOCAL\b|CONSTRAINTS\b|TRANSACTION\b|TIME\s+ZONE\b)|LISTEN\b|"
    r"CREATE\s+(?:(?:GLOBAL|LOCAL)\s+)?TEMP(?:ORARY)?\s+TABLE\b)",
    re.IGNORECASE,
)
_SESSION_LOCK = re.compile(r"pg_(?:try_)?advisory_lock(?:_shared)?\s*\(", re.IGNORECASE)
_warned: set[str] = set()


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def local_settings(startup_options: str) -> dict[str, str]:
    """The settings of a libpq `options` string ("-c name=value ..."), to be set per
    transaction instead."""
    words = shlex.split(startup_options)
    found: dict[str, str] = {}
    index = 0
    while index < len(words):
        word = words[index]
        if word == "-c" and index + 1 < len(words):
            assignment, index = words[index + 1], index + 2
        elif word.startswith(("-c", "--")):
            assignment, index = word[2:], index + 1
        else:
            raise ImproperlyConfigured(
                f"OPTIONS['options'] {startup_options!r}: only '-c name=value' settings can "
                "be applied per transaction behind a transaction pooler."
            )
        name, equals, value = assignment.partition("=")
        if not equals or not name:
            raise ImproperlyConfigured(f"OPTIONS['options']: {assignment!r} is not name=value.")
        found[name.replace("-", "_")] = value
    return found


class TransactionScope:
    """What one psycopg connection knows about its current transaction: which search path
    it has set there (None: none, or the transaction is over)."""

    def __init__(self, wrapper: DatabaseWrapper) -> None:
        self._wrapper = weakref.ref(wrapper)
        self.set_path: str | None = None

    def path_and_sql(self) -> tuple[str, str]:
        wrapper = self._wrapper()
        if wrapper is None:  # pragma: no cover - the wrapper outlives its connection
            raise ImproperlyConfigured("The connection's database wrapper is gone.")
        return wrapper.scope_sql()


class _ScopedCursorMixin:
    """Sets the organisation's search path (and the per-transaction settings) in the
    transaction every statement runs in; see the module docstring."""

    _conn: Any
    _kestrel_can_prefix = True

    def execute(
        self,
        query: Any,
        params: Any = None,
        *,
        prepare: bool | None = None,
        binary: bool | None = None,
    ) -> Any:
        scope: TransactionScope | None = getattr(self._conn, "kestrel_scope", None)
        if scope is None:
            return super().execute(query, params, prepare=prepare, binary=binary)  # type: ignore[misc]
        status = self._conn.pgconn.transaction_status
        if status == IDLE:
            scope.set_path = None  # whatever ran before, its transaction is over
        text = query if isinstance(query, str) else None
        if text is not None:
            control = _TRANSACTION_CONTROL.match(text)
            if control or _NO_TRANSACTION_BLOCK.match(text) or status == INERROR:
                try:
                    return super().execute(query, params, prepare=prepare, binary=binary)  # type: ignore[misc]
                finally:
                    if control and control.group("ends"):
                        scope.set_path = None
            if _SESSION_STATEMENT.match(text) or (
                "advisory_lock" in text and _SESSION_LOCK.search(text)
            ):
                _warn_session_state(text)
        path, scope_sql = scope.path_and_sql()
        if scope.set_path == path:
            return super().execute(query, params, prepare=prepare, binary=binary)  # type: ignore[misc]
        in_transaction = status != IDLE or not self._conn.autocommit
        if text is not None and self._kestrel_can_prefix and not binary:
            # One query string, so one implicit transaction in autocommit mode; the cursor is
            # then moved past the set_config result to the statement's own.
            prefix = scope_sql if params is None else scope_sql.replace("%", "%%")
            super().execute(prefix + text, params, prepare=False, binary=binary)  # type: ignore[misc]
            self.nextset()  # type: ignore[attr-defined]
            if in_transaction:
                scope.set_path = path
            return self
        if in_transaction:
            super().execute(scope_sql, prepare=False)  # type: ignore[misc]
            scope.set_path = path
            return super().execute(query, params, prepare=prepare, binary=binary)  # type: ignore[misc]
        with self._conn.transaction():
            super().execute(scope_sql, prepare=False)  # type: ignore[misc]
            return super().execute(query, params, prepare=prepare, binary=binary)  # type: ignore[misc]

    @contextlib.contextmanager
    def copy(self, statement: Any, params: Any = None, *, writer: Any = None) -> Iterator[Any]:
        """COPY cannot share a query string: the search path is set first, in a transaction
        of its own around the COPY in autocommit mode."""
        outer = (
            self._conn.transaction()
            if self._conn.autocommit and self._conn.pgconn.transaction_status == IDLE
            else contextlib.nullcontext()
        )
        with outer:
            self.scope_transaction()
            with super().copy(statement, params, writer=writer) as copy:  # type: ignore[misc]
                yield copy

    def scope_transaction(self) -> None:
        """Set the search path in the current transaction (psycopg begins one if need be)
        unless it is set there already: for a statement this cursor does not send."""
        scope: TransactionScope = self._conn.kestrel_scope
        if self._conn.pgconn.transaction_status == IDLE:
            scope.set_path = None
        path, scope_sql = scope.path_and_sql()
        if scope.set_path != path:
            super().execute(scope_sql, prepare=False)  # type: ignore[misc]
            scope.set_path = path

    def executemany(self, query: Any, params_seq: Iterable[Any], *, returning: bool = False) -> Any:
        scope: TransactionScope | None = getattr(self._conn, "kestrel_scope", None)
        if scope is None:
            return super().executemany(query, params_seq, returning=returning)  # type: ignore[misc]
        status = self._conn.pgconn.transaction_status
        if status == IDLE:
            scope.set_path = None
        path, scope_sql = scope.path_and_sql()
        if status != IDLE or not self._conn.autocommit:
            if scope.set_path != path and status != INERROR:
                super().execute(scope_sql, prepare=False)  # type: ignore[misc]
                scope.set_path = path
            return super().executemany(query, params_seq, returning=returning)  # type: ignore[misc]
        with self._conn.transaction():
            super().execute(scope_sql, prepare=False)  # type: ignore[misc]
            return super().executemany(query, params_seq, returning=returning)  # type: ignore[misc]


class ScopedCursor(_ScopedCursorMixin, Cursor):
    """Client-side parameter binding (Django's default): one query string per statement."""


class ScopedServerBindingCursor(_ScopedCursorMixin, ServerBindingCursor):
    """Server-side binding sends one statement per message: the setting goes separately."""

    _kestrel_can_prefix = False


def _warn_session_state(statement: str) -> None:
    key = statement[:80]
    if key not in _warned:
        _warned.add(key)
        logger.warning(
            "Session-level state does not survive a transaction pooler (the next transaction "
            "may run on another server connection): %s",
            key,
        )


class DatabaseWrapper(TenantDatabaseWrapper):
    """django-tenants' backend, with the schema set per transaction instead of per session."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        options = self.settings_dict.setdefault("OPTIONS", {})
        # Settings the URL would have set for the session, applied per transaction instead.
        self.transaction_settings = local_settings(options.get("options", ""))
        # A named (server-side) cursor lives on one server connection, across transactions.
        self.settings_dict["DISABLE_SERVER_SIDE_CURSORS"] = True
        self._scope_sql: dict[tuple[str, bool], tuple[str, str]] = {}

    def get_connection_params(self) -> dict[str, Any]:
        params: dict[str, Any] = super().get_connection_params()
        params.pop("options", None)  # PgBouncer: "unsupported startup parameter: options"
        # A statement prepared on one server connection does not exist on the next one.
        params["prepare_threshold"] = None
        server_side_binding = self.settings_dict["OPTIONS"].get("server_side_binding") is True
        params["cursor_factory"] = (
            ScopedServerBindingCursor if server_side_binding else ScopedCursor
        )
        return params

    def get_new_connection(self, conn_params: dict[str, Any]) -> Any:
        connection = super().get_new_connection(conn_params)
        connection.kestrel_scope = TransactionScope(self)
        return connection

    def scope_sql(self) -> tuple[str, str]:
        """(search path, the statement that sets it and the settings for this transaction)."""
        key = (self.schema_name, self.include_public_schema)
        cached = self._scope_sql.get(key)
        if cached is None:
            if len(self._scope_sql) >= 1000:  # a worker going through every organisation
                self._scope_sql.clear()
            path = ", ".join(quote_schema_name(s) for s in self._get_cursor_search_paths())
            calls = [f"pg_catalog.set_config('search_path', {_literal(path)}, true)"]
            calls += [
                f"pg_catalog.set_config({_literal(name)}, {_literal(value)}, true)"
                for name, value in self.transaction_settings.items()
            ]
            cached = self._scope_sql[key] = (path, "SELECT " + ", ".join(calls) + "; ")
        return cached

    def create_cursor(self, name: str | None = None) -> Any:
        """A named (server-side) cursor, which `chunked_cursor()` asks for even with
        DISABLE_SERVER_SIDE_CURSORS (the record exporter does), is safe inside a transaction:
        the transaction keeps the client on one server connection. Its DECLARE is not sent
        by our cursor class, so the transaction's search path is set first. In autocommit it
        would be WITH HOLD, outliving its transaction on a server connection the next FETCH
        may not get: a client-side cursor is returned instead (the whole result at once)."""
        if name and self.connection.autocommit:
            name = None
        if name:
            with self.connection.cursor() as scoped:
                scoped.scope_transaction()
        return super().create_cursor(name)

    def _handle_search_path(self, cursor: Any = None) -> None:
        """Never a session-level SET: the cursor sets the path in each transaction."""

    def _forget_transaction(self) -> None:
        scope = getattr(self.connection, "kestrel_scope", None)
        if scope is not None:
            scope.set_path = None

    def _commit(self) -> None:
        self._forget_transaction()
        super()._commit()

    def _rollback(self) -> None:
        self._forget_transaction()
        super()._rollback()

    def _savepoint_rollback(self, sid: str) -> None:
        super()._savepoint_rollback(sid)
        self._forget_transaction()

    def _set_autocommit(self, autocommit: bool) -> None:
        self._forget_transaction()
        super()._set_autocommit(autocommit)
