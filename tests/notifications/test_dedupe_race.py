"""Two transactions recording the same event at the same moment, each in its own connection,
outside the test transaction (so both really commit): the unique key lets exactly one through,
and the other caller gets None, not an error. What it records is deleted afterwards."""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

from django.db import transaction
from django_tenants.utils import schema_context

from apps.accounts.models import User
from apps.notifications import services
from apps.notifications.models import Notification
from tenants.db import connection
from tenants.models import ScheduledJob, Tenant


def test_concurrent_notifies_with_one_key_record_one(
    django_db_setup: None, django_db_blocker: Any, tenant_a: Tenant
) -> None:
    key = f"race:{uuid.uuid4().hex}"
    start = threading.Barrier(2)
    results: list[Any] = []
    failures: list[BaseException] = []

    def record() -> None:
        try:
            with schema_context(tenant_a.schema_name):
                recipient = User.objects.get(email="owner@alpha.test")
                with transaction.atomic():
                    start.wait(timeout=30)
                    results.append(
                        services.notify(
                            recipient=recipient, kind="reminder", title="Race", dedupe_key=key
                        )
                    )
                    time.sleep(0.3)  # hold the row until the other one has tried
        except BaseException as exc:  # reported below with the thread's own error
            failures.append(exc)
        finally:
            connection.close()

    with django_db_blocker.unblock():
        threads = [threading.Thread(target=record) for _ in range(2)]
        try:
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=60)
            assert not failures, failures
            assert sorted(r is None for r in results) == [False, True]
            with schema_context(tenant_a.schema_name):
                assert Notification.objects.filter(dedupe_key=key).count() == 1
        finally:
            with schema_context(tenant_a.schema_name):
                ids = list(Notification.objects.filter(dedupe_key=key).values_list("pk", flat=True))
                Notification.objects.filter(pk__in=ids).delete()
            ScheduledJob.objects.filter(
                schema_name=tenant_a.schema_name, kind="email", object_id__in=ids
            ).delete()
