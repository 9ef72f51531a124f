"""Migrating many schemas: skip the ones already up to date, migrate the rest in parallel
worker processes, stop cleanly at the first failure.

- What every schema should hold is read once from the migration files (the graph's nodes);
  what each schema holds is read from its `django_migrations` in a few batched queries. A
  schema holding every migration is left alone: no `migrate` (and none of its per-schema
  cost) runs there.
- The others are migrated by Django's `migrate` in a pool of forked worker processes (one
  database connection each), one schema per task. A schema's pending migrations run in one
  transaction when all of them are atomic, so a schema is either fully migrated or left as
  it was; PostgreSQL rolls DDL back with everything else.
- At most one task per worker is handed out at a time. After a failure no further schema is
  started; the ones in flight finish (or roll back), and the caller gets every failure with
  the schema it happened in. Running again picks up where it stopped, because finished
  schemas are up to date and skipped.
- Within a worker, the model states Django renders for every schema are computed once per
  distinct set of applied migrations and reused (below): a thousand schemas at the same point
  cost one state rendering per worker, not a thousand, and per schema only the SQL remains.
"""

from __future__ import annotations

import contextlib
import io
import multiprocessing
import os
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import connections, transaction
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.migration import Migration
from django.db.migrations.recorder import MigrationRecorder
from django.db.migrations.state import ProjectState
from django_tenants.utils import get_tenant_base_migrate_command_class

MigrationKey = tuple[str, str]

# Schemas whose django_migrations are read in one query.
READ_BATCH = 250


@dataclass(frozen=True)
class Target:
    """A schema to bring up to date, and how to name it to an operator."""

    schema_name: str
    label: str


@dataclass(frozen=True)
class Outcome:
    target: Target
    ok: bool
    seconds: float
    output: str = ""
    error: str = ""


@dataclass
class Report:
    up_to_date: list[Target] = field(default_factory=list)
    migrated: list[Outcome] = field(default_factory=list)
    failed: list[Outcome] = field(default_factory=list)
    not_started: list[Target] = field(default_factory=list)
    seconds: float = 0.0


@dataclass(frozen=True)
class Expected:
    """Every migration a fully migrated schema records (a squashed migration counts as
    applied when all the migrations it replaces are), and which of them are atomic."""

    nodes: dict[MigrationKey, tuple[MigrationKey, ...]]
    non_atomic: frozenset[MigrationKey]

    def missing(self, applied: frozenset[MigrationKey]) -> list[MigrationKey]:
        return [
            key
            for key, replaces in self.nodes.items()
            if key not in applied and not (replaces and all(r in applied for r in replaces))
        ]


def expected_migrations() -> Expected:
    """Read from the migration files only (no database)."""
    loader = MigrationLoader(None, ignore_no_migrations=True)
    nodes = {key: tuple(migration.replaces or ()) for key, migration in loader.graph.nodes.items()}
    non_atomic = frozenset(
        key for key, migration in loader.graph.nodes.items() if not migration.atomic
    )
    return Expected(nodes=nodes, non_atomic=non_atomic)


def _quote(name: str) -> str:
    return connections["default"].ops.quote_name(name)


def applied_by_schema(
    schema_names: Sequence[str], *, using: str = "default"
) -> dict[str, frozenset[MigrationKey]]:
    """The applied migrations of every schema, in a query per READ_BATCH schemas. A schema
    without a migration table (or missing altogether) maps to an empty set."""
    connection = connections[using]
    result: dict[str, frozenset[MigrationKey]] = {name: frozenset() for name in schema_names}
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE c.relname = 'django_migrations' AND c.relkind = 'r' "
            "AND n.nspname = ANY(%s)",
            [list(schema_names)],
        )
        with_table = [row[0] for row in cursor.fetchall()]
        for start in range(0, len(with_table), READ_BATCH):
            batch = with_table[start : start + READ_BATCH]
            sql = " UNION ALL ".join(
                f"SELECT %s, app, name FROM {_quote(name)}.django_migrations" for name in batch
            )
            cursor.execute(sql, batch)
            found: dict[str, set[MigrationKey]] = {name: set() for name in batch}
            for schema_name, app, name in cursor.fetchall():
                found[schema_name].add((app, name))
            for name, keys in found.items():
                result[name] = frozenset(keys)
    return result


def pending(
    targets: Sequence[Target], expected: Expected | None = None
) -> list[tuple[Target, list[MigrationKey]]]:
    """The targets that miss at least one migration, each with what it misses, in order."""
    expected = expected or expected_migrations()
    applied = applied_by_schema([target.schema_name for target in targets])
    out = []
    for target in targets:
        missing = expected.missing(applied[target.schema_name])
        if missing:
            out.append((target, missing))
    return out


# --- inside a worker process ----------------------------------------------------------------
#
# Django rebuilds the models' state from scratch in every schema: the state after the applied
# migrations, then, operation by operation, the state each pending migration leads to, then the
# final state the post-migrate signal gets. All of it depends only on which migrations are
# applied, never on the schema, so a worker computes it for the first schema of a kind and
# hands clones (sharing the rendered models, as Django's own clones do) to the next ones; only
# the SQL runs again. States carry the set of migrations they stand for in `_applied_key`.

