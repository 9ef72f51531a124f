"""`migrate_schemas` across many organisations: up-to-date schemas are skipped, the others are
migrated by worker processes, a failure in one organisation stops the run cleanly and names
it, and running again finishes the rest.

The workers are other processes and see only committed rows, so these tests use committed
organisations (made through the provisioning service, deleted when the test ends) and the
database in autocommit, like the tests with real Celery workers.

A pending migration is made by migrating an organisation back to before the latest
activities migration (`activities.0006_report_covering_indexes`, nothing depends on it): it
drops the index `activity_when_cover` and turns `activity_owner_when` back into an index
without INCLUDE columns. Its conflict is an unrelated index planted under the name the
migration's last operation creates, so the migration fails after its first two operations
ran: the test can tell a schema rolled back from one left half-done.
"""

from __future__ import annotations

import io
import os
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from tenants import migrating, provisioning
from tenants.db import connection
from tenants.models import Tenant

LATEST = ("activities", "0006_report_covering_indexes")
BEFORE = "0005_report_indexes"


class Organisations:
    def __init__(self) -> None:
        self.made: list[Tenant] = []

    def make(self, label: str) -> Tenant:
        slug = f"m{uuid.uuid4().hex[:8]}-{label}"
        tenant = provisioning.tenant_provision(
            slug=slug,
            name=f"Migration test {label}",
            owner_email=f"owner@{slug}.test",
            use_pool=False,
        ).tenant
        self.made.append(tenant)
        return tenant


@pytest.fixture
def organisations(django_db_setup: None, django_db_blocker: Any) -> Iterator[Organisations]:
    from tenants import services

    with django_db_blocker.unblock():
        connection.set_schema_to_public()
        made = Organisations()
        try:
            yield made
        finally:
            connection.set_schema_to_public()
            for tenant in Tenant.objects.filter(pk__in=[t.pk for t in made.made]):
                services.tenant_delete(tenant=tenant, confirmation=tenant.slug, actor="test")


def fetch(sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params or [])
        return list(cursor.fetchall())


def unapply_latest(tenant: Tenant) -> None:
    call_command(
        "migrate_schemas", *LATEST[:1], BEFORE, schema_name=tenant.schema_name, verbosity=0
    )
    assert state(tenant) == "before"


def execute(sql: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql)


def plant_conflict(tenant: Tenant) -> None:
    execute(f'CREATE INDEX activity_when_cover ON "{tenant.schema_name}".contacts_contact (id)')


def drop_conflict(tenant: Tenant) -> None:
    execute(f'DROP INDEX "{tenant.schema_name}".activity_when_cover')


def state(tenant: Tenant) -> str:
    """ "after" (migration recorded, both indexes as it makes them), "before" (not recorded,
    indexes as before it), or "half-done" (anything else)."""
    recorded = bool(
        fetch(
            f'SELECT 1 FROM "{tenant.schema_name}".django_migrations WHERE app = %s AND name = %s',
            list(LATEST),
        )
    )
    indexes = dict(
        fetch(
            "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = %s "
            "AND tablename = 'activities_activity' "
            "AND indexname IN ('activity_owner_when', 'activity_when_cover')",
            [tenant.schema_name],
        )
    )
    owner_when = indexes.get("activity_owner_when", "")
    if recorded and "INCLUDE" in owner_when and "activity_when_cover" in indexes:
        return "after"
    if not recorded and owner_when and "INCLUDE" not in owner_when and len(indexes) == 1:
        return "before"
    return "half-done"


def run(**options: Any) -> str:
    out = io.StringIO()
    call_command("migrate_schemas", interactive=False, stdout=out, **options)
    connection.set_schema_to_public()
    return out.getvalue()


def organisation_schemas() -> int:
    return Tenant.objects.exclude(schema_name="public").count()


