"""`make dev`'s demo: the owner finds a deal a colleague handed over and a mention in a
colleague's note, and real reminders are on their way; seeding sends no email about made-up
history, and seeding again adds nothing."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django_tenants.utils import schema_context

from apps.accounts.models import User
from apps.activities.models import Activity
from apps.notifications.demo import DEMO_OWNER
from apps.notifications.models import Notification
from tenants.models import ScheduledJob, Tenant
from tests.conftest import DemoOrg

pytestmark = pytest.mark.django_db


def _seed() -> None:
    call_command("seed_demo", stdout=io.StringIO(), stderr=io.StringIO())


def test_the_demo_owner_has_an_assignment_a_mention_and_reminders_on_the_way(
    demo_org: DemoOrg,
) -> None:
    # demo_org ran `seed_demo` once (committed); the second seeding below must add nothing.
    tenant = Tenant.objects.get(slug="demo")
    assert tenant == demo_org.tenant
    with schema_context(tenant.schema_name):
        owner = User.objects.get(email=DEMO_OWNER)
        mine = list(Notification.objects.filter(recipient=owner).select_related("actor"))
        by_kind = {n.kind: n for n in mine}
        assert sorted(n.kind for n in mine) == ["assignment", "mention"]
        assignment, mention = by_kind["assignment"], by_kind["mention"]
        # The tour meeting's real reminders are scheduled to ring within minutes.
        tour = Activity.objects.get(subject="Kestrel tour: watch the bell")
        pending = tour.reminders.filter(status="pending", recipient=owner)
        assert pending.count() == 2
        pending_ids = set(pending.values_list("pk", flat=True))
        assert assignment.title.startswith("You were assigned a deal: ")
        assert assignment.actor is not None and assignment.actor.email == "maya@demo.kestrel.test"
        assert assignment.read_at is not None  # one read, so the list shows both states
        assert mention.actor is not None and mention.actor.email == "tom@demo.kestrel.test"
        assert mention.title == "Tom Becker mentioned you in a note: Globex wants a bigger discount"
        assert mention.read_at is None
        # The team heard of the records the owner seeded for them, in the app only.
        lena_told = Notification.objects.filter(
            recipient__email="lena@demo.kestrel.test", kind="assignment"
        )
        assert lena_told.exists()
        count = Notification.objects.count()
    assert not ScheduledJob.objects.filter(schema_name=tenant.schema_name, kind="email").exists()
    assert (
        set(
            ScheduledJob.objects.filter(
                schema_name=tenant.schema_name, kind="reminder"
            ).values_list("object_id", flat=True)
        )
        >= pending_ids
    )
    _seed()
    with schema_context(tenant.schema_name):
        assert Notification.objects.count() == count