_original_create_project_state = MigrationExecutor._create_project_state  # type: ignore[attr-defined]
_original_apply = Migration.apply
_original_clone = ProjectState.clone
_states: dict[frozenset[MigrationKey], ProjectState] = {}
_Steps = tuple[list[tuple[ProjectState, ProjectState]], ProjectState]
_applies: dict[tuple[frozenset[MigrationKey], MigrationKey], _Steps] = {}
KEY = "_applied_key"


def _keyed(state: ProjectState, key: frozenset[MigrationKey]) -> ProjectState:
    setattr(state, KEY, key)
    return state


def _clone_keeping_key(self: ProjectState) -> ProjectState:
    clone = _original_clone(self)
    key = getattr(self, KEY, None)
    return clone if key is None else _keyed(clone, key)


def _cached_create_project_state(
    self: MigrationExecutor, with_applied_migrations: bool = False
) -> ProjectState:
    if not with_applied_migrations:
        return _original_create_project_state(self, with_applied_migrations)
    key = frozenset(self.loader.applied_migrations)
    state = _states.get(key)
    if state is None:
        state = _original_create_project_state(self, True)
        state.apps  # noqa: B018  # render once; clones reuse the rendered models
        _states[key] = _keyed(state, key)
    return state.clone()


def _cached_apply(
    self: Migration,
    project_state: ProjectState,
    schema_editor: BaseDatabaseSchemaEditor,
    collect_sql: bool = False,
) -> ProjectState:
    """`Migration.apply` with the states before and after each operation remembered."""
    key = getattr(project_state, KEY, None)
    if key is None or collect_sql:
        return _original_apply(self, project_state, schema_editor, collect_sql)
    migration_key = (self.app_label, self.name)
    cached = _applies.get((key, migration_key))
    if cached is None:
        steps = []
        state = project_state.clone()
        for operation in self.operations:
            before = state.clone()
            operation.state_forwards(self.app_label, state)
            steps.append((before, state.clone()))
        # What the post-migrate signal will want: every model rendered, none delayed.
        state.clear_delayed_apps_cache()
        state.apps  # noqa: B018
        state.is_delayed = False
        cached = (steps, _keyed(state, key | {migration_key}))
        _applies[(key, migration_key)] = cached
    steps, final = cached
    for operation, (before, after) in zip(self.operations, steps, strict=True):
        atomic_operation = operation.atomic or (self.atomic and operation.atomic is not False)
        if not schema_editor.atomic_migration and atomic_operation:
            with transaction.atomic(schema_editor.connection.alias):
                operation.database_forwards(self.app_label, schema_editor, before, after)
        else:
            operation.database_forwards(self.app_label, schema_editor, before, after)
    return final.clone()


def _has_table(self: MigrationRecorder) -> bool:
    """Django's `MigrationRecorder.has_table`, by one catalog lookup on the search path
    instead of listing every table visible on it: that list query reads the whole of
    pg_class, which holds every schema's tables (seconds, with thousands of schemas)."""
    if self._has_table:  # type: ignore[attr-defined]
        return True
    with self.connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [self.Migration._meta.db_table])
        row = cursor.fetchone()
    found = bool(row and row[0])
    self._has_table = found  # type: ignore[attr-defined]
    return found


@contextlib.contextmanager
def fast_migrations() -> Iterator[None]:
    """Install the state caches and the cheap migration-table lookup (inherited by forked
    workers)."""
    original_has_table = MigrationRecorder.has_table
    MigrationExecutor._create_project_state = _cached_create_project_state  # type: ignore[attr-defined]
    Migration.apply = _cached_apply  # type: ignore[method-assign]
    ProjectState.clone = _clone_keeping_key  # type: ignore[method-assign]
    MigrationRecorder.has_table = _has_table  # type: ignore[method-assign]
    try:
        yield
    finally:
        MigrationExecutor._create_project_state = _original_create_project_state  # type: ignore[attr-defined]
        Migration.apply = _original_apply  # type: ignore[method-assign]
        ProjectState.clone = _original_clone  # type: ignore[method-assign]
        MigrationRecorder.has_table = original_has_table  # type: ignore[method-assign]
        _states.clear()
        _applies.clear()