def test_a_no_op_run_reports_every_schema_up_to_date_and_migrates_none(
    organisations: Organisations,
) -> None:
    first, second = organisations.make("one"), organisations.make("two")
    stamps = {
        tenant.schema_name: fetch(
            f'SELECT count(*), max(applied) FROM "{tenant.schema_name}".django_migrations'
        )
        for tenant in (first, second)
    }

    output = run(processes=2)

    # Every organisation and the template, none migrated.
    assert f"Schemas: {organisation_schemas() + 1} up to date, 0 migrated, 0 failed" in output
    assert "migrated organisation" not in output
    for tenant in (first, second):
        assert state(tenant) == "after"
        after = fetch(
            f'SELECT count(*), max(applied) FROM "{tenant.schema_name}".django_migrations'
        )
        assert after == stamps[tenant.schema_name]


def test_pending_organisations_are_migrated_in_parallel_and_others_left_alone(
    organisations: Organisations,
) -> None:
    behind = [organisations.make(f"behind{i}") for i in range(3)]
    current = organisations.make("current")
    for tenant in behind:
        unapply_latest(tenant)

    output = run(processes=2)

    assert all(state(tenant) == "after" for tenant in behind)
    for tenant in behind:
        assert f"migrated organisation {tenant.slug} (schema {tenant.schema_name})" in output
    assert f"{current.slug}" not in output
    assert "3 migrated, 0 failed, 0 not started" in output
    assert "Schemas: 0 up to date" not in output


def test_a_failure_stops_cleanly_names_the_organisation_and_a_rerun_finishes(
    organisations: Organisations,
) -> None:
    tenants = [organisations.make(f"org{i}") for i in range(4)]
    broken = tenants[2]
    for tenant in tenants:
        unapply_latest(tenant)
    plant_conflict(broken)

    with pytest.raises(CommandError) as failure:
        run(processes=2)

    message = str(failure.value)
    assert f"organisation {broken.slug} (schema {broken.schema_name})" in message
    assert 'relation "activity_when_cover" already exists' in message
    assert "run migrate_schemas again" in message
    # The broken organisation rolled back whole (its first two operations included); the
    # others are migrated or untouched, never half-done.
    assert state(broken) == "before"
    states = [state(tenant) for tenant in tenants]
    assert "half-done" not in states
    assert states[0] == "after"  # started before the failure, so it finished

    drop_conflict(broken)
    output = run(processes=2)

    assert [state(tenant) for tenant in tenants] == ["after"] * 4
    assert f"{states.count('before')} migrated, 0 failed" in output


def test_no_organisation_is_started_after_a_failure(organisations: Organisations) -> None:
    broken, *later = [organisations.make(f"seq{i}") for i in range(3)]
    for tenant in (broken, *later):
        unapply_latest(tenant)
    plant_conflict(broken)

    with pytest.raises(CommandError, match=broken.slug) as failure:
        run(processes=1)

    assert "2 were not started" in str(failure.value)
    assert [state(tenant) for tenant in (broken, *later)] == ["before"] * 3

    drop_conflict(broken)
    run(processes=1)
    assert [state(tenant) for tenant in (broken, *later)] == ["after"] * 3


def test_schema_shared_and_tenant_options(organisations: Organisations) -> None:
    first, second = organisations.make("first"), organisations.make("second")
    unapply_latest(first)
    unapply_latest(second)

    run(shared=True)
    assert (state(first), state(second)) == ("before", "before")

    output = run(schema_name=first.schema_name)
    assert f"migrated organisation {first.slug}" in output
    assert (state(first), state(second)) == ("after", "before")

    run(tenant=True)
    assert (state(first), state(second)) == ("after", "after")


def test_check_fails_while_an_organisation_is_behind(organisations: Organisations) -> None:
    tenant = organisations.make("check")
    unapply_latest(tenant)

    out = io.StringIO()
    with pytest.raises(SystemExit) as exit_:
        call_command("migrate_schemas", check_unapplied=True, stdout=out)
    assert exit_.value.code == 1
    assert f"organisation {tenant.slug} (schema {tenant.schema_name}): 1 unapplied" in (
        out.getvalue()
    )

    run()
    call_command("migrate_schemas", check_unapplied=True, stdout=io.StringIO())  # no exit


def test_the_library_executor_still_migrates_every_schema(organisations: Organisations) -> None:
    first, second = organisations.make("library1"), organisations.make("library2")
    unapply_latest(first)
    unapply_latest(second)

    run(executor="standard", schema_name=first.schema_name, verbosity=0)
    assert (state(first), state(second)) == ("after", "before")

    run(executor="standard", verbosity=0)
    assert state(second) == "after"


