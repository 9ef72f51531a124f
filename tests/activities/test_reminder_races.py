"""Two workers delivering the same organisation's due reminders at the same moment, each in
its own connection: every reminder is delivered exactly once. Outside the test transaction (so
the two connections see each other's locks), on an organisation of its own."""

from __future__ import annotations

import secrets
import threading
from typing import Any

from django.db import connection
from django_tenants.utils import schema_context

from apps.accounts.models import User
from apps.activities.models import Reminder, ReminderStatus
from apps.activities.tasks import deliver_due_reminders
from apps.notifications.models import Notification
from tenants.models import ScheduledJob
from tenants.provisioning import tenant_provision
from tenants.services import tenant_delete
from tests.activities.test_reminders import _fall_due, _meeting


def test_two_workers_delivering_at_once_send_each_reminder_once(
    django_db_setup: None, django_db_blocker: Any
) -> None:
    """Two delivery tasks running at the same moment in two connections (as two workers
    would) share the due reminders out: SKIP LOCKED means no reminder is taken twice. Runs
    outside the test transaction, on an organisation of its own that is deleted afterwards."""
    slug = f"rem-{secrets.token_hex(3)}"
    with django_db_blocker.unblock():
        org = tenant_provision(
            slug=slug,
            name="Reminder Race Ltd",
            owner_email="owner@race.test",
            owner_password="a-long-owner-password",
            owner_name="Olive Owner",
            use_pool=False,
        )
        schema = org.tenant.schema_name
        try:
            with schema_context(schema):
                owner = User.objects.get(email="owner@race.test")
                for i in range(12):
                    _fall_due(_meeting(owner, subject=f"Call {i}", reminders=[0]))
            barrier = threading.Barrier(2)
            errors: list[BaseException] = []

            def work() -> None:
                try:
                    with schema_context(schema):
                        barrier.wait(timeout=30)
                        deliver_due_reminders.apply()
                except BaseException as exc:  # reported below
                    errors.append(exc)
                finally:
                    connection.close()

            threads = [threading.Thread(target=work) for _ in range(2)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=60)
            assert errors == []
            with schema_context(schema):
                titles = Notification.objects.filter(kind="reminder").values_list(
                    "title", flat=True
                )
                assert sorted(titles) == sorted(f"Meeting now: Call {i}" for i in range(12))
                statuses = set(Reminder.objects.values_list("status", flat=True))
                assert statuses == {ReminderStatus.SENT}
        finally:
            tenant_delete(tenant=org.tenant, confirmation=slug, actor="test")
        assert not ScheduledJob.objects.filter(schema_name=schema).exists()