def migrate_schema(
    target: Target, args: Sequence[Any], options: dict[str, Any], atomic: bool
) -> Outcome:
    """Run Django's `migrate` in one schema, in one transaction when `atomic`. Returns the
    outcome instead of raising, so a failure reaches the parent with its schema named."""
    using = options.get("database") or "default"
    connection = connections[using]
    out = io.StringIO()
    started = time.perf_counter()
    try:
        # The migration table must exist in the schema itself before migrate looks for it,
        # or it would find the public schema's.
        connection.set_schema(target.schema_name, include_public=False)  # type: ignore[attr-defined]
        MigrationRecorder(connection).ensure_schema()
        connection.set_schema(target.schema_name)  # type: ignore[attr-defined]
        command = get_tenant_base_migrate_command_class()(stdout=out, stderr=out)
        # The command's own defaults for whatever the caller left out (as call_command does).
        defaults = vars(command.create_parser("manage.py", "migrate").parse_args([]))
        scope = transaction.atomic(using=using) if atomic else contextlib.nullcontext()
        with scope:
            command.execute(*args, **{**defaults, **options, "skip_checks": True})
    except BaseException as exc:  # reported with its schema, then stop
        connection.close()
        message = f"{type(exc).__name__}: {exc}".strip()
        return Outcome(target, False, time.perf_counter() - started, out.getvalue(), message)
    finally:
        with contextlib.suppress(Exception):
            connection.set_schema_to_public()  # type: ignore[attr-defined]
    return Outcome(target, True, time.perf_counter() - started, out.getvalue())


def fresh_connections_after_fork() -> None:
    """A forked worker's first step: new, unopened database wrappers for every alias. The
    inherited ones may hold the parent's open socket (`connections.close_all()` before the
    fork reaches only the storage of the caller's thread or context: with an event loop in
    the parent's thread, e.g. a browser driver's, Django keeps connections per context), and
    two processes on one socket corrupt both sessions. The inherited wrappers are dropped,
    never closed: closing would end the parent's session."""
    for alias in connections:
        connections[alias] = connections.create_connection(alias)


def _worker_migrate(job: tuple[Target, tuple[Any, ...], dict[str, Any], bool]) -> Outcome:
    target, args, options, atomic = job
    return migrate_schema(target, args, options, atomic)


# --- in the command's process ---------------------------------------------------------------


def default_processes() -> int:
    """TENANT_MIGRATION_PROCESSES, else one per CPU this process may use, between 2 and 4
    (a container's CPU quota is invisible here, and each process holds a connection)."""
    configured = int(getattr(settings, "TENANT_MIGRATION_PROCESSES", 0) or 0)
    if configured > 0:
        return configured
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        cpus = os.cpu_count() or 2
    return min(4, max(2, cpus))


def migrate_many(
    targets: Sequence[Target],
    *,
    args: Sequence[Any] = (),
    options: dict[str, Any] | None = None,
    processes: int | None = None,
    skip_up_to_date: bool = True,
    on_outcome: Callable[[Outcome, int, int], None] | None = None,
) -> Report:
    """Bring every target up to date; see the module docstring. `on_outcome(outcome, done,
    total)` is called in this process as each schema finishes."""
    started = time.perf_counter()
    # The caller's output streams stay in this process; each worker captures its own.
    options = {k: v for k, v in (options or {}).items() if k not in ("stdout", "stderr")}
    processes = processes or default_processes()
    report = Report()
    expected = expected_migrations()
    if skip_up_to_date:
        todo = pending(targets, expected)
        waiting = {target for target, _ in todo}
        report.up_to_date = [target for target in targets if target not in waiting]
    else:
        todo = [(target, list(expected.nodes)) for target in targets]
    if not todo:
        report.seconds = time.perf_counter() - started
        return report

    jobs = [
        (target, tuple(args), options, not any(key in expected.non_atomic for key in missing))
        for target, missing in todo
    ]
    # Forked workers must not share the parent's database connection.
    connections.close_all()
    with fast_migrations():
        report_outcomes(jobs, processes, report, on_outcome)
    report.seconds = time.perf_counter() - started
    return report


def report_outcomes(
    jobs: list[tuple[Target, tuple[Any, ...], dict[str, Any], bool]],
    processes: int,
    report: Report,
    on_outcome: Callable[[Outcome, int, int], None] | None,
) -> None:
    total = len(jobs)
    queue: Iterator[tuple[Target, tuple[Any, ...], dict[str, Any], bool]] = iter(jobs)
    in_flight: dict[Future[Outcome], Target] = {}
    done = 0
    context = multiprocessing.get_context("fork")
    pool = ProcessPoolExecutor(
        max_workers=min(processes, total),
        mp_context=context,
        initializer=fresh_connections_after_fork,
    )
    try:

        def hand_out() -> None:
            while len(in_flight) < processes and not report.failed:
                job = next(queue, None)
                if job is None:
                    return
                in_flight[pool.submit(_worker_migrate, job)] = job[0]

        hand_out()
        while in_flight:
            finished, _ = wait(in_flight, return_when=FIRST_COMPLETED)
            for future in finished:
                target = in_flight.pop(future)
                try:
                    outcome = future.result()
                except BrokenProcessPool as exc:
                    outcome = Outcome(target, False, 0.0, "", f"worker process died: {exc}")
                done += 1
                (report.migrated if outcome.ok else report.failed).append(outcome)
                if on_outcome is not None:
                    on_outcome(outcome, done, total)
            hand_out()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    report.not_started = [job[0] for job in queue]


def targets_in_order(rows: Iterable[tuple[str, str]]) -> list[Target]:
    """Targets for organisations given as (slug, schema_name) rows."""
    return [
        Target(schema_name=schema_name, label=f"organisation {slug} (schema {schema_name})")
        for slug, schema_name in rows
    ]
