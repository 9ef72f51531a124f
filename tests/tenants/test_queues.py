"""Per-organisation queues (tenants/queues.py): names, sharding, routing, and which queues a
worker should consume. The running worker itself is tested in tests/workers/."""

from __future__ import annotations

import zlib
from types import SimpleNamespace
from typing import Any

import pytest
from django.test import override_settings
from django_tenants.utils import schema_context

from apps.activities.tasks import deliver_due_reminders
from apps.deals.tasks import pipeline_snapshot
from config.celery_app import app
from tenants import services
from tenants.db import connection
from tenants.models import Tenant
from tenants.queues import (
    TenantQueues,
    WrongSchema,
    queue_name,
    route_task,
    tenant_queues,
    tenant_task,
    wanted_queues,
)

REMINDERS_TASK = deliver_due_reminders.name  # tenant_queue = "reminders"
REPORTS_TASK = pipeline_snapshot.name  # tenant_queue = "reports"
PLATFORM_TASK = "tenants.tasks.warm_pool_refill"  # no tenant_queue: the default queue


@override_settings(KESTREL_QUEUE_SHARDS=0)
def test_each_organisation_has_a_queue_of_its_own_per_kind() -> None:
    assert queue_name("t_acme", "reminders") == "t.t_acme.reminders"
    assert queue_name("t_acme", "reports") == "t.t_acme.reports"
    assert tenant_queues("t_acme") == ["t.t_acme.reminders", "t.t_acme.reports"]
    assert tenant_queues("t_acme", ("reports",)) == ["t.t_acme.reports"]


def test_an_unknown_kind_of_queue_is_refused() -> None:
    with pytest.raises(ValueError, match="Unknown queue kind 'emails'"):
        queue_name("t_acme", "emails")


def test_organisation_tasks_declare_a_known_kind_of_queue() -> None:
    assert (deliver_due_reminders.tenant_queue, deliver_due_reminders.ignore_result) == (
        "reminders",
        True,
    )
    assert pipeline_snapshot.tenant_queue == "reports"
    with pytest.raises(ValueError, match="Unknown queue kind 'emails'"):
        tenant_task("emails", name="tests.never_registered")


@override_settings(KESTREL_QUEUE_SHARDS=4)
def test_shards_spread_organisations_over_n_queues_per_kind_the_same_way_everywhere() -> None:
    names = {queue_name(f"t_org{i}", "reminders") for i in range(200)}
    assert names == {f"reminders.s{k}" for k in range(4)}
    # crc32, not hash(): every process (web, beat, each worker) picks the same shard.
    shard = zlib.crc32(b"t_acme") % 4
    assert queue_name("t_acme", "reminders") == f"reminders.s{shard}"
    assert queue_name("t_acme", "reports") == f"reports.s{shard}"


@pytest.mark.django_db
def test_an_organisations_task_goes_to_the_queue_of_the_schema_it_was_sent_from(
    tenant_a: Tenant, tenant_b: Tenant
) -> None:
    task = app.tasks[REMINDERS_TASK]
    for tenant in (tenant_a, tenant_b):
        with schema_context(tenant.schema_name):
            assert route_task(REMINDERS_TASK, (), {}, {}, task=task) == {
                "queue": f"t.{tenant.schema_name}.reminders"
            }
            # Looked up by name when Celery does not pass the task.
            assert route_task(REPORTS_TASK, (), {}, {}) == {
                "queue": f"t.{tenant.schema_name}.reports"
            }


@pytest.mark.django_db
def test_the_schema_carried_by_the_message_wins_over_the_current_one(
    tenant_a: Tenant, tenant_b: Tenant
) -> None:
    """tenant-schemas-celery puts the sender's schema in the headers before routing."""
    options = {"headers": {"_schema_name": tenant_b.schema_name}}
    with schema_context(tenant_a.schema_name):
        assert route_task(REMINDERS_TASK, (), {}, options) == {
            "queue": f"t.{tenant_b.schema_name}.reminders"
        }


