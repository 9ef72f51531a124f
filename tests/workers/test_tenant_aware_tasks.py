"""A real worker runs every kind of task in the schema of the organisation that sent it:
plain, retried, chained, chorded, routed to the organisation's own queue, and fanned out
from the public schema to every organisation."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from celery import chain, chord
from django_tenants.utils import schema_context

from tenants.queues import WrongSchema, queue_name
from tests.workers import probe_tasks
from tests.workers.conftest import CeleryWorker, Organisations, RedisServer, probe_records

pytestmark = pytest.mark.worker


def new_run() -> str:
    return uuid.uuid4().hex


@pytest.fixture
def two_orgs(organisations: Organisations) -> tuple[Any, Any]:
    return organisations.make("a"), organisations.make("b")


def schemas_by_label(records: list[dict[str, Any]]) -> dict[str, str]:
    return {r["label"]: r["schema"] for r in records}


def test_plain_task_runs_in_the_senders_schema(
    celery_worker: CeleryWorker, redis_server: RedisServer, two_orgs: tuple[Any, Any]
) -> None:
    run = new_run()
    for org in two_orgs:
        with schema_context(org.schema_name):
            probe_tasks.record.delay(run, org.schema_name)
    probe_tasks.record.delay(run, "public")  # platform work stays in the public schema

    records = probe_records(redis_server, run, 3)
    assert schemas_by_label(records) == {
        two_orgs[0].schema_name: two_orgs[0].schema_name,
        two_orgs[1].schema_name: two_orgs[1].schema_name,
        "public": "public",
    }
    assert {r["queue"] for r in records} == {"default"}


def test_retried_task_runs_again_in_the_senders_schema(
    celery_worker: CeleryWorker, redis_server: RedisServer, two_orgs: tuple[Any, Any]
) -> None:
    run = new_run()
    for org in two_orgs:
        with schema_context(org.schema_name):
            probe_tasks.retry_once.delay(run, org.schema_name)

    records = probe_records(redis_server, run, 2)
    assert {r["label"]: (r["schema"], r["retries"]) for r in records} == {
        org.schema_name: (org.schema_name, 1) for org in two_orgs
    }


def test_chain_links_run_in_the_senders_schema(
    celery_worker: CeleryWorker, redis_server: RedisServer, two_orgs: tuple[Any, Any]
) -> None:
    run = new_run()
    for org in two_orgs:
        with schema_context(org.schema_name):
            chain(
                probe_tasks.chain_link.s(None, run, f"{org.schema_name}:1"),
                probe_tasks.chain_link.s(run, f"{org.schema_name}:2"),
                probe_tasks.chain_link.s(run, f"{org.schema_name}:3"),
            ).delay()

    records = probe_records(redis_server, run, 6)
    assert len(records) == 6
    for r in records:
        schema = r["label"].split(":")[0]
        assert r["schema"] == schema, r
        # Each link was handed the schema the link before it ran in.
        assert r["previous"] == (None if r["label"].endswith(":1") else schema), r


def test_chord_header_and_body_run_in_the_senders_schema(
    celery_worker: CeleryWorker, redis_server: RedisServer, two_orgs: tuple[Any, Any]
) -> None:
    run = new_run()
    results = []
    for org in two_orgs:
        with schema_context(org.schema_name):
            header = [probe_tasks.record.s(run, f"{org.schema_name}:h{i}") for i in range(3)]
            body = probe_tasks.chord_body.s(run, f"{org.schema_name}:body")
            results.append((org, chord(header)(body)))

    for org, result in results:
        assert result.get(timeout=15) == org.schema_name
    records = probe_records(redis_server, run, 8)
    assert len(records) == 8
    for r in records:
        assert r["schema"] == r["label"].split(":")[0], r
        if r["label"].endswith(":body"):
            assert r["header"] == [r["schema"]] * 3


def test_organisation_task_goes_to_that_organisations_queue(
    celery_worker: CeleryWorker, redis_server: RedisServer, two_orgs: tuple[Any, Any]
) -> None:
    run = new_run()
    for org in two_orgs:
        with schema_context(org.schema_name):
            probe_tasks.report.delay(run, org.schema_name)

    records = probe_records(redis_server, run, 2)
    assert {r["label"]: (r["schema"], r["queue"]) for r in records} == {
        org.schema_name: (org.schema_name, queue_name(org.schema_name, "reports"))
        for org in two_orgs
    }


def test_organisation_task_sent_from_the_public_schema_is_refused(
    celery_client: Any, redis_server: RedisServer
) -> None:
    with pytest.raises(WrongSchema):
        probe_tasks.report.delay(new_run(), "public")
    with pytest.raises(WrongSchema):
        celery_client.send_task("probe.report", args=[new_run(), "public"])
    # Nothing was queued for a "public organisation".
    assert redis_server.client().exists(queue_name("public", "reports")) == 0


def test_fan_out_from_public_reaches_every_active_organisation_in_its_own_schema(
    celery_worker: CeleryWorker, redis_server: RedisServer, two_orgs: tuple[Any, Any]
) -> None:
    from tenants.queues import active_schemas

    run = new_run()
    probe_tasks.fan_out.delay(run)
    expected = active_schemas()
    assert {org.schema_name for org in two_orgs} <= set(expected)

    records = probe_records(redis_server, run, 1 + len(expected))
    dispatcher = [r for r in records if r["label"] == "fan-out:dispatcher"]
    assert [(r["schema"], r["queue"]) for r in dispatcher] == [("public", "default")]
    sent = {
        r["label"].removeprefix("fan-out:"): (r["schema"], r["queue"])
        for r in records
        if r not in dispatcher
    }
    assert sent == {schema: (schema, queue_name(schema, "reports")) for schema in expected}


def test_products_fan_out_reaches_every_active_organisation_in_its_own_schema(
    celery_worker: CeleryWorker, redis_server: RedisServer, two_orgs: tuple[Any, Any]
) -> None:
    """tenants.tasks.fan_out, as beat sends it (from the public schema, to the default
    queue), with a probe in place of the product's task."""
    from tenants.queues import active_schemas
    from tenants.tasks import fan_out

    redis_server.client().delete(probe_tasks.probe_key(probe_tasks.FAN_OUT_RUN))
    fan_out.delay("tests.workers.probe_tasks.report_here")
    expected = active_schemas()

    records = probe_records(redis_server, probe_tasks.FAN_OUT_RUN, len(expected))
    assert sorted((r["label"], r["schema"], r["queue"]) for r in records) == [
        (schema, schema, queue_name(schema, "reports")) for schema in sorted(expected)
    ]
