"""An organisation's task (tenants.queues.tenant_task) runs only in an organisation's schema.
A worker routes it by the sender's schema and refuses to send it from public, but an eager
`.delay()` skips the router: the task itself refuses to run in the public schema."""

from __future__ import annotations

import logging

import pytest
from django_tenants.utils import schema_context

from apps.activities.tasks import deliver_due_reminders
from apps.deals.tasks import pipeline_snapshot
from apps.notifications.tasks import deliver_due_emails
from config.celery_app import app
from tenants.db import connection
from tenants.models import Tenant
from tenants.queues import WrongSchema

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("task", [deliver_due_reminders, deliver_due_emails, pipeline_snapshot])
def test_an_organisations_task_sent_eagerly_from_public_refuses_to_run_there(task: object) -> None:
    assert app.conf.task_always_eager  # the case the router never sees
    connection.set_schema_to_public()
    name = getattr(task, "name")  # noqa: B009  # Celery's proxy
    with pytest.raises(WrongSchema, match=rf"^{name} is an organisation's task and ran in the "):
        task.delay()  # type: ignore[attr-defined]
    with pytest.raises(WrongSchema, match=name):
        task()  # type: ignore[operator]  # called directly, no Celery at all


def test_in_an_organisations_schema_it_runs_as_before(tenant_a: Tenant) -> None:
    with schema_context(tenant_a.schema_name):
        assert deliver_due_reminders.delay().get() >= 0
        assert "pipelines" in pipeline_snapshot.delay().get()


def test_a_message_from_an_organisation_deleted_since_is_dropped_not_run_in_public(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """What a worker sees when a shared shard queue still holds a deleted organisation's
    message: the schema named in the message is gone, so the task starts in public."""
    connection.set_schema_to_public()
    with caplog.at_level(logging.WARNING, logger="tenants.queues"):
        result = deliver_due_reminders.apply(headers={"_schema_name": "t_deleted_long_ago"})
    assert result.successful() and result.get() is None
    assert (
        f"{deliver_due_reminders.name} dropped: organisation t_deleted_long_ago no longer exists"
        in caplog.messages
    )