@pytest.mark.django_db
def test_platform_tasks_stay_on_the_default_queue(tenant_a: Tenant) -> None:
    assert route_task(PLATFORM_TASK, (), {}, {}) is None
    with schema_context(tenant_a.schema_name):
        assert route_task(PLATFORM_TASK, (), {}, {}) is None
        assert app.amqp.router.route({}, PLATFORM_TASK, (), {})["queue"].name == "default"


@pytest.mark.django_db
def test_an_organisations_task_sent_from_the_public_schema_is_refused() -> None:
    connection.set_schema_to_public()
    with pytest.raises(WrongSchema, match=REMINDERS_TASK):
        route_task(REMINDERS_TASK, (), {}, {})
    with pytest.raises(WrongSchema):
        route_task(REMINDERS_TASK, (), {}, {"headers": {"_schema_name": "public"}})
    # Through the app's own router, as a real send would go (eager tests never route).
    with pytest.raises(WrongSchema):
        app.amqp.router.route({"headers": {"_schema_name": "public"}}, REMINDERS_TASK, (), {})


@pytest.mark.django_db
@override_settings(KESTREL_QUEUE_SHARDS=0)
def test_workers_want_the_active_organisations_queues_only(
    tenant_a: Tenant, tenant_b: Tenant
) -> None:
    both = set(tenant_queues(tenant_a.schema_name)) | set(tenant_queues(tenant_b.schema_name))
    assert both <= wanted_queues()
    assert f"t.{tenant_a.schema_name}.reports" in wanted_queues(("reports",))
    assert f"t.{tenant_a.schema_name}.reminders" not in wanted_queues(("reports",))

    services.tenant_suspend(tenant=tenant_b, actor="test")
    wanted = wanted_queues()
    assert set(tenant_queues(tenant_a.schema_name)) <= wanted
    assert not set(tenant_queues(tenant_b.schema_name)) & wanted
    assert not any(".public." in name for name in wanted)


class RecordingConsumer:
    """Stands in for Celery's consumer: records the queues the step adds and cancels."""

    def __init__(self) -> None:
        self.added: list[str] = []
        self.cancelled: list[str] = []

    def add_task_queue(self, name: str) -> None:
        self.added.append(name)

    def cancel_task_queue(self, name: str) -> None:
        self.cancelled.append(name)


@pytest.mark.django_db
@override_settings(KESTREL_QUEUE_SHARDS=0)
def test_the_worker_step_adds_new_and_drops_suspended_organisations_queues(
    tenant_a: Tenant, tenant_b: Tenant
) -> None:
    step = TenantQueues(SimpleNamespace(), tenant_queues="reports")
    consumer: Any = RecordingConsumer()
    a_reports, b_reports = f"t.{tenant_a.schema_name}.reports", f"t.{tenant_b.schema_name}.reports"

    step.refresh(consumer)
    assert {a_reports, b_reports} <= set(consumer.added)
    assert not any(name.endswith(".reminders") for name in consumer.added)
    assert consumer.cancelled == []

    consumer.added.clear()
    step.refresh(consumer)  # nothing changed: nothing re-added
    assert consumer.added == [] and consumer.cancelled == []

    services.tenant_suspend(tenant=tenant_b, actor="test")
    step.refresh(consumer)
    assert consumer.cancelled == [b_reports]

    services.tenant_resume(tenant=tenant_b, actor="test")
    step.refresh(consumer)
    assert consumer.added == [b_reports]


def test_a_worker_started_with_no_organisation_queues_serves_none() -> None:
    assert TenantQueues(SimpleNamespace(), tenant_queues="none").kinds == ()
    assert TenantQueues(SimpleNamespace(), tenant_queues=" reports , bogus").kinds == ("reports",)
    assert TenantQueues(SimpleNamespace()).kinds == ("reminders", "reports")