def test_one_schema_by_name(organisations: Organisations) -> None:
    template = provisioning.template_schema()
    output = run(schema_name=template)
    assert "Schemas: 1 up to date, 0 migrated" in output

    with pytest.raises(CommandError, match='Schema "t_nowhere" does not exist'):
        run(schema_name="t_nowhere")


def test_a_worker_runs_migrate_in_one_transaction_and_reuses_model_states(
    organisations: Organisations,
) -> None:
    """What a worker process does, here in the test's own process."""
    first, second, broken = (organisations.make(f"inproc{i}") for i in range(3))
    for tenant in (first, second, broken):
        unapply_latest(tenant)
    plant_conflict(broken)
    options = {"verbosity": 1, "interactive": False, "database": "default"}

    with migrating.fast_migrations():
        outcomes = [
            migrating.migrate_schema(migrating.Target(t.schema_name, t.slug), (), options, True)
            for t in (first, second, broken)
        ]
        # States are remembered per set of applied migrations, for the next schemas.
        assert migrating._states and migrating._applies
    connection.set_schema_to_public()

    assert [outcome.ok for outcome in outcomes] == [True, True, False]
    assert "Applying activities.0006_report_covering_indexes... OK" in outcomes[1].output
    assert 'relation "activity_when_cover" already exists' in outcomes[2].error
    assert [state(t) for t in (first, second, broken)] == ["after", "after", "before"]
    assert not migrating._states  # nothing outlives the run


def test_a_worker_that_dies_fails_the_run_naming_its_schema(
    organisations: Organisations, monkeypatch: pytest.MonkeyPatch
) -> None:
    tenant = organisations.make("dies")

    def die(*args: Any) -> None:
        os._exit(3)  # as the kernel's OOM killer would end it

    monkeypatch.setattr(migrating, "migrate_schema", die)
    report = migrating.migrate_many(
        [migrating.Target(tenant.schema_name, tenant.slug)], skip_up_to_date=False, processes=1
    )
    connection.set_schema_to_public()

    assert [outcome.target.schema_name for outcome in report.failed] == [tenant.schema_name]
    assert "worker process died" in report.failed[0].error


def test_a_squashed_migration_counts_as_applied_when_all_it_replaces_are() -> None:
    expected = migrating.Expected(
        nodes={("a", "0001_squashed_0002"): (("a", "0001"), ("a", "0002")), ("a", "0003"): ()},
        non_atomic=frozenset(),
    )
    assert expected.missing(frozenset({("a", "0001"), ("a", "0002"), ("a", "0003")})) == []
    assert expected.missing(frozenset({("a", "0001_squashed_0002"), ("a", "0003")})) == []
    assert expected.missing(frozenset({("a", "0001"), ("a", "0003")})) == [
        ("a", "0001_squashed_0002")
    ]


def test_worker_processes_come_from_the_setting_else_the_cpus(
    settings: Any,
) -> None:
    settings.TENANT_MIGRATION_PROCESSES = 3
    assert migrating.default_processes() == 3
    settings.TENANT_MIGRATION_PROCESSES = 0
    assert 2 <= migrating.default_processes() <= 4


def _backend_pid_in_child(_: int) -> int:
    return int(fetch("SELECT pg_backend_pid()")[0][0])


def test_a_worker_never_shares_the_parents_open_connection(
    organisations: Organisations,
) -> None:
    """The parent's connection is open when the worker is forked (as when Django keeps it in
    a storage `close_all()` does not reach): the worker opens its own, and the parent's
    session survives."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    parent_pid = int(fetch("SELECT pg_backend_pid()")[0][0])
    with ProcessPoolExecutor(
        max_workers=1,
        mp_context=multiprocessing.get_context("fork"),
        initializer=migrating.fresh_connections_after_fork,
    ) as pool:
        child_pid = pool.submit(_backend_pid_in_child, 0).result()
    assert child_pid != parent_pid
    assert int(fetch("SELECT pg_backend_pid()")[0][0]) == parent_pid
